//! `ftp://` downloads against a real vsftpd (anonymous, read-only) that each test starts on
//! 127.0.0.1 with a temporary root and stops when it ends. `.ci/run` installs vsftpd; without
//! it these tests fail, they do not skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use durl_fetch::{CancellationToken, Error, ErrorKind, Event, GetRequest, Reporter, RestartReason};

/// A vsftpd serving the files of a temporary directory to anonymous users.
struct Vsftpd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Vsftpd {
    fn start() -> Vsftpd {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&root).unwrap();
        std::fs::create_dir(&empty).unwrap();
        // vsftpd serves anonymous users as `ftp` from inside a chroot: world-readable, and
        // not writable by them.
        for d in [dir.path(), &root, &empty] {
            set_mode(d, 0o755);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.path().join("vsftpd.conf");
        std::fs::write(
            &conf,
            format!(
                "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
                 background=NO\nanonymous_enable=YES\nlocal_enable=NO\nwrite_enable=NO\n\
                 anon_root={root}\nno_anon_password=YES\npasv_enable=YES\n\
                 pasv_min_port=40000\npasv_max_port=49999\npasv_address=127.0.0.1\n\
                 secure_chroot_dir={empty}\nseccomp_sandbox=NO\nxferlog_enable=YES\n\
                 vsftpd_log_file={log}\nmax_per_ip=0\nmax_clients=0\n",
                root = root.display(),
                empty = empty.display(),
                log = dir.path().join("vsftpd.log").display(),
            ),
        )
        .unwrap();
        // Debian installs it in /usr/sbin, which a non-root PATH may lack.
        let program = ["/usr/sbin/vsftpd", "/usr/local/sbin/vsftpd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("vsftpd");
        let child = Command::new(program)
            .arg(&conf)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start vsftpd ({e}): the FTP tests need it; install it with \
                     `apt-get install -y vsftpd` (.ci/run does)"
                )
            });
        let server = Vsftpd { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "vsftpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn put(&self, name: &str, data: &[u8]) {
        let path = self.root().join(name);
        std::fs::write(&path, data).unwrap();
        set_mode(&path, 0o644);
    }

    fn url(&self, name: &str) -> String {
        format!("ftp://127.0.0.1:{}/{name}", self.port)
    }

    /// The byte counts of the completed downloads in vsftpd's log, in order.
    fn downloads(&self) -> Vec<u64> {
        let log = std::fs::read_to_string(self.dir.path().join("vsftpd.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("OK DOWNLOAD"))
            .filter_map(|l| {
                let (_, rest) = l.rsplit_once("\", ")?;
                rest.split(' ').next()?.parse().ok()
            })
            .collect()
    }

    /// [`Self::downloads`] once there are `n` (vsftpd logs right after the transfer).
    fn wait_downloads(&self, n: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let d = self.downloads();
            if d.len() >= n || Instant::now() > deadline {
                return d;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Vsftpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Deterministic, non-repeating test data.
fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Records restarts; cancels the download once `cancel_at` bytes have arrived.
#[derive(Default)]
struct Recorder {
    bytes: AtomicU64,
    cancel_at: Option<(u64, CancellationToken)>,
    restarts: Mutex<Vec<RestartReason>>,
}

impl Reporter for Recorder {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Progress { bytes } => {
                let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
                if let Some((at, token)) = &self.cancel_at
                    && total >= *at
                {
                    token.cancel();
                }
            }
            Event::Restarted { reason } => self.restarts.lock().unwrap().push(reason),
            _ => {}
        }
    }
}

const LEN: usize = 3_000_000;

fn request(server: &Vsftpd, name: &str, out: &Path) -> GetRequest {
    GetRequest::new(&server.url(name))
        .unwrap()
        .output(out)
        .retries(2)
        .retry_delay(Duration::from_millis(50), Duration::from_millis(200))
        .stall_timeout(Duration::from_secs(10))
}

/// Downloads `name` into `out` until `at` bytes have arrived, then cancels: a partial with
/// its state, as a killed run leaves it.
async fn interrupted_at(server: &Vsftpd, name: &str, out: &Path, at: u64) -> u64 {
    let token = CancellationToken::new();
    let reporter = Recorder {
        cancel_at: Some((at, token.clone())),
        ..Recorder::default()
    };
    let req = request(server, name, out)
        .limit_rate(Some(4_000_000))
        .cancel_token(token);
    match durl_fetch::get(&req, &reporter).await {
        Err(Error::Interrupted { durable, .. }) => {
            assert!(durable >= at && durable < LEN as u64, "durable {durable}");
            durable
        }
        other => panic!("expected an interruption, got {other:?}"),
    }
}

fn part_of(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.durl-part", out.display()))
}

fn state_of(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.durl-state", out.display()))
}

#[tokio::test]
async fn downloads_a_file_exactly() {
    let server = Vsftpd::start();
    let body = data(1, LEN);
    server.put("f.bin", &body);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.bin");
    let outcome = durl_fetch::get(&request(&server, "f.bin", &out), &())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert_eq!((outcome.bytes, outcome.fetched), (LEN as u64, LEN as u64));
    assert!(!part_of(&out).exists() && !state_of(&out).exists());
    assert_eq!(server.wait_downloads(1), [LEN as u64]);

    // In a directory, the URL names the file; a second run finds it complete and current.
    let req = GetRequest::new(&server.url("f.bin"))
        .unwrap()
        .dir(dir.path());
    let again = durl_fetch::get(&req, &()).await.unwrap();
    assert!(again.already_complete, "{again:?}");
    assert_eq!(again.path, out);
    assert_eq!(server.downloads().len(), 1);
}

#[tokio::test]
async fn resumes_with_rest_fetching_only_the_missing_bytes() {
    let server = Vsftpd::start();
    let body = data(2, LEN);
    server.put("f.bin", &body);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.bin");
    let durable = interrupted_at(&server, "f.bin", &out, 1_000_000).await;
    assert!(part_of(&out).exists() && state_of(&out).exists());

    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, "f.bin", &out), &reporter)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert_eq!(outcome.resumed_from, durable);
    assert_eq!(outcome.fetched, LEN as u64 - durable);
    assert!(reporter.restarts.lock().unwrap().is_empty());
    // The server's own count: the second RETR sent only the bytes after REST.
    let log = server.wait_downloads(2);
    assert_eq!(log.last(), Some(&(LEN as u64 - durable)), "{log:?}");
}

#[tokio::test]
async fn a_changed_remote_file_restarts_from_zero() {
    let server = Vsftpd::start();
    let dir = tempfile::tempdir().unwrap();
    let old = data(3, LEN);
    server.put("f.bin", &old);
    let later = SystemTime::now() + Duration::from_secs(3600);

    // Same size, another MDTM.
    let out = dir.path().join("a.bin");
    interrupted_at(&server, "f.bin", &out, 500_000).await;
    let new = data(4, LEN);
    server.put("f.bin", &new);
    std::fs::File::options()
        .write(true)
        .open(server.root().join("f.bin"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, "f.bin", &out), &reporter)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), new);
    assert_eq!(outcome.fetched, LEN as u64);
    assert_eq!(
        *reporter.restarts.lock().unwrap(),
        [RestartReason::RemoteChanged]
    );

    // Another size (and MDTM).
    let out = dir.path().join("b.bin");
    interrupted_at(&server, "f.bin", &out, 500_000).await;
    let shorter = data(5, LEN - 1000);
    server.put("f.bin", &shorter);
    let reporter = Recorder::default();
    durl_fetch::get(&request(&server, "f.bin", &out), &reporter)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), shorter);
    assert_eq!(
        *reporter.restarts.lock().unwrap(),
        [RestartReason::RemoteChanged]
    );
}

#[tokio::test]
async fn a_missing_file_is_a_typed_error_naming_the_url_and_the_reply() {
    let server = Vsftpd::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nope.bin");
    let err = durl_fetch::get(&request(&server, "nope.bin", &out), &())
        .await
        .unwrap_err();
    match &err {
        Error::Ftp { code, reply, .. } => {
            assert_eq!(*code, 550);
            assert!(!reply.is_empty());
        }
        other => panic!("expected Error::Ftp, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Http);
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains(&server.url("nope.bin")) && msg.contains("550"),
        "{msg}"
    );
    // Nothing left behind.
    assert!(!part_of(&out).exists() && !state_of(&out).exists() && !out.exists());
}

#[tokio::test]
async fn a_wrong_login_is_a_typed_error_without_the_password() {
    let server = Vsftpd::start();
    server.put("f.bin", b"x");
    let dir = tempfile::tempdir().unwrap();
    // Local users are disabled, so any named user is refused.
    let url = server.url("f.bin").replace("ftp://", "ftp://bob:s%65cret@");
    let req = GetRequest::new(&url)
        .unwrap()
        .output(dir.path().join("f.bin"))
        .retries(0);
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert!(
        matches!(err, Error::Ftp { code: 530, .. }),
        "expected a 530, got {err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("login") && !msg.contains("secret"), "{msg}");
}

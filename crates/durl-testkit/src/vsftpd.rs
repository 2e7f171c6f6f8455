//! [`Vsftpd`]: a real vsftpd on `127.0.0.1`, anonymous and read-only, serving a temporary
//! directory, for the tests that need a real FTP server. `.ci/run` installs vsftpd; without
//! it the tests that start one fail, they do not skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A vsftpd serving the files of a temporary directory to anonymous users; stopped (killed
/// and reaped) when dropped.
#[derive(Debug)]
pub struct Vsftpd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

impl Vsftpd {
    /// Starts vsftpd on a free port of 127.0.0.1 and waits until it listens.
    pub fn start() -> Vsftpd {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&root).expect("mkdir root");
        std::fs::create_dir(&empty).expect("mkdir empty");
        // vsftpd serves anonymous users as `ftp` from inside a chroot: world-readable, and
        // not writable by them.
        for d in [dir.path(), &root, &empty] {
            set_mode(d, 0o755);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
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
        .expect("write vsftpd.conf");
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

    /// The directory served as `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Writes `data` as `name` in the root, readable by anonymous users.
    pub fn put(&self, name: &str, data: &[u8]) {
        let path = self.root().join(name);
        std::fs::write(&path, data).expect("write a served file");
        set_mode(&path, 0o644);
    }

    /// Makes `name` unreadable to anonymous users (vsftpd then answers `RETR` with 550).
    pub fn forbid(&self, name: &str) {
        set_mode(&self.root().join(name), 0o600);
    }

    /// `ftp://127.0.0.1:PORT/name`.
    pub fn url(&self, name: &str) -> String {
        format!("ftp://127.0.0.1:{}/{name}", self.port)
    }

    /// The byte counts of the completed downloads in vsftpd's log, in order.
    pub fn downloads(&self) -> Vec<u64> {
        let log = std::fs::read_to_string(self.dir.path().join("vsftpd.log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("OK DOWNLOAD"))
            .filter_map(|l| {
                let (_, rest) = l.rsplit_once("\", ")?;
                rest.split(' ').next()?.parse().ok()
            })
            .collect()
    }

    /// [`Self::downloads`] once there are `n` (vsftpd logs right after the transfer), or
    /// what there is after 5 s.
    pub fn wait_downloads(&self, n: usize) -> Vec<u64> {
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

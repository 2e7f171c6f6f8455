//! A real vsftpd for FTP tests: started on 127.0.0.1 with a temporary root, serving anonymous
//! users, optionally with a writable `up/` directory and explicit FTPS (a certificate made at
//! start with rcgen); stopped when dropped. `.ci/run` installs vsftpd; without it, starting
//! panics with a hint (tests fail, they do not skip).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What the server allows.
#[derive(Debug, Clone, Copy, Default)]
pub struct VsftpdOptions {
    /// Anonymous uploads into `up/`, including overwriting and resuming (`REST` + `STOR`,
    /// `APPE`) existing files there.
    pub upload: bool,
    /// Explicit FTPS (`AUTH TLS`), required for logins and data.
    pub tls: bool,
}

/// A running vsftpd; killed and waited for on drop.
#[derive(Debug)]
pub struct Vsftpd {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    cert_pem: Option<String>,
}

impl Vsftpd {
    /// A read-only anonymous server.
    pub fn start() -> Vsftpd {
        Vsftpd::start_with(VsftpdOptions::default())
    }

    /// A server with `options`.
    ///
    /// # Panics
    /// If vsftpd is missing or does not listen within 10 s.
    pub fn start_with(options: VsftpdOptions) -> Vsftpd {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("root");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&root).expect("root dir");
        std::fs::create_dir(&empty).expect("empty dir");
        // vsftpd serves anonymous users as `ftp` from inside a chroot that they must not be
        // able to write: world-readable, not writable. Uploads go to a world-writable `up/`.
        for d in [dir.path(), &root, &empty] {
            set_mode(d, 0o755);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut conf = format!(
            "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
             background=NO\nanonymous_enable=YES\nlocal_enable=NO\n\
             anon_root={root}\nno_anon_password=YES\npasv_enable=YES\n\
             pasv_min_port=40000\npasv_max_port=49999\npasv_address=127.0.0.1\n\
             secure_chroot_dir={empty}\nseccomp_sandbox=NO\nxferlog_enable=YES\n\
             vsftpd_log_file={log}\nmax_per_ip=0\nmax_clients=0\n",
            root = root.display(),
            empty = empty.display(),
            log = dir.path().join("vsftpd.log").display(),
        );
        if options.upload {
            let up = root.join("up");
            std::fs::create_dir(&up).expect("upload dir");
            set_mode(&up, 0o777);
            // anon_other_write_enable: without it anonymous uploads may only create new files,
            // so neither resume nor overwrite would work.
            conf.push_str(
                "write_enable=YES\nanon_upload_enable=YES\nanon_other_write_enable=YES\n\
                 anon_umask=022\n",
            );
        } else {
            conf.push_str("write_enable=NO\n");
        }
        let mut cert_pem = None;
        if options.tls {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let certified = rcgen::generate_simple_self_signed(names).expect("rcgen certificate");
            let cert = dir.path().join("cert.pem");
            let key = dir.path().join("key.pem");
            std::fs::write(&cert, certified.cert.pem()).expect("write cert");
            std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
            cert_pem = Some(certified.cert.pem());
            // vsftpd 3.0.3's default cipher list is DES-CBC3-SHA, which no modern client
            // speaks. require_ssl_reuse stays on (its default): data connections must resume
            // the control connection's TLS session.
            conf.push_str(&format!(
                "ssl_enable=YES\nallow_anon_ssl=YES\nforce_anon_logins_ssl=YES\n\
                 force_anon_data_ssl=YES\nssl_ciphers=HIGH\nrequire_ssl_reuse=YES\n\
                 rsa_cert_file={}\nrsa_private_key_file={}\n",
                cert.display(),
                key.display()
            ));
        }
        let conf_path = dir.path().join("vsftpd.conf");
        std::fs::write(&conf_path, conf).expect("write vsftpd.conf");
        // Debian installs it in /usr/sbin, which a non-root PATH may lack.
        let program = ["/usr/sbin/vsftpd", "/usr/local/sbin/vsftpd"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("vsftpd");
        let child = Command::new(program)
            .arg(&conf_path)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start vsftpd ({e}): the FTP tests need it; install it with \
                     `apt-get install -y vsftpd` (.ci/run does)"
                )
            });
        let mut server = Vsftpd {
            child,
            port,
            dir,
            cert_pem,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("vsftpd exited with {status}");
            }
            assert!(Instant::now() < deadline, "vsftpd did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// The directory served as `/`.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Writes `root/name`: world-readable, as anonymous downloads require, and writable, so
    /// that uploads may replace or extend it under `up/`.
    pub fn put(&self, name: &str, data: &[u8]) {
        let path = self.root().join(name);
        std::fs::write(&path, data).expect("write served file");
        set_mode(&path, 0o666);
    }

    /// The transfers of [`Self::transfers`] once there are `n`, or what there is after 5 s
    /// (vsftpd logs right after a transfer ends).
    pub fn wait_transfers(&self, upload: bool, n: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let t = self.transfers(upload);
            if t.len() >= n || Instant::now() > deadline {
                return t;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Makes `root/name` unreadable to anonymous users (vsftpd then answers `RETR` with 550).
    pub fn forbid(&self, name: &str) {
        set_mode(&self.root().join(name), 0o600);
    }

    /// The byte counts of the completed downloads, in order ([`Self::transfers`]).
    pub fn downloads(&self) -> Vec<u64> {
        self.transfers(false)
    }

    /// [`Self::downloads`] once there are `n`, or what there is after 5 s.
    pub fn wait_downloads(&self, n: usize) -> Vec<u64> {
        self.wait_transfers(false, n)
    }

    /// The contents of `root/name`, if it exists.
    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.root().join(name)).ok()
    }

    /// `ftp://127.0.0.1:PORT/name`.
    pub fn url(&self, name: &str) -> String {
        format!("ftp://127.0.0.1:{}/{name}", self.port)
    }

    /// The server's certificate in PEM (with [`VsftpdOptions::tls`]).
    pub fn cert_pem(&self) -> Option<&str> {
        self.cert_pem.as_deref()
    }

    /// The byte counts of the completed uploads (`"OK UPLOAD"`) or downloads in vsftpd's
    /// log, in order.
    pub fn transfers(&self, upload: bool) -> Vec<u64> {
        let log = std::fs::read_to_string(self.dir.path().join("vsftpd.log")).unwrap_or_default();
        let tag = if upload { "OK UPLOAD" } else { "OK DOWNLOAD" };
        log.lines()
            .filter(|l| l.contains(tag))
            .filter_map(|l| {
                let (_, rest) = l.rsplit_once("\", ")?;
                rest.split(' ').next()?.parse().ok()
            })
            .collect()
    }
}

impl Vsftpd {
    /// Kills (SIGKILL) every session process of the server — the processes it forked for
    /// connections — so that every open control and data connection is cut at once; the
    /// listener goes on accepting new connections. Returns how many were killed.
    pub fn kill_sessions(&self) -> usize {
        let mut parents: Vec<(u32, u32)> = Vec::new(); // (pid, ppid)
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            // `pid (comm) state ppid ...`: comm may hold spaces, so split after the last ')'.
            if let Some(ppid) = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok())
            {
                parents.push((pid, ppid));
            }
        }
        let mut victims = vec![self.child.id()];
        let mut i = 0;
        while i < victims.len() {
            let parent = victims[i];
            victims.extend(parents.iter().filter(|p| p.1 == parent).map(|p| p.0));
            i += 1;
        }
        let sessions = &victims[1..];
        for pid in sessions {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
        sessions.len()
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
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

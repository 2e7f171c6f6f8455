//! tus uploads into a real S3 store (SeaweedFS) through two `durl serve s3://… --upload`
//! processes, as a load balancer would spread them: tuspy (a client nobody here wrote)
//! uploads 48 MiB to A, A is killed with SIGKILL mid-way, and tuspy continues the same upload
//! path on B from the offset B reports; `durl put` begun through a proxy to A completes
//! through it to B.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use durl_testkit::{SeaweedFs, pattern_bytes};

use crate::durl;
use crate::interop::python;
use crate::interop::script::{Script, number};
use crate::serve::{Serve, raw_get, text, wait_within};
use crate::serve_s3::durl_for;

const MIB: u64 = 1 << 20;

/// `durl serve s3://durl/site --upload` with the store's variables.
fn instance(dir: &Path, store: &SeaweedFs) -> Serve {
    let url = format!("s3://{}/site", store.bucket());
    Serve::start_cmd(
        durl_for(dir, store),
        Path::new(&url),
        &["--upload", "--quiet"],
    )
}

/// The `Upload-Offset` a tus `HEAD` of `url` answers (curl).
fn tus_offset(url: &str) -> Option<u64> {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-I",
            "--noproxy",
            "*",
            "-H",
            "Tus-Resumable: 1.0.0",
            url,
        ])
        .output()
        .expect("curl");
    text(&out.stdout).lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("upload-offset")
            .then(|| value.trim().parse().ok())?
    })
}

fn tuspy(endpoint: &str, file: &Path, name: &str, args: &[&str]) -> Script {
    let mut cmd = python("tuspy_upload.py");
    cmd.arg(endpoint)
        .arg(file)
        .args(["--chunk-size", &(4 * MIB).to_string(), "--filename", name])
        .args(args);
    Script::spawn(cmd)
}

#[test]
fn tuspy_continues_on_b_an_upload_whose_instance_a_was_killed() {
    let store = SeaweedFs::start("durl");
    let dir = tempfile::tempdir().unwrap();
    let len = 48 * MIB;
    let data = pattern_bytes(61, 0..len);
    let file = dir.path().join("big.bin");
    std::fs::write(&file, &data).unwrap();
    let mut a = instance(dir.path(), &store);
    let b = instance(dir.path(), &store);

    let mut first = tuspy(
        &a.url(".durl/uploads/"),
        &file,
        "big.bin",
        &["--pause", "0.1"],
    );
    let url = first.wait_for(Duration::from_secs(60), |l| {
        l.strip_prefix("start 0 ").map(str::to_owned)
    });
    let acked = first.wait_for(Duration::from_secs(120), |l| {
        number(l, "offset").filter(|&n| n >= 20 * MIB)
    });
    a.child.kill().unwrap(); // SIGKILL, mid-way
    a.child.wait().unwrap();
    first.kill();

    // The same upload path on B: the offset it reports is what A acknowledged, durable in
    // the store.
    let path = &url[url.find("/.durl/").unwrap()..];
    let on_b = b.url(path);
    let offset = tus_offset(&on_b).expect("B answers the upload's offset");
    assert!(
        offset > 0 && offset >= acked && offset < len,
        "{offset} {acked}"
    );

    // tuspy continues there (its first chunks may meet A's lease until it expires: 423,
    // asked again).
    let second = tuspy(
        &b.url(".durl/uploads/"),
        &file,
        "big.bin",
        &["--url", &on_b, "--retries", "30"],
    );
    let (status, lines, stderr) = second.finish(Duration::from_secs(180));
    assert!(status.success(), "{lines:?} {stderr}");
    assert_eq!(lines[0], format!("start {offset} {on_b}"), "{lines:?}");

    // The object is exact, served by B and by a new A.
    let a = instance(dir.path(), &store);
    for server in [&a, &b] {
        let answer = raw_get(&server.addr, "/big.bin", &[]);
        assert_eq!(answer.status, 200, "{}", answer.head);
        assert!(answer.body == data, "exact bytes");
    }
}

/// A TCP proxy on loopback that sends each new connection to the backend set last: a load
/// balancer moving clients from one instance to another.
struct Proxy {
    addr: String,
    backend: Arc<Mutex<String>>,
}

impl Proxy {
    fn start(backend: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let backend = Arc::new(Mutex::new(backend.to_owned()));
        let to = Arc::clone(&backend);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let target = to.lock().unwrap().clone();
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Self { addr, backend }
    }

    fn switch(&self, backend: &str) {
        backend.clone_into(&mut self.backend.lock().unwrap());
    }
}

/// Copies `from` to `to` on a thread until either ends.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 << 10];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

#[test]
fn durl_put_begun_on_a_completes_on_b_through_the_same_url() {
    let store = SeaweedFs::start("durl");
    let dir = tempfile::tempdir().unwrap();
    let len = 24 * MIB + 12_345;
    let data = pattern_bytes(62, 0..len);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let a = instance(dir.path(), &store);
    let b = instance(dir.path(), &store);
    let proxy = Proxy::start(&a.addr);
    let endpoint = format!("http://{}/.durl/uploads/", proxy.addr);

    let mut child = durl(dir.path())
        .args(["put", "-q", "--limit-rate", "4M", "big.bin", &endpoint])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-way: B already reports at least a part the upload holds (through the store).
    let state = dir.path().join("big.bin.durl-upload");
    let deadline = Instant::now() + Duration::from_secs(60);
    let upload_path = loop {
        assert!(Instant::now() < deadline, "the upload never got 8 MiB in");
        assert!(child.try_wait().unwrap().is_none(), "durl put ended early");
        let url = std::fs::read_to_string(&state).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("upload ").map(str::to_owned))
        });
        if let Some(url) = url {
            let path = url[url.find("/.durl/").unwrap()..].to_owned();
            if tus_offset(&b.url(&path)).is_some_and(|n| n >= 8 * MIB) {
                break path;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    // The balancer moves everyone to B; A goes away.
    proxy.switch(&b.addr);
    let (status, _, _) = a.terminate(Duration::from_secs(30));
    assert!(status.success());

    let mut rerun = durl(dir.path())
        .args(["put", "big.bin", &endpoint])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_within(&mut rerun, Duration::from_secs(120));
    let out = rerun.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("resumed at"), "{stderr}");
    assert_eq!(tus_offset(&b.url(&upload_path)), Some(len));
    let answer = raw_get(&b.addr, "/big.bin", &[]);
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(answer.body == data, "exact bytes");
}

#[test]
fn four_uploads_at_once_hold_about_a_part_each_in_memory() {
    let store = SeaweedFs::start("durl");
    let dir = tempfile::tempdir().unwrap();
    let len = 48 * MIB;
    let server = instance(dir.path(), &store);
    let endpoint = server.url(".durl/uploads/");
    let names: Vec<String> = (0..4).map(|i| format!("f{i}.bin")).collect();
    for (i, name) in names.iter().enumerate() {
        std::fs::write(dir.path().join(name), pattern_bytes(70 + i as u64, 0..len)).unwrap();
    }
    let mut children: Vec<_> = names
        .iter()
        .map(|name| {
            durl(dir.path())
                .args(["put", "-q", name, &endpoint])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in &mut children {
        let status = wait_within(child, Duration::from_secs(240));
        assert!(status.success());
    }
    // Each body streams into 8 MiB parts: about a part buffered and one being sent per
    // upload, never the 48 MiB body (which would be 192 MiB for the four).
    let rss = crate::serve_s3::peak_rss(server.child.id());
    assert!(rss < 128 * MIB, "peak RSS {} MiB", rss / MIB);
    for (i, name) in names.iter().enumerate() {
        let answer = raw_get(&server.addr, &format!("/{name}"), &[]);
        assert_eq!(answer.status, 200, "{}", answer.head);
        assert!(
            answer.body == pattern_bytes(70 + i as u64, 0..len),
            "{name}"
        );
    }
}

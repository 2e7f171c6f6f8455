//! `durl serve s3://BUCKET/PREFIX` as a user runs it: keys and endpoint from the standard AWS
//! variables, objects put by curl (`--aws-sigv4`) into a real store (SeaweedFS) and fetched
//! with `durl get -x 4`; bad storage arguments exit 2 with one line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use durl_testkit::{S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, SeaweedFs, pattern_bytes};

use crate::durl;
use crate::serve::{Serve, raw_get, text, wait_within};

/// `durl` with the store's key, region and endpoint in the standard variables.
pub(crate) fn durl_for(dir: &Path, store: &SeaweedFs) -> Command {
    let mut cmd = durl(dir);
    cmd.env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        .env("AWS_REGION", S3_REGION)
        .env("AWS_ENDPOINT_URL", store.endpoint());
    cmd
}

/// Puts `file` at `key` with curl's own SigV4 signing: a client nobody here wrote.
fn curl_put(store: &SeaweedFs, file: &Path, key: &str) {
    let status = Command::new("curl")
        .args(["-sS", "--fail", "--noproxy", "*", "--aws-sigv4"])
        .arg(format!("aws:amz:{S3_REGION}:s3"))
        .arg("--user")
        .arg(format!("{S3_ACCESS_KEY}:{S3_SECRET_KEY}"))
        .arg("-T")
        .arg(file)
        .arg(format!("{}/{}/{key}", store.endpoint(), store.bucket()))
        .status()
        .expect("curl");
    assert!(status.success(), "curl put {key}: {status}");
}

#[test]
fn serves_a_bucket_prefix_from_the_aws_variables() {
    let store = SeaweedFs::start("durl");
    let dir = tempfile::tempdir().unwrap();
    let content = pattern_bytes(5, 0..(6 << 20) + 7);
    let local = dir.path().join("src.bin");
    std::fs::write(&local, &content).unwrap();
    curl_put(&store, &local, "site/files/big.bin");

    let url = format!("s3://{}/site", store.bucket());
    let server = Serve::start_cmd(durl_for(dir.path(), &store), Path::new(&url), &["--quiet"]);
    let answer = raw_get(&server.addr, "/files/big.bin", &["Range: bytes=10-19"]);
    assert_eq!(answer.status, 206, "{}", answer.head);
    assert_eq!(answer.body, content[10..20]);
    let answer = raw_get(&server.addr, "/files/", &["Accept: application/json"]);
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(text(&answer.body).contains("\"big.bin\""));

    // durl's own client, split over four connections.
    let mut child = durl(dir.path())
        .args(["get", "-q", "-x", "4", "-o", "out.bin"])
        .arg(server.url("files/big.bin"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(120));
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(dir.path().join("out.bin")).unwrap() == content);
    let (status, _, _) = server.terminate(Duration::from_secs(20));
    assert!(status.success());
}

/// Arguments, extra variables, a word the error line must hold.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn bad_storage_arguments_exit_2_with_one_line() {
    let store = SeaweedFs::start("durl");
    let dir = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let cases: &[Case] = &[
        (&["s3://Bad_Bucket"], &[], "Bad_Bucket"),
        (&["s3://durl/a/../b"], &[], ".."),
        (&["s3://durl", "--s3-endpoint", "http://192.0.2.1:9000"], &[], "192.0.2.1"),
        (&["s3://durl"], &[("AWS_SECRET_ACCESS_KEY", "")], "AWS_ACCESS_KEY_ID"),
        (&["s3://durl"], &[("AWS_SECRET_ACCESS_KEY", "wrong")], "s3://durl"),
        (&["s3://no-such-bucket"], &[], "s3://no-such-bucket"),
        (&["s3://durl", "--upload", "--upload-dir", "/tmp/up"], &[], "--upload-dir /tmp/up"),
    ];
    for (args, vars, word) in cases {
        let mut cmd = durl_for(dir.path(), &store);
        cmd.envs(vars.iter().copied());
        let mut child = cmd
            .arg("serve")
            .args(*args)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_within(&mut child, Duration::from_secs(60));
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("durl: "), "{args:?}: {stderr}");
        assert!(stderr.contains(word), "{args:?}: {stderr}");
        assert!(!stderr.contains(S3_SECRET_KEY), "{args:?}: {stderr}");
    }
}

/// The server's peak resident set (`VmHWM`), in bytes.
pub(crate) fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"));
    kib * 1024
}

#[test]
fn fifty_concurrent_8_mib_ranges_stay_under_128_mib() {
    use std::io::{Read as _, Write as _};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const MIB: u64 = 1 << 20;
    let store = SeaweedFs::start("durl");
    let dir = tempfile::tempdir().unwrap();
    let len = 64 * MIB;
    let content = Arc::new(pattern_bytes(9, 0..len));
    let local = dir.path().join("big.bin");
    std::fs::write(&local, &*content).unwrap();
    curl_put(&store, &local, "big.bin");
    std::fs::remove_file(&local).unwrap();
    let url = format!("s3://{}", store.bucket());
    let server = Serve::start_cmd(durl_for(dir.path(), &store), Path::new(&url), &["--quiet"]);

    // Every client reads the head and a first piece, waits until all fifty are that far
    // (so fifty bodies are open at once), then reads the rest and checks every byte.
    let clients = 50;
    let started = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..clients as u64)
        .map(|i| {
            let (addr, content, started) = (
                server.addr.clone(),
                Arc::clone(&content),
                Arc::clone(&started),
            );
            std::thread::spawn(move || {
                let start = (i * MIB) % (len - 8 * MIB);
                let end = start + 8 * MIB;
                let mut stream = std::net::TcpStream::connect(&addr).unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                let request = format!(
                    "GET /big.bin HTTP/1.1\r\nHost: {addr}\r\nRange: bytes={start}-{}\r\n\
                     Connection: close\r\n\r\n",
                    end - 1
                );
                stream.write_all(request.as_bytes()).unwrap();
                let mut buf = vec![0u8; 64 * 1024];
                let mut head = Vec::new();
                let mut body = Vec::new();
                while !head.ends_with(b"\r\n\r\n") {
                    let n = stream.read(&mut buf[..1]).unwrap();
                    assert!(n == 1, "cut in the head");
                    head.push(buf[0]);
                }
                assert!(head.starts_with(b"HTTP/1.1 206"), "{}", text(&head));
                let n = stream.read(&mut buf).unwrap();
                body.extend_from_slice(&buf[..n]);
                // Bounded: a client that failed before this point never arrives.
                started.fetch_add(1, Ordering::SeqCst);
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while started.load(Ordering::SeqCst) < clients
                    && std::time::Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let mut at = start + body.len() as u64;
                assert!(body == content[start as usize..at as usize]);
                loop {
                    let n = stream.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    let want = &content[at as usize..at as usize + n];
                    assert!(&buf[..n] == want, "client {i}: bytes differ at {at}");
                    at += n as u64;
                }
                assert_eq!(at, end, "client {i}: short body");
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let peak = peak_rss(server.child.id());
    assert!(
        peak < 128 * MIB,
        "peak RSS {} MiB serving 50 concurrent 8 MiB ranges",
        peak / MIB
    );
    let (status, _, _) = server.terminate(Duration::from_secs(20));
    assert!(status.success());
}

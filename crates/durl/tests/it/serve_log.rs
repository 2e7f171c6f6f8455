//! `durl serve`'s access log as log tools read it: Combined Log Format and JSON lines in
//! `--access-log FILE`, with the user, referer, user agent, duration and the bytes actually
//! sent (an aborted download logs what went out, not the file's size).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::serve::{Serve, raw_get};

/// The lines of `file` once it has `n` of them (polled, bounded).
fn lines_when(file: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n || Instant::now() > deadline {
            assert!(lines.len() >= n, "wanted {n} lines in {text:?}");
            return lines;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Combined Log Format line split into its fields: host, ident, user, time, request,
/// status, bytes, referer, user agent, and what follows (the microseconds).
fn parse_combined(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        rest = rest.trim_start();
        let (field, tail) = if let Some(r) = rest.strip_prefix('"') {
            // A quoted field; \" and \\ are escapes.
            let mut end = 0;
            let bytes = r.as_bytes();
            while bytes[end] != b'"' {
                end += if bytes[end] == b'\\' { 2 } else { 1 };
            }
            (&r[..end], &r[end + 1..])
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap();
            (&r[..end], &r[end + 1..])
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        fields.push(field.to_owned());
        rest = tail;
    }
    fields
}

#[test]
fn combined_log_lines_name_the_user_referer_agent_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("a.txt"), b"hello world").unwrap();
    let log = dir.path().join("access.log");
    let log_arg = log.to_str().unwrap();
    let server = Serve::start(
        &www,
        &["--quiet", "--auth", "alice:pw", "--access-log", log_arg],
    );
    let auth = "Authorization: Basic YWxpY2U6cHc="; // alice:pw
    let answer = raw_get(
        &server.addr,
        "/a.txt",
        &[
            auth,
            "Range: bytes=0-4",
            "Referer: http://r/\"x\"",
            "User-Agent: tester/1",
        ],
    );
    assert_eq!(answer.status, 206);
    assert_eq!(raw_get(&server.addr, "/a.txt", &[]).status, 401);
    let lines = lines_when(&log, 2);
    let f = parse_combined(&lines[0]);
    assert_eq!(f.len(), 10, "{f:?}");
    assert_eq!(f[0], "127.0.0.1");
    assert_eq!((f[1].as_str(), f[2].as_str()), ("-", "alice"));
    assert!(f[3].ends_with(" +0000") && f[3].len() == 26, "{}", f[3]);
    assert_eq!(f[4], "GET /a.txt HTTP/1.1");
    assert_eq!((f[5].as_str(), f[6].as_str()), ("206", "5"));
    assert_eq!(f[7], "http://r/\\\"x\\\"");
    assert_eq!(f[8], "tester/1");
    assert!(f[9].parse::<u64>().is_ok(), "microseconds: {}", f[9]);
    let f = parse_combined(&lines[1]);
    assert_eq!(
        (f[2].as_str(), f[5].as_str()),
        ("-", "401"),
        "no user on a refusal"
    );
    let (status, stderr, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(
        !stderr.contains("a.txt"),
        "--quiet keeps stderr clean: {stderr}"
    );
}

#[test]
fn json_log_lines_and_the_bytes_of_an_aborted_download() {
    const LEN: usize = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    std::fs::write(www.join("big.bin"), vec![7u8; LEN]).unwrap();
    let log = dir.path().join("access.json");
    let server = Serve::start(
        &www,
        &[
            "--log-format",
            "json",
            "--access-log",
            log.to_str().unwrap(),
        ],
    );
    // Read 1 MiB of the 64, then hang up.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET /big.bin HTTP/1.1\r\nHost: x\r\nUser-Agent: quitter\r\n\r\n"
    )
    .unwrap();
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while got < 1 << 20 {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        got += n;
    }
    drop(stream);
    let lines = lines_when(&log, 1);
    let v: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["method"], "GET");
    assert_eq!(v["target"], "/big.bin");
    assert_eq!(v["status"], 200);
    assert_eq!(v["user_agent"], "quitter");
    assert!(v["user"].is_null());
    let bytes = v["bytes"].as_u64().unwrap();
    // At least what the client read (less the head), less than the file: what went out.
    assert!(bytes >= (1 << 20) - 4096 && bytes < LEN as u64, "{bytes}");
    assert!(v["duration_us"].as_u64().is_some());
    // A complete download logs the whole length.
    let answer = raw_get(&server.addr, "/big.bin", &["Range: bytes=-1000"]);
    assert_eq!(answer.status, 206);
    let lines = lines_when(&log, 2);
    let v: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(v["bytes"], 1000);
    // The JSON lines are the file's only content; stderr has the usual log too.
    let (status, stderr, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(stderr.contains("\"target\":\"/big.bin\""), "{stderr}");
}

#[test]
fn an_access_log_that_cannot_be_opened_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::durl(dir.path())
        .args([
            "serve",
            ".",
            "--port",
            "0",
            "--access-log",
            "no/such/dir/log",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open the access log no/such/dir/log: No such file"),
        "{stderr}"
    );
}

//! `durl serve` flags for the limits a client can exhaust: --upload-min-rate and
//! --upload-rate-window (a trickling body is cut with 408), --max-uploads-per-ip (one
//! address's share of the transfers: 503), --max-connections-per-ip (the excess is closed),
//! --upload-reserve (507 before the disk is full); and --sandbox. The real binary over raw
//! sockets.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::serve::Serve;

/// POST creating an upload of `len` bytes; its path.
fn create(server: &Serve, len: u64) -> Result<String, u16> {
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /.durl/uploads/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Length: {len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status: u16 = answer.split(' ').nth(1).unwrap().parse().unwrap();
    if status != 201 {
        return Err(status);
    }
    let location = answer
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_owned())
        })
        .unwrap();
    Ok(location)
}

/// Starts a PATCH of `len` bytes at 0 sending only `first` bytes of it; the open connection.
fn start_patch(server: &Serve, location: &str, len: u64, first: usize) -> TcpStream {
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        stream,
        "PATCH {location} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {len}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream.write_all(&vec![5u8; first]).unwrap();
    stream
}

/// The status of the answer on `stream` (read until the server closes or the head is in).
fn status(stream: &mut TcpStream) -> u16 {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

#[test]
fn upload_min_rate_cuts_a_trickling_body_with_408() {
    let dir = tempfile::tempdir().unwrap();
    let server = Serve::start(
        dir.path(),
        &[
            "--quiet",
            "--upload",
            "--upload-min-rate",
            "1M",
            "--upload-rate-window",
            "1",
        ],
    );
    let location = create(&server, 10 << 20).unwrap();
    // 1 KiB, then nothing: far below 1 MiB/s over a 1 s window (the default, 1 KiB/s over
    // 30 s, would wait for half a minute).
    let started = Instant::now();
    let mut patch = start_patch(&server, &location, 10 << 20, 1024);
    assert_eq!(status(&mut patch), 408);
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "{:?}",
        started.elapsed()
    );
    // What arrived is kept.
    let up = dir.path().join(".durl-uploads");
    let id = location.rsplit('/').next().unwrap();
    let info = std::fs::read_to_string(up.join(format!("{id}.info"))).unwrap();
    assert!(info.contains("offset 1024"), "{info}");
}

#[test]
fn max_uploads_per_ip_gives_one_address_its_share() {
    for (share, second) in [(None, 204), (Some("1"), 503)] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--quiet", "--upload"];
        if let Some(n) = share {
            args.extend(["--max-uploads-per-ip", n]);
        }
        let server = Serve::start(dir.path(), &args);
        let (a, b) = (
            create(&server, 1 << 20).unwrap(),
            create(&server, 4).unwrap(),
        );
        // The first transfer holds its slot: half its body sent, the rest withheld.
        let mut holding = start_patch(&server, &a, 1 << 20, 512 << 10);
        std::thread::sleep(Duration::from_millis(300));
        let mut other = start_patch(&server, &b, 4, 4);
        assert_eq!(status(&mut other), second, "share {share:?}");
        holding.write_all(&vec![5u8; 512 << 10]).unwrap();
        assert_eq!(status(&mut holding), 204);
    }
}

#[test]
fn max_connections_per_ip_closes_what_is_beyond_the_share() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    let server = Serve::start(dir.path(), &["--quiet", "--max-connections-per-ip", "1"]);
    // One connection holds the address's slot, one more may wait for it; the third is
    // closed at once (long before the 10 s head timeout).
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let mut third = TcpStream::connect(&server.addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(8)))
        .unwrap();
    let started = Instant::now();
    let _ = third.write_all(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 64];
    let closed = matches!(third.read(&mut buf), Ok(0) | Err(_));
    assert!(closed && started.elapsed() < Duration::from_secs(5));
    drop(held);
    // With the slot free again, the address is served: once the server has seen both held
    // connections close (a loaded machine may take a moment; until then a new connection is
    // still beyond the share and closed).
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match try_get(&server.addr, "/a.txt") {
            Some(status) => break Some(status),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            None => break None,
        }
    };
    assert_eq!(status, Some(200));
}

/// The status of `GET path`, or `None` when the connection is closed before an answer.
fn try_get(addr: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let head = String::from_utf8_lossy(&answer);
    head.split(' ').nth(1)?.parse().ok()
}

#[test]
fn upload_reserve_is_kept_free() {
    let dir = tempfile::tempdir().unwrap();
    // A reserve larger than any disk here: nothing may be promised.
    let server = Serve::start(
        dir.path(),
        &["--quiet", "--upload", "--upload-reserve", "1000000G"],
    );
    assert_eq!(create(&server, 1), Err(507));
    drop(server);
    let server = Serve::start(
        dir.path(),
        &["--quiet", "--upload", "--upload-reserve", "0"],
    );
    assert!(create(&server, 1).is_ok());
}

#[test]
fn sandbox_all_sandboxes_a_sites_own_pages_too() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.html"), "<script>1</script>").unwrap();
    for (extra, policy) in [(None, None), (Some("all"), Some("sandbox"))] {
        let mut args = vec!["--quiet"];
        if let Some(which) = extra {
            args.extend(["--sandbox", which]);
        }
        let server = Serve::start(dir.path(), &args);
        let answer = crate::serve::raw_get(&server.addr, "/page.html", &[]);
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("content-security-policy"),
            policy,
            "{extra:?}"
        );
        assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    }
}

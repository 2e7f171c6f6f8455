//! Each fault, observed on the wire.

use std::io::Read as _;
use std::time::{Duration, Instant};

use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::client::{Conn, End, get};

const LEN: u64 = 200_000;

fn server() -> FaultServer {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(1, LEN));
    server
}

#[test]
fn cut_after_closes_and_counts() {
    let server = server();
    server.push_fault("/f", Fault::CutAfter(70_000));
    let mut conn = Conn::connect(server.addr());
    conn.send("GET", "/f", &[]);
    let head = conn.read_head();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(LEN));
    let (body, end) = conn.read_to_end();
    assert_eq!(end, End::Eof);
    assert_eq!(body, pattern_bytes(1, 0..70_000));
    assert_eq!(server.body_bytes_served("/f"), 70_000);
    assert_eq!(server.log()[0].body_bytes, 70_000);
    // One-shot: the next request is normal.
    let (head, body) = get(server.addr(), "/f", &[("Range", "bytes=70000-")]);
    assert_eq!(head.status, 206);
    assert_eq!(body, pattern_bytes(1, 70_000..LEN));
    assert_eq!(server.body_bytes_served("/f"), LEN);
}

#[test]
fn reset_after_sends_rst() {
    let server = server();
    server.push_fault("/f", Fault::ResetAfter(1000));
    let mut conn = Conn::connect(server.addr());
    conn.send("GET", "/f", &[]);
    assert_eq!(conn.read_head().status, 200);
    std::thread::sleep(Duration::from_millis(100));
    let (body, end) = conn.read_to_end();
    assert_eq!(end, End::Reset);
    assert!(body.len() <= 1000);
    assert_eq!(body, pattern_bytes(1, 0..body.len() as u64));
    assert_eq!(server.body_bytes_served("/f"), 1000);
}

#[test]
fn stall_after_pauses_then_completes() {
    let server = server();
    server.push_fault("/f", Fault::StallAfter(5000, Duration::from_millis(400)));
    let start = Instant::now();
    let mut conn = Conn::connect(server.addr());
    conn.send("GET", "/f", &[]);
    let head = conn.read_head();
    assert_eq!(conn.read_exact(5000), pattern_bytes(1, 0..5000));
    assert!(server.wait_until_body_bytes("/f", 5000, Duration::from_secs(5)));
    assert_eq!(
        server.body_bytes_served("/f"),
        5000,
        "nothing more during the stall"
    );
    let rest = conn.read_exact(head.content_length().unwrap() - 5000);
    assert!(start.elapsed() >= Duration::from_millis(350));
    assert_eq!(rest, pattern_bytes(1, 5000..LEN));
}

#[test]
fn range_faults() {
    let server = server();
    let cases: Vec<(Fault, u16, Option<String>, std::ops::Range<u64>)> = vec![
        (Fault::IgnoreRange, 200, None, 0..LEN),
        (
            Fault::ShiftContentRange(-10),
            206,
            Some("bytes 90-189/200000".into()),
            90..190,
        ),
        (
            Fault::ShiftContentRange(50),
            206,
            Some("bytes 150-249/200000".into()),
            150..250,
        ),
        (
            Fault::ShiftContentRange(-500),
            206,
            Some("bytes 0-99/200000".into()),
            0..100,
        ),
        (
            Fault::WrongTotal(123),
            206,
            Some("bytes 100-199/123".into()),
            100..200,
        ),
        (
            Fault::Unsatisfiable,
            416,
            Some(format!("bytes */{LEN}")),
            0..0,
        ),
    ];
    for (fault, status, content_range, range) in cases {
        server.push_fault("/f", fault.clone());
        let (head, body) = get(server.addr(), "/f", &[("Range", "bytes=100-199")]);
        assert_eq!(head.status, status, "{fault:?}");
        assert_eq!(
            head.header("content-range"),
            content_range.as_deref(),
            "{fault:?}"
        );
        if status != 416 {
            assert_eq!(body, pattern_bytes(1, range), "{fault:?}");
        }
    }
}

#[test]
fn status_with_retry_after() {
    let server = server();
    server.push_fault(
        "/f",
        Fault::Status {
            code: 503,
            retry_after: Some("1".into()),
        },
    );
    let (head, body) = get(server.addr(), "/f", &[]);
    assert_eq!(head.status, 503);
    assert_eq!(head.header("retry-after"), Some("1"));
    assert_eq!(body, b"error page");
    // Also for a path with no resource.
    server.push_fault(
        "/nothing",
        Fault::Status {
            code: 500,
            retry_after: None,
        },
    );
    assert_eq!(get(server.addr(), "/nothing", &[]).0.status, 500);
}

#[test]
fn long_body_sends_extra_then_closes() {
    let server = server();
    server.put("/s", Resource::bytes("short"));
    server.push_fault("/s", Fault::LongBody(10));
    let mut conn = Conn::connect(server.addr());
    conn.send("GET", "/s", &[]);
    let head = conn.read_head();
    assert_eq!(head.content_length(), Some(5));
    let (body, end) = conn.read_to_end();
    assert_eq!(end, End::Eof);
    assert_eq!(body.len(), 15);
    assert_eq!(&body[..5], b"short");
    assert_eq!(server.body_bytes_served("/s"), 15);
}

#[test]
fn close_delimited() {
    let server = server();
    server.push_fault("/f", Fault::CloseDelimited);
    let mut conn = Conn::connect(server.addr());
    conn.send("GET", "/f", &[]);
    let head = conn.read_head();
    assert_eq!(head.content_length(), None);
    assert_eq!(head.header("connection"), Some("close"));
    let (body, end) = conn.read_to_end();
    assert_eq!(end, End::Eof);
    assert_eq!(body, pattern_bytes(1, 0..LEN));
}

#[test]
fn chunked_keeps_connection() {
    let server = server();
    server.put("/s", Resource::bytes("0123456789"));
    server.push_fault("/s", Fault::Chunked);
    let mut conn = Conn::connect(server.addr());
    conn.send("GET", "/s", &[]);
    let head = conn.read_head();
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.content_length(), None);
    let (body, chunks) = conn.read_chunked();
    assert_eq!(body, b"0123456789");
    assert!(chunks >= 3, "{chunks} chunks");
    assert_eq!(server.body_bytes_served("/s"), 10);
    conn.send("GET", "/s", &[]);
    assert_eq!(conn.response(false).1, b"0123456789");
}

#[test]
fn gzip_encodes_full_body() {
    let server = server();
    server.put("/s", Resource::pattern(3, 5000));
    server.push_fault("/s", Fault::Gzip);
    let (head, body) = get(
        server.addr(),
        "/s",
        &[("Range", "bytes=10-"), ("Accept-Encoding", "gzip")],
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(plain, pattern_bytes(3, 0..5000));
}

#[test]
fn change_etag_and_no_validators() {
    let server = server();
    server.push_fault("/f", Fault::ChangeEtag("\"new\"".into()));
    let (head, _) = get(
        server.addr(),
        "/f",
        &[("Range", "bytes=0-9"), ("If-Range", "\"s1-200000\"")],
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("etag"), Some("\"new\""));
    assert_eq!(
        head.header("last-modified"),
        Some("Wed, 15 Nov 2023 22:13:20 GMT")
    );
    server.push_fault("/f", Fault::ChangeEtag("\"new\"".into()));
    let (head, _) = get(
        server.addr(),
        "/f",
        &[("Range", "bytes=0-9"), ("If-Range", "\"new\"")],
    );
    assert_eq!(head.status, 206);
    server.push_fault("/f", Fault::NoValidators);
    let (head, _) = get(
        server.addr(),
        "/f",
        &[("Range", "bytes=0-9"), ("If-Range", "\"s1-200000\"")],
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.header("etag"), None);
    assert_eq!(head.header("last-modified"), None);
}

#[test]
fn one_shot_queue_wins_over_persistent() {
    let server = server();
    server.set_fault(
        "/f",
        Some(Fault::Status {
            code: 503,
            retry_after: None,
        }),
    );
    server.push_fault(
        "/f",
        Fault::Status {
            code: 429,
            retry_after: None,
        },
    );
    server.push_fault(
        "/f",
        Fault::Status {
            code: 500,
            retry_after: None,
        },
    );
    let statuses: Vec<u16> = (0..4)
        .map(|_| get(server.addr(), "/f", &[]).0.status)
        .collect();
    assert_eq!(statuses, [429, 500, 503, 503]);
    server.set_fault("/f", None);
    assert_eq!(get(server.addr(), "/f", &[]).0.status, 200);
}

#[test]
fn rate_limit_throttles() {
    let server = FaultServer::start();
    server.put(
        "/slow",
        Resource::pattern(4, 30_000).with_rate_limit(60_000),
    );
    let start = Instant::now();
    let (_, body) = get(server.addr(), "/slow", &[]);
    let elapsed = start.elapsed();
    assert_eq!(body, pattern_bytes(4, 0..30_000));
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

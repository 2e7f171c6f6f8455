//! Fault-free behaviour: a correct RFC 9110 server.

use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::client::{Conn, get};

fn server_with(path: &str, resource: Resource) -> FaultServer {
    let server = FaultServer::start();
    server.put(path, resource);
    server
}

#[test]
fn full_get() {
    let server = server_with("/f", Resource::pattern(1, 1000));
    let (head, body) = get(server.addr(), "/f", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(body, pattern_bytes(1, 0..1000));
    assert_eq!(head.header("accept-ranges"), Some("bytes"));
    assert_eq!(head.header("etag"), Some("\"s1-1000\""));
    assert_eq!(
        head.header("last-modified"),
        Some("Tue, 14 Nov 2023 22:13:20 GMT")
    );
    assert_eq!(
        head.header("content-type"),
        Some("application/octet-stream")
    );
    assert!(head.header("date").is_some());
    assert_eq!(server.body_bytes_served("/f"), 1000);
    assert_eq!(server.total_body_bytes(), 1000);
    assert_eq!(server.requests_for("/f"), 1);
}

#[test]
fn ranges() {
    let server = server_with("/f", Resource::pattern(2, 1000));
    let cases: &[(&str, u16, Option<&str>, std::ops::Range<u64>)] = &[
        ("bytes=0-99", 206, Some("bytes 0-99/1000"), 0..100),
        ("bytes=900-", 206, Some("bytes 900-999/1000"), 900..1000),
        ("bytes=-10", 206, Some("bytes 990-999/1000"), 990..1000),
        ("bytes=990-5000", 206, Some("bytes 990-999/1000"), 990..1000),
        ("bytes=0-1,5-6", 200, None, 0..1000),
        ("bytes=9-2", 200, None, 0..1000),
        ("lines=1-2", 200, None, 0..1000),
    ];
    for (range, status, content_range, bytes) in cases {
        let (head, body) = get(server.addr(), "/f", &[("Range", range)]);
        assert_eq!(head.status, *status, "{range}");
        assert_eq!(head.header("content-range"), *content_range, "{range}");
        assert_eq!(body, pattern_bytes(2, bytes.clone()), "{range}");
    }
}

#[test]
fn unsatisfiable_range() {
    let server = server_with("/f", Resource::pattern(3, 1000));
    for range in ["bytes=1000-", "bytes=5000-6000", "bytes=-0"] {
        let (head, _) = get(server.addr(), "/f", &[("Range", range)]);
        assert_eq!(head.status, 416, "{range}");
        assert_eq!(head.header("content-range"), Some("bytes */1000"));
    }
    assert_eq!(
        server.body_bytes_served("/f"),
        3 * "range not satisfiable\n".len() as u64
    );
}

#[test]
fn if_range() {
    let server = server_with("/f", Resource::pattern(4, 1000));
    let date = "Tue, 14 Nov 2023 22:13:20 GMT";
    let cases: &[(&str, u16)] = &[
        ("\"s4-1000\"", 206),
        ("\"s4-999\"", 200),
        ("W/\"s4-1000\"", 200),
        (date, 206),
        ("Tue, 14 Nov 2023 22:13:21 GMT", 200),
    ];
    for (if_range, status) in cases {
        let (head, body) = get(
            server.addr(),
            "/f",
            &[("Range", "bytes=500-"), ("If-Range", if_range)],
        );
        assert_eq!(head.status, *status, "{if_range}");
        let expected = if *status == 206 { 500..1000 } else { 0..1000 };
        assert_eq!(body, pattern_bytes(4, expected));
    }
}

#[test]
fn a_cdn_that_drops_etags_in_if_range() {
    let server = server_with("/f", Resource::pattern(4, 1000));
    server.set_fault("/f", Some(Fault::IgnoreIfRangeEtag));
    let date = "Tue, 14 Nov 2023 22:13:20 GMT";
    let cases: &[(Option<&str>, u16)] = &[
        (Some("\"s4-1000\""), 200),
        (Some("W/\"s4-1000\""), 200),
        (Some(date), 206),
        (Some("Tue, 14 Nov 2023 22:13:21 GMT"), 200),
        (None, 206),
    ];
    for (if_range, status) in cases {
        let mut headers = vec![("Range", "bytes=500-")];
        headers.extend(if_range.map(|v| ("If-Range", v)));
        let (head, body) = get(server.addr(), "/f", &headers);
        assert_eq!(head.status, *status, "{if_range:?}");
        let expected = if *status == 206 { 500..1000 } else { 0..1000 };
        assert_eq!(body, pattern_bytes(4, expected));
    }
}

#[test]
fn without_ranges_ignores_range() {
    let server = server_with("/f", Resource::bytes("hello world").without_ranges());
    let (head, body) = get(server.addr(), "/f", &[("Range", "bytes=6-")]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("accept-ranges"), None);
    assert_eq!(body, b"hello world");
}

#[test]
fn head_has_headers_but_no_body() {
    let server = server_with(
        "/f",
        Resource::pattern(5, 1234).with_content_disposition("attachment; filename=\"a.bin\""),
    );
    let mut conn = Conn::connect(server.addr());
    conn.send("HEAD", "/f", &[]);
    let (head, body) = conn.response(true);
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(1234));
    assert_eq!(
        head.header("content-disposition"),
        Some("attachment; filename=\"a.bin\"")
    );
    assert!(body.is_empty());
    // The connection stays usable: the next response follows immediately.
    conn.send("GET", "/f", &[("Range", "bytes=0-3")]);
    let (head, body) = conn.response(false);
    assert_eq!(head.status, 206);
    assert_eq!(body, pattern_bytes(5, 0..4));
    assert_eq!(server.body_bytes_served("/f"), 4);
}

#[test]
fn keep_alive_two_requests_one_connection() {
    let server = server_with("/a", Resource::pattern(6, 100));
    server.put("/b", Resource::bytes("bee"));
    let mut conn = Conn::connect(server.addr());
    conn.send("GET", "/a", &[]);
    let (h1, b1) = conn.response(false);
    conn.send("GET", "/b", &[]);
    let (h2, b2) = conn.response(false);
    assert_eq!((h1.status, h2.status), (200, 200));
    assert_eq!(b1, pattern_bytes(6, 0..100));
    assert_eq!(b2, b"bee");
    // Pipelined requests are answered in order too.
    conn.send_raw(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(conn.response(false).1, b"bee");
    let (h4, b4) = conn.response(false);
    assert_eq!(h4.header("connection"), Some("close"));
    assert_eq!(b4.len(), 100);
    assert!(conn.is_closed());
    let log = server.log();
    let paths: Vec<&str> = log.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/b", "/b", "/a"]);
}

#[test]
fn not_found_method_not_allowed_bad_request() {
    let server = FaultServer::start();
    let (head, _) = get(server.addr(), "/missing", &[]);
    assert_eq!(head.status, 404);
    let mut conn = Conn::connect(server.addr());
    conn.send("POST", "/missing", &[]);
    let (head, _) = conn.response(false);
    assert_eq!(head.status, 405);
    assert_eq!(head.header("allow"), Some("GET, HEAD"));
    let mut conn = Conn::connect(server.addr());
    conn.send_raw(b"NONSENSE\r\n\r\n");
    assert_eq!(conn.response(false).0.status, 400);
    let mut conn = Conn::connect(server.addr());
    conn.send_raw(format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(70_000)).as_bytes());
    assert_eq!(conn.response(false).0.status, 431);
}

#[test]
fn log_records_requests() {
    let server = server_with("/f", Resource::pattern(7, 10));
    let _ = get(
        server.addr(),
        "/f?x=1",
        &[("Range", "bytes=2-3"), ("X-Custom", "Yes")],
    );
    let log = server.log();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/f?x=1");
    assert_eq!(log[0].status, 206);
    assert_eq!(log[0].body_bytes, 2);
    assert_eq!(log[0].header("x-custom"), Some("Yes"));
    assert_eq!(log[0].header("RANGE"), Some("bytes=2-3"));
    assert!(
        log[0]
            .headers
            .iter()
            .all(|(n, _)| n == &n.to_ascii_lowercase())
    );
    assert_eq!(server.requests_for("/f"), 1);
    assert_eq!(server.body_bytes_served("/f"), 2);
}

#[test]
fn huge_pattern_range_near_the_end() {
    let len = 5u64 << 30;
    let server = server_with("/big", Resource::pattern(8, len));
    let (head, body) = get(server.addr(), "/big", &[("Range", "bytes=-100")]);
    assert_eq!(head.status, 206);
    assert_eq!(
        head.header("content-range"),
        Some(format!("bytes {}-{}/{len}", len - 100, len - 1).as_str())
    );
    assert_eq!(body, pattern_bytes(8, len - 100..len));
    let mut conn = Conn::connect(server.addr());
    conn.send("HEAD", "/big", &[]);
    assert_eq!(conn.response(true).0.content_length(), Some(len));
}

#[test]
fn replacing_a_resource_changes_validators() {
    let server = server_with("/f", Resource::pattern(9, 100));
    server.put("/f", Resource::pattern(10, 100));
    let (head, body) = get(
        server.addr(),
        "/f",
        &[("Range", "bytes=50-"), ("If-Range", "\"s9-100\"")],
    );
    assert_eq!(head.status, 200);
    assert_eq!(body, pattern_bytes(10, 0..100));
}

#[test]
fn conditional_requests() {
    let server = server_with("/f", Resource::pattern(11, 100));
    let (head, body) = get(server.addr(), "/f", &[("If-None-Match", "\"s11-100\"")]);
    assert_eq!(head.status, 304);
    assert!(body.is_empty() && head.content_length().is_none());
    let (head, _) = get(server.addr(), "/f", &[("If-Match", "\"other\"")]);
    assert_eq!(head.status, 412);
}

#[test]
fn redirect() {
    let server = server_with("/old", Resource::redirect(301, "/new"));
    let (head, _) = get(server.addr(), "/old", &[]);
    assert_eq!(head.status, 301);
    assert_eq!(head.header("location"), Some("/new"));
}

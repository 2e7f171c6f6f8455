//! Transport faults are survived: retries with back-off, Retry-After, stalls, framing.

use std::time::{Duration, Instant};

use durl_fetch::ErrorKind;
use durl_testkit::{Fault, FaultServer, Resource};

use crate::support::*;

const LEN: u64 = 300_000;

fn server() -> FaultServer {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server
}

#[tokio::test]
async fn retryable_statuses_are_retried_and_honour_retry_after() {
    let server = server();
    for code in [408, 429, 500, 502, 504] {
        server.push_fault(
            "/f",
            Fault::Status {
                code,
                retry_after: None,
            },
        );
    }
    server.push_fault(
        "/f",
        Fault::Status {
            code: 503,
            retry_after: Some("1".into()),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let req = request(&server, "/f", dir.path())
        .retry_delay(Duration::from_millis(10), Duration::from_secs(5));
    let start = Instant::now();
    durl_fetch::get(&req, &rec).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "Retry-After: 1 was honoured"
    );
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.retries(), 6);
}

#[tokio::test]
async fn retry_after_is_capped() {
    let server = server();
    server.push_fault(
        "/f",
        Fault::Status {
            code: 503,
            retry_after: Some("3600".into()),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_complete(dir.path(), &expected(LEN));
}

#[tokio::test]
async fn a_client_error_fails_at_once_and_leaves_nothing() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(&request(&server, "/missing", dir.path()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    assert!(
        err.to_string().contains("404") && err.to_string().contains("/missing"),
        "{err}"
    );
    assert_eq!(server.requests_for("/missing"), 1, "a 404 is not retried");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no error page, no leftovers"
    );
}

#[tokio::test]
async fn retries_give_up_with_the_last_error_and_keep_the_partial() {
    let server = server();
    server.push_fault("/f", Fault::CutAfter(1000));
    server.set_fault(
        "/f",
        Some(Fault::Status {
            code: 500,
            retry_after: None,
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    // The cut made progress, so it starts the count: two retries after it, then give up.
    let err = durl_fetch::get(&request(&server, "/f", dir.path()).retries(2), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Http);
    assert!(
        matches!(err, durl_fetch::Error::GaveUp { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(std::fs::metadata(part(dir.path())).unwrap().len(), 1000);
}

#[tokio::test]
async fn a_stalled_connection_is_detected_and_resumed() {
    let server = server();
    server.push_fault("/f", Fault::StallAfter(50_000, Duration::from_secs(30)));
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f", dir.path()).stall_timeout(Duration::from_millis(500));
    let start = Instant::now();
    durl_fetch::get(&req, &()).await.unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(gets(&server, "/f")[1].0.as_deref(), Some("bytes=50000-"));
}

#[tokio::test]
async fn a_silent_server_before_the_headers_is_a_stall_too() {
    // A server that accepts and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/f", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let req = durl_fetch::GetRequest::new(&url)
        .unwrap()
        .output(out(dir.path()))
        .retries(1)
        .retry_delay(Duration::from_millis(10), Duration::from_millis(10))
        .stall_timeout(Duration::from_millis(300));
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(
        matches!(err.root(), durl_fetch::Error::Stalled { .. }),
        "{err:?}"
    );
    drop(listener);
}

#[tokio::test]
async fn a_body_longer_than_its_length_is_cut_at_the_length() {
    let server = server();
    server.push_fault("/f", Fault::LongBody(5000));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
}

#[tokio::test]
async fn chunked_and_close_delimited_bodies_download() {
    for fault in [Fault::Chunked, Fault::CloseDelimited] {
        let server = server();
        server.push_fault("/f", fault.clone());
        let dir = tempfile::tempdir().unwrap();
        durl_fetch::get(&request(&server, "/f", dir.path()), &())
            .await
            .unwrap();
        assert_complete(dir.path(), &expected(LEN));
    }
}

#[tokio::test]
async fn encoded_bodies_are_stored_as_sent() {
    let server = FaultServer::start();
    server.put("/f", Resource::bytes(b"hello hello hello hello".to_vec()));
    server.push_fault("/f", Fault::Gzip);
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    let got = std::fs::read(out(dir.path())).unwrap();
    assert_eq!(
        &got[..2],
        &[0x1f, 0x8b],
        "gzip magic: not decoded on the fly"
    );
    assert_eq!(server.log()[0].header("accept-encoding"), Some("identity"));
}

#[tokio::test]
async fn redirects_are_followed_and_loops_refused() {
    let server = server();
    server.put("/a", Resource::redirect(301, "/b"));
    server.put("/b", Resource::redirect(302, &server.url("/c")));
    server.put("/c", Resource::redirect(307, "f"));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/a", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));

    server.put("/x", Resource::redirect(302, "/y"));
    server.put("/y", Resource::redirect(308, "/x"));
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(&request(&server, "/x", dir.path()), &())
        .await
        .unwrap_err();
    assert!(matches!(err, durl_fetch::Error::Redirect { .. }), "{err:?}");
    assert!(
        server.requests_for("/x") <= 2,
        "a loop stops when a URL repeats"
    );

    for i in 0..5 {
        server.put(
            &format!("/r{i}"),
            Resource::redirect(302, &format!("/r{}", i + 1)),
        );
    }
    server.put("/r5", Resource::redirect(302, "/f"));
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(&request(&server, "/r0", dir.path()).max_redirects(3), &())
        .await
        .unwrap_err();
    assert!(matches!(err, durl_fetch::Error::Redirect { .. }), "{err:?}");
}

/// Regression (issue 14.5): a server whose every response ends at the same byte (its
/// Content-Length larger than what it has) was retried with back-off for minutes. The same
/// failure at the same offset with no progress three times in a row gives up.
#[tokio::test]
async fn the_same_cut_at_the_same_byte_three_times_gives_up_early() {
    let server = server();
    server.set_fault("/f", Some(Fault::CutAtOffset(100_000)));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    // The default retry count (10).
    let err = durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    // The first request got 100000 bytes and was cut there; the next two were cut at the
    // same byte with nothing new: three identical failures give up.
    assert_eq!(server.requests_for("/f"), 3, "{err}");
    assert_eq!(rec.retries(), 2);
    assert_eq!(std::fs::metadata(part(dir.path())).unwrap().len(), 100_000);
    // The partial is kept for a later run (a fixed server).
    server.set_fault("/f", None);
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
}

//! Mirrors: one file from several servers.

use std::time::Duration;

use durl_fetch::DropReason;
use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::support::*;

const MIB: u64 = 1 << 20;
const LEN: u64 = 8 * MIB;

fn mirror(seed: u64) -> FaultServer {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(seed, LEN));
    server
}

#[tokio::test]
async fn segments_come_from_every_mirror() {
    let (a, b) = (mirror(SEED), mirror(SEED));
    let dir = tempfile::tempdir().unwrap();
    let req = request(&a, "/f", dir.path())
        .connections(4)
        .mirrors(&[b.url("/f")])
        .unwrap();
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(a.body_bytes_served("/f") > 0 && b.body_bytes_served("/f") > 0);
}

#[tokio::test]
async fn a_mirror_with_another_file_is_dropped_and_never_mixed_in() {
    let (a, b) = (mirror(SEED), mirror(99));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let req = request(&a, "/f", dir.path())
        .connections(4)
        .mirrors(&[b.url("/f")])
        .unwrap();
    durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(*rec.dropped.lock().unwrap(), [DropReason::Disagrees]);
    assert!(rec.restarts().is_empty(), "the primary's version was kept");
}

#[tokio::test]
async fn a_mirror_that_keeps_failing_is_dropped_and_the_file_completes() {
    let (a, b) = (mirror(SEED), mirror(SEED));
    // The primary is slow, and eight connections start at once: the failing mirror is
    // tried several times.
    a.put("/f", Resource::pattern(SEED, LEN).with_rate_limit(2 * MIB));
    b.set_fault(
        "/f",
        Some(Fault::Status {
            code: 503,
            retry_after: None,
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let req = request(&a, "/f", dir.path())
        .connections(8)
        .mirrors(&[b.url("/f")])
        .unwrap();
    durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(
        *rec.dropped.lock().unwrap(),
        [DropReason::KeepsFailing],
        "{} requests to the failing mirror",
        b.requests_for("/f")
    );
    assert_eq!(b.requests_for("/f"), 3, "not used after it was dropped");
}

#[tokio::test]
async fn a_dead_primary_is_replaced_by_its_mirror() {
    let b = mirror(SEED);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let req = durl_fetch::GetRequest::new(&format!("http://127.0.0.1:{port}/f"))
        .unwrap()
        .output(out(dir.path()))
        .retry_delay(Duration::from_millis(10), Duration::from_millis(50))
        .mirrors(&[b.url("/f")])
        .unwrap();
    durl_fetch::get(&req, &()).await.unwrap();
    assert!(std::fs::read(out(dir.path())).unwrap() == pattern_bytes(SEED, 0..LEN));
}

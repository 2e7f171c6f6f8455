//! Mirrors: one file from several servers.

use std::time::Duration;

use durl_fetch::{DropReason, GetRequest};
use durl_testkit::{Fault, FaultServer, FtpFault, FtpServer, Resource, pattern_bytes};

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

/// An FTP server holding `f.bin` with the pattern of `seed`, `len` bytes, and this `MDTM`.
fn ftp_mirror(seed: u64, len: u64, mdtm: &str) -> FtpServer {
    let server = FtpServer::start();
    server.put_with_mdtm("f.bin", pattern_bytes(seed, 0..len), mdtm);
    server
}

const MDTM: &str = "20300101000000";

fn ftp_request(a: &FtpServer, b: &FtpServer, dir: &std::path::Path) -> GetRequest {
    GetRequest::new(&a.url("f.bin"))
        .unwrap()
        .output(out(dir))
        .mirrors(&[b.url("f.bin")])
        .unwrap()
        .retries(5)
        .retry_delay(Duration::from_millis(10), Duration::from_millis(100))
        .stall_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn ftp_segments_come_from_every_mirror() {
    let (a, b) = (ftp_mirror(SEED, LEN, MDTM), ftp_mirror(SEED, LEN, MDTM));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let req = ftp_request(&a, &b, dir.path()).connections(4);
    durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(!a.retrs().is_empty() && !b.retrs().is_empty());
    assert!(rec.dropped.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_ftp_mirror_with_another_mdtm_or_size_is_dropped_and_never_mixed_in() {
    for (seed, len, mdtm) in [
        (99, LEN, "20310101000000"),
        (99, LEN - 1000, MDTM),
        (SEED, LEN + 1000, MDTM),
    ] {
        let (a, b) = (ftp_mirror(SEED, LEN, MDTM), ftp_mirror(seed, len, mdtm));
        let dir = tempfile::tempdir().unwrap();
        let rec = Recorder::default();
        let req = ftp_request(&a, &b, dir.path()).connections(4);
        durl_fetch::get(&req, &rec).await.unwrap();
        assert_complete(dir.path(), &expected(LEN));
        assert_eq!(*rec.dropped.lock().unwrap(), [DropReason::Disagrees]);
        assert!(rec.restarts().is_empty(), "the primary's version was kept");
        assert!(
            b.retrs().is_empty(),
            "no byte of the other version was fetched"
        );
    }
}

#[tokio::test]
async fn a_single_ftp_stream_cut_on_the_primary_never_continues_from_a_disagreeing_mirror() {
    let (a, b) = (
        ftp_mirror(SEED, LEN, MDTM),
        ftp_mirror(99, LEN, "20310101000000"),
    );
    a.push_fault("f.bin", FtpFault::CutAfter(1_000_000));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let outcome = durl_fetch::get(&ftp_request(&a, &b, dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(*rec.dropped.lock().unwrap(), [DropReason::Disagrees]);
    assert!(rec.restarts().is_empty());
    assert!(b.retrs().is_empty());
    assert_eq!(outcome.fetched, LEN);
    let offsets: Vec<u64> = a.retrs().iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [0, 1_000_000]);
}

/// Regression: one FTP server that refused `REST` made every FTP source "not resuming", and
/// the download started over from byte 0 at each resume that landed on it. Now a resume goes to
/// a source that resumes; the refusing one still served the first bytes.
#[tokio::test]
async fn a_mirror_that_refuses_rest_sends_resumes_to_the_others_and_never_restarts() {
    let (a, b) = (ftp_mirror(SEED, LEN, MDTM), ftp_mirror(SEED, LEN, MDTM));
    a.refuse_rest(true);
    a.push_fault("f.bin", FtpFault::CutAfter(1_000_000));
    b.push_fault("f.bin", FtpFault::CutAfter(1_000_000));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let outcome = durl_fetch::get(&ftp_request(&a, &b, dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(rec.restarts().is_empty(), "{:?}", rec.restarts());
    assert_eq!(outcome.fetched, LEN, "every byte fetched once");
    // A from 0 (cut), B resumes (cut), A refuses REST, B resumes again and ends.
    let a_offsets: Vec<u64> = a.retrs().iter().map(|r| r.offset).collect();
    let b_offsets: Vec<u64> = b.retrs().iter().map(|r| r.offset).collect();
    assert_eq!(a_offsets, [0]);
    assert_eq!(b_offsets, [1_000_000, 2_000_000]);
}

#[tokio::test]
async fn a_dead_ftp_primary_is_replaced_by_its_mirror() {
    let b = ftp_mirror(SEED, LEN, MDTM);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let req = GetRequest::new(&format!("ftp://127.0.0.1:{port}/f.bin"))
        .unwrap()
        .output(out(dir.path()))
        .mirrors(&[b.url("f.bin")])
        .unwrap()
        .retries(5)
        .retry_delay(Duration::from_millis(10), Duration::from_millis(100));
    let outcome = durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    // One refused connection, then the mirror serves the whole file.
    assert_eq!(rec.retries(), 1);
    assert_eq!(outcome.fetched, LEN);
    let offsets: Vec<u64> = b.retrs().iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [0]);
}

#[tokio::test]
async fn ftp_and_http_urls_are_not_mirrors_of_one_file() {
    let a = ftp_mirror(SEED, LEN, MDTM);
    let b = mirror(SEED);
    let dir = tempfile::tempdir().unwrap();
    let req = GetRequest::new(&a.url("f.bin"))
        .unwrap()
        .output(out(dir.path()))
        .mirrors(&[b.url("/f")])
        .unwrap();
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert!(err.to_string().contains("another protocol"), "{err}");
    assert!(a.retrs().is_empty() && b.requests_for("/f") == 0);
}

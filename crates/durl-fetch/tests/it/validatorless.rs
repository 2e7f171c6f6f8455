//! Resumes without a strong validator (no ETag and no Last-Modified, or a weak ETag only):
//! the bytes before the resume point are fetched again with the rest and compared with the
//! partial, so a file that changed between runs is never completed as old + new bytes.

use durl_fetch::{ErrorKind, RestartReason};
use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::support::*;

const LEN: u64 = 1 << 20;
const CUT: u64 = 500_000;
const OVERLAP: u64 = 64 << 10;

/// `seed`'s pattern with no validator at all.
fn bare(seed: u64) -> Resource {
    Resource::pattern(seed, LEN)
        .with_etag(None)
        .with_last_modified(None)
}

/// `seed`'s pattern with only a weak ETag, the same for every content.
fn weak(seed: u64) -> Resource {
    Resource::pattern(seed, LEN)
        .with_etag(Some("W/\"same\""))
        .with_last_modified(None)
}

/// A first run cut after `CUT` bytes: a partial with its state.
async fn first_run_cut(server: &FaultServer, dir: &std::path::Path) {
    server.push_fault("/f", Fault::CutAfter(CUT));
    let err = durl_fetch::get(&request(server, "/f", dir).retries(0), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(std::fs::metadata(part(dir)).unwrap().len(), CUT);
}

#[tokio::test]
async fn a_file_changed_between_runs_without_validators_is_fetched_again_whole() {
    for make in [bare, weak] {
        let server = FaultServer::start();
        server.put("/f", make(SEED));
        let dir = tempfile::tempdir().unwrap();
        first_run_cut(&server, dir.path()).await;
        // Same length, other content, nothing in the headers says so.
        server.put("/f", make(99));
        let rec = Recorder::default();
        let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
            .await
            .unwrap();
        assert_complete(dir.path(), &pattern_bytes(99, 0..LEN));
        assert_eq!(rec.restarts(), [RestartReason::OverlapDiffers]);
        assert_eq!(outcome.resumed_from, CUT);
        // The resume asked for the 64 KiB before the offset.
        assert_eq!(
            gets(&server, "/f")[1].0.as_deref(),
            Some(format!("bytes={}-", CUT - OVERLAP).as_str())
        );
    }
}

#[tokio::test]
async fn an_unchanged_file_without_validators_resumes_with_one_request() {
    for make in [bare, weak] {
        let server = FaultServer::start();
        server.put("/f", make(SEED));
        let dir = tempfile::tempdir().unwrap();
        first_run_cut(&server, dir.path()).await;
        let rec = Recorder::default();
        let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
            .await
            .unwrap();
        assert_complete(dir.path(), &expected(LEN));
        assert!(rec.restarts().is_empty(), "{:?}", rec.restarts());
        assert_eq!((outcome.resumed_from, outcome.fetched), (CUT, LEN - CUT));
        // One request: the overlap and the rest; the overlap is the only byte fetched twice.
        assert_eq!(gets(&server, "/f").len(), 2);
        assert_eq!(server.body_bytes_served("/f"), LEN + OVERLAP);
    }
}

#[tokio::test]
async fn a_change_of_one_byte_inside_the_window_is_caught() {
    let server = FaultServer::start();
    let old = pattern_bytes(SEED, 0..LEN);
    let plain = |data: Vec<u8>| {
        Resource::bytes(data)
            .with_etag(None)
            .with_last_modified(None)
    };
    server.put("/f", plain(old.clone()));
    let dir = tempfile::tempdir().unwrap();
    first_run_cut(&server, dir.path()).await;
    let mut new = old;
    new[(CUT - 1) as usize] ^= 1;
    server.put("/f", plain(new.clone()));
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &new);
    assert_eq!(rec.restarts(), [RestartReason::OverlapDiffers]);
}

#[tokio::test]
async fn a_partial_shorter_than_the_window_is_compared_whole() {
    let server = FaultServer::start();
    server.put("/f", bare(SEED));
    server.push_fault("/f", Fault::CutAfter(1000));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).retries(0), &())
        .await
        .unwrap_err();
    server.put("/f", bare(99));
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &pattern_bytes(99, 0..LEN));
    assert_eq!(rec.restarts(), [RestartReason::OverlapDiffers]);
    assert_eq!(gets(&server, "/f")[1].0.as_deref(), Some("bytes=0-"));
}

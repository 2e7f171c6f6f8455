//! CDNs that answer `Range` + `If-Range: "etag"` with 200 and the whole file although the
//! file did not change (they honour only dates there), but honour a plain `Range`: the range
//! is asked again once without `If-Range`, its 206 used only with the validator held, and the
//! origin remembered for the rest of the run (segments too).

use durl_fetch::{ErrorKind, RestartReason};
use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::support::*;

const LEN: u64 = 8 << 20;
const CUT: u64 = 500_000;
/// Bytes per second of each response: a 200 that durl drops has sent little by then.
const RATE: u64 = 64 << 20;
/// The same for each of four segments' connections: several dropped 200s may be in flight at
/// once, each sending until durl reads its head, which on a loaded machine takes a while.
const SEGMENT_RATE: u64 = 8 << 20;

fn etag(seed: u64) -> String {
    format!("\"s{seed}-{LEN}\"")
}

/// A first run cut after `CUT` bytes (one connection), then the CDN behaviour for every
/// later request.
async fn partial_behind_a_cdn(server: &FaultServer, dir: &std::path::Path, rate: u64) {
    server.put("/f", Resource::pattern(SEED, LEN).with_rate_limit(rate));
    server.push_fault("/f", Fault::CutAfter(CUT));
    let err = durl_fetch::get(&request(server, "/f", dir).retries(0), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    server.set_fault("/f", Some(Fault::IgnoreIfRangeEtag));
}

#[tokio::test]
async fn a_cdn_that_drops_if_range_is_asked_again_without_it() {
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    partial_behind_a_cdn(&server, dir.path(), RATE).await;
    let rec = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(rec.restarts().is_empty(), "{:?}", rec.restarts());
    assert_eq!((outcome.resumed_from, outcome.fetched), (CUT, LEN - CUT));
    let range = Some(format!("bytes={CUT}-"));
    assert_eq!(
        gets(&server, "/f")[1..],
        [(range.clone(), Some(etag(SEED))), (range, None)]
    );
    let statuses: Vec<u16> = server.log().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [200, 200, 206]);
    // Not the whole file twice: the 200 was dropped after its head.
    let served = server.body_bytes_served("/f");
    assert!(served < LEN + LEN / 4, "{served}");
}

#[tokio::test]
async fn segments_behind_such_a_cdn_send_range_alone_once_it_is_known() {
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    partial_behind_a_cdn(&server, dir.path(), SEGMENT_RATE).await;
    let rec = Recorder::default();
    let req = request(&server, "/f", dir.path()).connections(4);
    durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(rec.restarts().is_empty(), "{:?}", rec.restarts());
    let log = server.log();
    // Every 206 answered a Range without If-Range; at most the segments already in flight
    // when the first 200 came back were answered 200 (and asked again).
    let ok = log[1..].iter().filter(|s| s.status == 200).count();
    let partial: Vec<_> = log[1..].iter().filter(|s| s.status == 206).collect();
    assert!((1..=4).contains(&ok), "{ok} 200s");
    assert!(partial.len() >= 4, "{} segments", partial.len());
    assert!(partial.iter().all(|s| s.header("if-range").is_none()));
    // The dropped 200s sent a little each (up to half the file in all, ~125 ms of each of
    // four); one 200 read through would have sent the whole file once more.
    let served = server.body_bytes_served("/f");
    assert!(served < LEN + LEN / 2, "{served}");
}

#[tokio::test]
async fn a_cdn_that_also_changed_the_file_means_a_restart() {
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    partial_behind_a_cdn(&server, dir.path(), RATE).await;
    server.put("/f", Resource::pattern(99, LEN).with_rate_limit(RATE));
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &pattern_bytes(99, 0..LEN));
    assert_eq!(rec.restarts(), [RestartReason::RemoteChanged]);
    // The 200 of the new version is the new file: no second request.
    assert_eq!(gets(&server, "/f").len(), 2);
}

#[tokio::test]
async fn a_206_without_if_range_must_carry_the_validator_held() {
    // The CDN drops If-Range; asked again without it, it answers 206 with another ETag (the
    // file changed in between): nothing of it is appended.
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    partial_behind_a_cdn(&server, dir.path(), RATE).await;
    server.push_fault("/f", Fault::IgnoreIfRangeEtag);
    server.push_fault("/f", Fault::ChangeEtag("\"other\"".into()));
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.restarts(), [RestartReason::RemoteChanged]);
}

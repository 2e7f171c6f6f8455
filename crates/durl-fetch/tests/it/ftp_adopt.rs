//! `-c` for `ftp://`: an existing file without a state is adopted as a prefix only after its
//! last 64 KiB are read back (`REST` + `RETR`) and compared, as for HTTP (one engine step for
//! both protocols). Against the testkit FTP server, which logs every `RETR` and its offset.

use std::path::Path;
use std::time::Duration;

use durl_fetch::{GetRequest, RestartReason};
use durl_testkit::{FtpServer, pattern_bytes};

use crate::support::{Recorder, SEED, assert_complete, out};

const LEN: u64 = 3_000_000;
/// How much of an adopted file's tail is compared.
const CHECK: u64 = 64 << 10;

fn serve() -> (FtpServer, Vec<u8>) {
    let server = FtpServer::start();
    let body = pattern_bytes(SEED, 0..LEN);
    server.put("f.bin", body.clone());
    (server, body)
}

fn request(server: &FtpServer, dir: &Path) -> GetRequest {
    GetRequest::new(&server.url("f.bin"))
        .unwrap()
        .output(out(dir))
        .continue_existing(true)
        .retries(3)
        .retry_delay(Duration::from_millis(10), Duration::from_millis(100))
        .stall_timeout(Duration::from_secs(5))
}

fn offsets(server: &FtpServer) -> Vec<u64> {
    server.retrs().iter().map(|r| r.offset).collect()
}

#[tokio::test]
async fn a_matching_prefix_is_continued_after_its_tail_is_compared() {
    let (server, body) = serve();
    let dir = tempfile::tempdir().unwrap();
    let prefix = 600_000;
    std::fs::write(out(dir.path()), &body[..prefix as usize]).unwrap();
    let rec = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(outcome.resumed_from, prefix);
    assert_eq!(outcome.fetched, LEN - prefix);
    assert!(rec.restarts().is_empty(), "{:?}", rec.restarts());
    // The tail check, then the rest from the end of the prefix.
    assert_eq!(offsets(&server), [prefix - CHECK, prefix]);
}

#[tokio::test]
async fn a_mismatching_prefix_is_restarted_from_zero_with_a_message() {
    let (server, body) = serve();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(out(dir.path()), pattern_bytes(12345, 0..600_000)).unwrap();
    let rec = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(rec.restarts(), [RestartReason::PrefixMismatch]);
    assert_eq!((outcome.resumed_from, outcome.fetched), (0, LEN));
    assert_eq!(offsets(&server), [600_000 - CHECK, 0]);
}

#[tokio::test]
async fn a_complete_file_is_already_complete_after_the_tail_check() {
    let (server, body) = serve();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(out(dir.path()), &body).unwrap();
    let outcome = durl_fetch::get(&request(&server, dir.path()), &())
        .await
        .unwrap();
    assert!(outcome.already_complete, "{outcome:?}");
    assert_eq!(outcome.fetched, 0);
    assert_complete(dir.path(), &body);
    assert_eq!(offsets(&server), [LEN - CHECK], "only the tail check");
}

#[tokio::test]
async fn a_longer_file_is_not_a_prefix_and_starts_again() {
    let (server, body) = serve();
    let dir = tempfile::tempdir().unwrap();
    let mut longer = body.clone();
    longer.extend_from_slice(b"trailing junk");
    std::fs::write(out(dir.path()), longer).unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(rec.restarts(), [RestartReason::PrefixMismatch]);
}

#[tokio::test]
async fn a_server_that_refuses_rest_cannot_check_the_prefix_and_starts_again() {
    let (server, body) = serve();
    server.refuse_rest(true);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(out(dir.path()), &body[..600_000]).unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(rec.restarts(), [RestartReason::ResumeRefused]);
    assert_eq!(offsets(&server).last(), Some(&0));
}

#[tokio::test]
async fn without_continue_an_existing_file_is_refused_untouched() {
    let (server, body) = serve();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(out(dir.path()), &body[..600_000]).unwrap();
    let req = request(&server, dir.path()).continue_existing(false);
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert!(
        matches!(err, durl_fetch::Error::OutputExists { .. }),
        "{err:?}"
    );
    assert_eq!(std::fs::read(out(dir.path())).unwrap(), &body[..600_000]);
    assert!(server.retrs().is_empty());
}

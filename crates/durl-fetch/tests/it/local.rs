//! The local side: locks, existing outputs, adopting a prefix, cancellation, > 4 GiB.

use std::fs::File;
use std::time::Duration;

use durl_fetch::{CancellationToken, ErrorKind, RestartReason, fuzzing::State};
use durl_testkit::{FaultServer, Resource, pattern_bytes};

use durl_fetch::fuzzing::RangeSet;

use crate::support::*;

const LEN: u64 = 1 << 20;

fn server() -> FaultServer {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server
}

#[tokio::test]
async fn a_second_process_on_the_same_output_is_refused() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let held = File::create(part(dir.path())).unwrap();
    held.try_lock().unwrap();
    let err = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Locked, "{err}");
    assert_eq!(server.log().len(), 0, "refused before any request");
}

#[tokio::test]
async fn an_existing_output_is_never_clobbered_silently() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(out(dir.path()), b"precious").unwrap();
    let err = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exists);
    assert_eq!(std::fs::read(out(dir.path())).unwrap(), b"precious");
    assert!(!part(dir.path()).exists());

    durl_fetch::get(&request(&server, "/f", dir.path()).overwrite(true), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
}

#[tokio::test]
async fn continue_adopts_a_matching_prefix_after_checking_its_tail() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let prefix = 600_000;
    std::fs::write(out(dir.path()), pattern_bytes(SEED, 0..prefix)).unwrap();
    let outcome = durl_fetch::get(
        &request(&server, "/f", dir.path()).continue_existing(true),
        &(),
    )
    .await
    .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(outcome.resumed_from, prefix);
    let check = 64 << 10;
    assert_eq!(server.body_bytes_served("/f"), LEN - prefix + check);
    let ranges: Vec<_> = gets(&server, "/f").into_iter().map(|(r, _)| r).collect();
    assert_eq!(
        ranges,
        [
            Some(format!("bytes={}-{}", prefix - check, prefix - 1)),
            Some(format!("bytes={prefix}-")),
        ]
    );
}

#[tokio::test]
async fn continue_with_a_foreign_prefix_downloads_from_zero() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(out(dir.path()), pattern_bytes(12345, 0..600_000)).unwrap();
    let rec = Recorder::default();
    durl_fetch::get(
        &request(&server, "/f", dir.path()).continue_existing(true),
        &rec,
    )
    .await
    .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.restarts(), [RestartReason::PrefixMismatch]);
}

#[tokio::test]
async fn continue_on_a_complete_file_downloads_nothing_more() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(out(dir.path()), expected(LEN)).unwrap();
    let outcome = durl_fetch::get(
        &request(&server, "/f", dir.path()).continue_existing(true),
        &(),
    )
    .await
    .unwrap();
    assert!(outcome.already_complete);
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(
        server.body_bytes_served("/f"),
        64 << 10,
        "only the tail check"
    );
}

#[tokio::test]
async fn continue_on_a_longer_file_starts_again() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let mut longer = expected(LEN);
    longer.extend_from_slice(b"trailing junk");
    std::fs::write(out(dir.path()), longer).unwrap();
    durl_fetch::get(
        &request(&server, "/f", dir.path()).continue_existing(true),
        &(),
    )
    .await
    .unwrap();
    assert_complete(dir.path(), &expected(LEN));
}

#[tokio::test]
async fn cancelling_checkpoints_and_the_next_run_continues() {
    let server = FaultServer::start();
    server.put(
        "/f",
        Resource::pattern(SEED, LEN).with_rate_limit(256 << 10),
    );
    let dir = tempfile::tempdir().unwrap();
    let token = CancellationToken::new();
    let req = request(&server, "/f", dir.path()).cancel_token(token.clone());
    let task = tokio::spawn(async move { durl_fetch::get(&req, &()).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.body_bytes_served("/f") < 200_000 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    token.cancel();
    let err = task.await.unwrap().unwrap_err();
    let durl_fetch::Error::Interrupted { durable, .. } = err else {
        panic!("{err:?}")
    };
    assert!(durable >= 100_000, "{durable}");
    let state = State::decode(&std::fs::read_to_string(state(dir.path())).unwrap()).unwrap();
    assert_eq!(state.durable(), durable, "the state holds what is durable");
    assert_eq!(std::fs::metadata(part(dir.path())).unwrap().len(), durable);

    server.put("/f", Resource::pattern(SEED, LEN));
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_eq!(outcome.resumed_from, durable);
    assert_complete(dir.path(), &expected(LEN));
}

#[tokio::test]
async fn offsets_past_4_gib_resume_correctly() {
    let len: u64 = 5 << 30;
    let tail = 1 << 20;
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, len));
    let dir = tempfile::tempdir().unwrap();
    // A sparse part file that claims everything but the last MiB.
    let durable = len - tail;
    File::create(part(dir.path()))
        .unwrap()
        .set_len(durable)
        .unwrap();
    write_state(
        &server,
        dir.path(),
        len,
        Some(len),
        RangeSet::prefix(durable),
    );
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_eq!((outcome.bytes, outcome.fetched), (len, tail));
    assert_eq!(gets(&server, "/f")[0].0, Some(format!("bytes={durable}-")));
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(out(dir.path())).unwrap();
    assert_eq!(f.metadata().unwrap().len(), len);
    f.seek(SeekFrom::Start(durable)).unwrap();
    let mut got = Vec::new();
    f.read_to_end(&mut got).unwrap();
    assert!(got == pattern_bytes(SEED, durable..len));
}

#[tokio::test]
async fn a_state_for_another_url_is_not_trusted() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(part(dir.path()), vec![0u8; 5000]).unwrap();
    let st = State {
        have: durl_fetch::fuzzing::RangeSet::prefix(5000),
        ..State::fresh(&url::Url::parse("http://elsewhere.invalid/f").unwrap())
    };
    std::fs::write(state(dir.path()), st.encode()).unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.restarts(), [RestartReason::StateUnusable]);
}

#[tokio::test]
async fn continue_against_a_server_without_ranges_says_so_and_downloads_once() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN).without_ranges());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(out(dir.path()), pattern_bytes(SEED, 0..1000)).unwrap();
    let rec = Recorder::default();
    durl_fetch::get(
        &request(&server, "/f", dir.path()).continue_existing(true),
        &rec,
    )
    .await
    .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.restarts(), [RestartReason::RangeIgnored]);
    assert_eq!(
        server.requests_for("/f"),
        1,
        "the 200 of the check is the download"
    );
    assert_eq!(server.body_bytes_served("/f"), LEN);
}

#[tokio::test]
async fn a_finished_download_is_recognised_without_transferring_it_again() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    let before = server.log().len();
    // The same request again: one body-less request proves the file is complete and current.
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert!(outcome.already_complete);
    let again = &server.log()[before..];
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].status, 416);
    assert_eq!(
        again[0].header("range"),
        Some(format!("bytes={LEN}-").as_str())
    );
    assert_complete(dir.path(), &expected(LEN));

    // Once the remote file changes, the old copy is not "complete" any more, and it is
    // not replaced without being asked to.
    server.put("/f", Resource::pattern(99, LEN));
    let err = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Exists);
    durl_fetch::get(
        &request(&server, "/f", dir.path()).continue_existing(true),
        &(),
    )
    .await
    .unwrap();
    assert_complete(dir.path(), &pattern_bytes(99, 0..LEN));
}

/// `kill -9` in the last window before the rename: every byte is in the part file and the
/// state claims them all. The next run commits without fetching a body byte again.
#[tokio::test]
async fn a_kill_just_before_the_final_rename_commits_without_refetching() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(part(dir.path()), expected(LEN)).unwrap();
    write_state(&server, dir.path(), LEN, Some(LEN), RangeSet::prefix(LEN));
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_eq!(outcome.bytes, LEN);
    // One `Range: bytes=LEN-` answered 416: no byte of the file travelled again.
    let statuses: Vec<u16> = server.log().iter().map(|s| s.status).collect();
    assert_eq!(statuses, [416]);
    assert_complete(dir.path(), &expected(LEN));
}

/// `kill -9` after the rename but before the state file was removed (with or without the
/// finished file's mark): the next run recognises the complete file, removes the stale
/// state, and fetches nothing.
#[tokio::test]
async fn a_kill_between_the_final_rename_and_removing_the_state_is_cleaned_up() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    // A finished download, with its mark: then the stale state its crash would leave.
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    let before = server.log().len();
    write_state(&server, dir.path(), LEN, Some(LEN), RangeSet::prefix(LEN));
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert!(outcome.already_complete);
    let statuses: Vec<u16> = server.log()[before..].iter().map(|s| s.status).collect();
    assert_eq!(statuses, [416]);
    assert_complete(dir.path(), &expected(LEN));

    // The same crash a moment earlier, before the mark was written: the output has no mark,
    // so only the stale state vouches for it; -c checks it against the server.
    let bare = tempfile::tempdir().unwrap();
    std::fs::write(out(bare.path()), expected(LEN)).unwrap();
    write_state(&server, bare.path(), LEN, Some(LEN), RangeSet::prefix(LEN));
    let outcome = durl_fetch::get(
        &request(&server, "/f", bare.path()).continue_existing(true),
        &(),
    )
    .await
    .unwrap();
    assert!(outcome.already_complete);
    assert!(server.log()[before..].iter().all(|s| s.status != 200));
    assert_complete(bare.path(), &expected(LEN));
}

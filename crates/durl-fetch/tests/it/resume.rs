//! Validated resume (RFC 9110 §13.1.5, §14, §15.3.7, §15.5.17).

use durl_fetch::{ErrorKind, RestartReason, fuzzing::State};
use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use durl_fetch::fuzzing::RangeSet;

use crate::support::*;

const LEN: u64 = 1 << 20;

#[tokio::test]
async fn fresh_download_is_exact_and_fetches_each_byte_once() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(
        (outcome.bytes, outcome.fetched, outcome.resumed_from),
        (LEN, LEN, 0)
    );
    assert_eq!(server.body_bytes_served("/f"), LEN);
    let log = server.log();
    assert_eq!(log[0].header("accept-encoding"), Some("identity"));
    assert_eq!(log[0].header("range"), None);
}

#[tokio::test]
async fn resume_from_state_fetches_only_the_missing_bytes() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(300_000));
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(&request(&server, "/f", dir.path()).retries(0), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    // The partial and its state are kept, and the state claims exactly what is on disk.
    let state = State::decode(&std::fs::read_to_string(state(dir.path())).unwrap()).unwrap();
    assert_eq!(state.durable(), 300_000);
    assert_eq!(std::fs::metadata(part(dir.path())).unwrap().len(), 300_000);
    assert!(!out(dir.path()).exists());

    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(
        (outcome.resumed_from, outcome.fetched),
        (300_000, LEN - 300_000)
    );
    assert_eq!(server.body_bytes_served("/f"), LEN, "no byte fetched twice");
    let etag = format!("\"s{SEED}-{LEN}\"");
    assert_eq!(
        gets(&server, "/f")[1],
        (Some("bytes=300000-".into()), Some(etag))
    );
}

#[tokio::test]
async fn retry_in_the_same_run_continues_where_it_stopped() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(100_000));
    server.push_fault("/f", Fault::ResetAfter(200_000));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.retries(), 2);
    let ranges: Vec<_> = gets(&server, "/f").into_iter().map(|(r, _)| r).collect();
    assert_eq!(ranges[..2], [None, Some("bytes=100000-".into())]);
    // A reset discards what was in flight, so the third request starts wherever the
    // client's data really ended: after 100 000 and no later than 300 000.
    let third: u64 = ranges[2].as_deref().unwrap()["bytes=".len()..]
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!((100_000..=300_000).contains(&third), "{third}");
    assert_eq!(server.body_bytes_served("/f") - (300_000 - third), LEN);
}

#[tokio::test]
async fn a_changed_file_is_never_spliced_onto_old_bytes() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(500_000));
    let dir = tempfile::tempdir().unwrap();
    let first = request(&server, "/f", dir.path()).retries(0);
    durl_fetch::get(&first, &()).await.unwrap_err();
    // The file changes on the server (same length, new content and ETag).
    server.put("/f", Resource::pattern(99, LEN));
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &pattern_bytes(99, 0..LEN));
    assert_eq!(rec.restarts(), [RestartReason::RemoteChanged]);
}

#[tokio::test]
async fn a_changed_file_is_caught_even_when_the_server_ignores_if_range() {
    // The server answers the resume with 206 but a different ETag (it did not evaluate
    // If-Range): durl must not append those bytes.
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(500_000));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).retries(0), &())
        .await
        .unwrap_err();
    server.put("/f", Resource::pattern(99, LEN));
    server.push_fault("/f", Fault::IgnoreIfRange);
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &pattern_bytes(99, 0..LEN));
    assert_eq!(rec.restarts(), [RestartReason::RemoteChanged]);
}

#[tokio::test]
async fn a_200_to_a_range_request_rewrites_from_zero() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(400_000));
    // Every later answer is a 200, also to the range asked again without If-Range (cdn.rs).
    server.set_fault("/f", Some(Fault::IgnoreRange));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.restarts(), [RestartReason::RangeIgnored]);
}

#[tokio::test]
async fn a_206_that_starts_earlier_is_used_by_skipping_the_overlap() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(400_000));
    server.push_fault("/f", Fault::ShiftContentRange(-1000));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(server.body_bytes_served("/f"), LEN + 1000);
}

#[tokio::test]
async fn a_206_that_starts_later_is_never_written() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(400_000));
    server.push_fault("/f", Fault::ShiftContentRange(1000));
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(&request(&server, "/f", dir.path()).retries(1), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    // Nothing of the bad answer was written; a later run completes exactly.
    assert_eq!(std::fs::metadata(part(dir.path())).unwrap().len(), 400_000);
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
}

#[tokio::test]
async fn a_206_with_another_total_length_restarts() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(400_000));
    server.push_fault("/f", Fault::WrongTotal(LEN + 5));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.restarts(), [RestartReason::RemoteChanged]);
}

/// Writes a part file holding the first `durable` bytes and a state that claims them.
fn seed_partial(server: &FaultServer, dir: &std::path::Path, durable: u64, length: u64) {
    std::fs::write(part(dir), pattern_bytes(SEED, 0..durable)).unwrap();
    write_state(server, dir, LEN, Some(length), RangeSet::prefix(durable));
}

#[tokio::test]
async fn a_416_for_a_complete_partial_means_done() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    seed_partial(&server, dir.path(), LEN, LEN);
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(outcome.fetched, 0);
    assert_eq!(server.log().len(), 1);
    assert_eq!(server.log()[0].status, 416);
    assert_eq!(
        server.log()[0].header("range"),
        Some(format!("bytes={LEN}-").as_str())
    );
}

#[tokio::test]
async fn a_partial_longer_than_the_remote_file_starts_again() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    // A state written for a longer file, whose validator the server still reports: the 416
    // says the file is shorter than what we hold, so never exit 0 with extra bytes.
    std::fs::write(part(dir.path()), pattern_bytes(SEED, 0..LEN + 10)).unwrap();
    write_state(&server, dir.path(), LEN, None, RangeSet::prefix(LEN + 10));
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.restarts(), [RestartReason::PartialTooLong]);
}

#[tokio::test]
async fn an_unexpected_416_restarts_from_zero() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    seed_partial(&server, dir.path(), 1000, LEN);
    server.push_fault("/f", Fault::Unsatisfiable);
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(rec.restarts(), [RestartReason::RangeNotSatisfiable]);
}

#[tokio::test]
async fn weak_etags_never_go_into_if_range() {
    let server = FaultServer::start();
    server.put(
        "/f",
        Resource::pattern(SEED, LEN)
            .with_etag(Some("W/\"weak\""))
            .with_last_modified(None),
    );
    server.push_fault("/f", Fault::CutAfter(1000));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    // No If-Range; the 1000 bytes held are asked for again and compared (validatorless.rs).
    assert_eq!(gets(&server, "/f")[1], (Some("bytes=0-".into()), None));
    assert!(*rec.weak.lock().unwrap());
}

#[tokio::test]
async fn last_modified_goes_into_if_range_when_there_is_no_etag() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN).with_etag(None));
    server.push_fault("/f", Fault::CutAfter(1000));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    let (range, if_range) = gets(&server, "/f").remove(1);
    assert_eq!(range.as_deref(), Some("bytes=1000-"));
    let date = if_range.expect("a date in If-Range");
    assert!(httpdate::parse_http_date(&date).is_ok(), "{date}");
}

#[tokio::test]
async fn without_validators_a_resume_asks_for_the_bytes_held_again() {
    let server = FaultServer::start();
    server.put(
        "/f",
        Resource::pattern(SEED, LEN)
            .with_etag(None)
            .with_last_modified(None),
    );
    server.push_fault("/f", Fault::CutAfter(1000));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(*rec.weak.lock().unwrap());
    assert_eq!(gets(&server, "/f")[1], (Some("bytes=0-".into()), None));
}

/// Reads the state file when the download starts writing (its first `Started` event).
/// Where a fresh download keeps its first state on the part file (no state file per file).
const FIRST_STATE: &str = "user.durl.first-state";

struct StateAtStart {
    path: std::path::PathBuf,
    part: std::path::PathBuf,
    found: std::sync::Mutex<Option<(Option<String>, u64)>>,
}

impl durl_fetch::Reporter for StateAtStart {
    fn report(&self, event: durl_fetch::Event<'_>) {
        if let durl_fetch::Event::Started { .. } = event {
            let mut found = self.found.lock().unwrap();
            if found.is_none() {
                // The state file, else the first state kept on the part file itself.
                let state = std::fs::read_to_string(&self.path).ok().or_else(|| {
                    xattr::get(&self.part, FIRST_STATE)
                        .ok()
                        .flatten()
                        .map(|raw| String::from_utf8(raw).unwrap())
                });
                let part = std::fs::metadata(&self.part).map_or(0, |m| m.len());
                *found = Some((state, part));
            }
        }
    }
}

/// Downloads `/f` into `dir`; the state (file, else the part file's first state) and the part
/// file's length when the body started.
async fn get_watching_the_start(
    server: &FaultServer,
    dir: &std::path::Path,
) -> (Option<String>, u64) {
    let seen = StateAtStart {
        path: state(dir),
        part: part(dir),
        found: Default::default(),
    };
    durl_fetch::get(&request(server, "/f", dir), &seen)
        .await
        .unwrap();
    seen.found.into_inner().unwrap().expect("started")
}

#[tokio::test]
async fn the_state_is_written_as_soon_as_the_headers_are_known() {
    // Issue 14.2: a disk that fills before the first checkpoint must still leave a partial
    // with its state (length and validators), never a part file without one.
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    let seen = get_watching_the_start(&server, dir.path()).await;
    assert_complete(dir.path(), &expected(LEN));
    let (text, part_len) = seen;
    assert_eq!(part_len, 0, "before the first body byte");
    let state = State::decode(&text.expect("a state file before the first byte")).unwrap();
    assert_eq!(state.length, Some(LEN));
    assert_eq!(
        state.version.get("etag"),
        Some(format!("\"s{SEED}-{LEN}\"").as_str())
    );
    assert!(state.have.is_empty());
}

#[tokio::test]
async fn a_fresh_downloads_first_state_is_kept_on_the_part_file_and_read_back() {
    // A list of small files created and deleted a state file per file (on ext4 without a
    // journal each new inode scans the recently deleted ones: a -j 16 list of 1000 files ran
    // at half the speed of an older build). The first state now sits on the part file; a
    // rerun reads it from there, and a finished file keeps only its mark.
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    if xattr::set(dir.path(), "user.durl.probe", b"1").is_err() {
        return; // no user extended attributes here: the state file is used, as before
    }
    let seen = get_watching_the_start(&server, dir.path()).await;
    assert!(seen.0.is_some());
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(xattr::get(out(dir.path()), FIRST_STATE).unwrap(), None);
    assert!(
        xattr::get(out(dir.path()), "user.durl.state")
            .unwrap()
            .is_some()
    );

    // A part file left with its first state only (killed before the first checkpoint): the
    // rerun reads it; one that does not decode is reported as unusable and replaced.
    for (first, unusable) in [(None, false), (Some(&b"garbage"[..]), true)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(part(dir.path()), b"").unwrap();
        let valid = State {
            url: server.url("/f"),
            final_url: server.url("/f"),
            length: Some(LEN),
            version: durl_fetch::Version::new().with("etag", format!("\"s{SEED}-{LEN}\"")),
            have: Default::default(),
        }
        .encode();
        xattr::set(
            part(dir.path()),
            FIRST_STATE,
            first.unwrap_or(valid.as_bytes()),
        )
        .unwrap();
        let rec = Recorder::default();
        durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
            .await
            .unwrap();
        assert_complete(dir.path(), &expected(LEN));
        let want: &[RestartReason] = if unusable {
            &[RestartReason::StateUnusable]
        } else {
            &[]
        };
        assert_eq!(rec.restarts(), want, "{first:?}");
    }
}

//! RFC 9530 digests: durl asks with `Want-Repr-Digest`, records the server's `Repr-Digest`
//! (or a whole 200's `Content-Digest`) in the state, and verifies the finished file against
//! it before the rename, across runs; a mismatch keeps the data in the part file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use durl_fetch::fuzzing::State;
use durl_fetch::{ErrorKind, Event, Reporter, RestartReason};
use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};
use sha2::Digest as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::support::*;

const LEN: u64 = 1 << 20;
const CUT: u64 = 400_000;

fn sha256(data: &[u8]) -> String {
    let digest = sha2::Sha256::digest(data);
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn wrong() -> String {
    sha256(b"not the file")
}

#[tokio::test]
async fn a_matching_repr_digest_is_asked_for_and_the_file_passes() {
    let server = FaultServer::start();
    let body = expected(LEN);
    server.put(
        "/f",
        Resource::pattern(SEED, LEN).with_header("Repr-Digest", &sha256(&body)),
    );
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(
        server.log()[0].header("want-repr-digest"),
        Some("sha-256=10, sha-512=3")
    );
}

#[tokio::test]
async fn a_wrong_repr_digest_exits_as_a_checksum_mismatch_and_keeps_the_data() {
    for (name, split) in [
        ("Repr-Digest", 1),
        ("Repr-Digest", 4),
        ("Content-Digest", 1),
    ] {
        let server = FaultServer::start();
        let len = 4 << 20;
        server.put(
            "/f",
            Resource::pattern(SEED, len).with_header(name, &wrong()),
        );
        let dir = tempfile::tempdir().unwrap();
        let req = request(&server, "/f", dir.path()).connections(split);
        let err = durl_fetch::get(&req, &()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Checksum, "{name} -x {split}: {err}");
        assert!(err.to_string().contains("Repr-Digest"), "{err}");
        assert!(!out(dir.path()).exists());
        assert_eq!(
            std::fs::read(part(dir.path())).unwrap(),
            pattern_bytes(SEED, 0..len)
        );
        let state = State::decode(&std::fs::read_to_string(state(dir.path())).unwrap()).unwrap();
        assert_eq!(state.durable(), len, "the state describes the data kept");
    }
}

#[tokio::test]
async fn the_digest_recorded_in_the_state_is_checked_when_a_later_answer_has_none() {
    let server = FaultServer::start();
    server.put(
        "/f",
        Resource::pattern(SEED, LEN).with_header("Repr-Digest", &wrong()),
    );
    server.push_fault("/f", Fault::CutAfter(CUT));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).retries(0), &())
        .await
        .unwrap_err();
    let saved = std::fs::read_to_string(state(dir.path())).unwrap();
    assert!(saved.contains("\nversion repr-sha-256 "), "{saved}");
    // The same version, now answered without any digest.
    server.put("/f", Resource::pattern(SEED, LEN));
    let err = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Checksum, "{err}");
    assert_eq!(
        std::fs::read(part(dir.path())).unwrap(),
        expected(LEN),
        "the data is kept"
    );
    // The resume fetched only the rest.
    assert_eq!(server.body_bytes_served("/f"), LEN);
}

#[tokio::test]
async fn a_digest_that_changes_within_one_version_is_a_changed_file() {
    let server = FaultServer::start();
    server.put(
        "/f",
        Resource::pattern(SEED, LEN).with_header("Repr-Digest", &wrong()),
    );
    server.push_fault("/f", Fault::CutAfter(CUT));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).retries(0), &())
        .await
        .unwrap_err();
    // Same ETag, another digest: not the representation the partial came from.
    let body = expected(LEN);
    server.put(
        "/f",
        Resource::pattern(SEED, LEN).with_header("Repr-Digest", &sha256(&body)),
    );
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(rec.restarts(), [RestartReason::RemoteChanged]);
}

#[tokio::test]
async fn a_206_content_digest_is_of_the_part_and_not_taken_for_the_file() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(CUT));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).retries(0), &())
        .await
        .unwrap_err();
    server.put(
        "/f",
        Resource::pattern(SEED, LEN).with_header("Content-Digest", &wrong()),
    );
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
}

/// Cancels the download once `at` bytes were written.
struct CancelAt {
    token: CancellationToken,
    at: u64,
    seen: AtomicU64,
}

impl Reporter for CancelAt {
    fn report(&self, event: Event<'_>) {
        if let Event::Progress { bytes } = event
            && self.seen.fetch_add(bytes, Ordering::Relaxed) + bytes >= self.at
        {
            self.token.cancel();
        }
    }
}

#[tokio::test]
async fn durl_serve_digests_are_verified_across_runs() {
    // A real Repr-Digest from `durl serve` (files up to 1 MiB are hashed while the request
    // waits). The partial is damaged on disk between two runs, which no validator can see:
    // the digest does.
    let root = tempfile::tempdir().unwrap();
    let len = 900_000;
    std::fs::write(root.path().join("f.bin"), pattern_bytes(SEED, 0..len)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let config = durl_serve::Config::new(root.path().to_owned());
    let task = tokio::spawn(durl_serve::run(listener, config, async move {
        let _ = stopped.await;
    }));
    let url = format!("http://{addr}/f.bin");
    let get = |dir: &std::path::Path| {
        durl_fetch::GetRequest::new(&url)
            .unwrap()
            .output(dir.join("out.bin"))
            .retry_delay(Duration::from_millis(10), Duration::from_millis(200))
    };

    let clean = tempfile::tempdir().unwrap();
    durl_fetch::get(&get(clean.path()), &()).await.unwrap();
    assert_eq!(
        std::fs::read(out(clean.path())).unwrap(),
        pattern_bytes(SEED, 0..len)
    );

    let dir = tempfile::tempdir().unwrap();
    let token = CancellationToken::new();
    let cancel = CancelAt {
        token: token.clone(),
        at: 200_000,
        seen: AtomicU64::new(0),
    };
    let first = get(dir.path())
        .limit_rate(Some(400_000))
        .cancel_token(token);
    let err = durl_fetch::get(&first, &cancel).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interrupted, "{err}");
    let saved = std::fs::read_to_string(state(dir.path())).unwrap();
    assert!(saved.contains("\nversion repr-sha-256 "), "{saved}");
    let mut held = std::fs::read(part(dir.path())).unwrap();
    assert!(held.len() > 1000, "{}", held.len());
    held[10] ^= 0xff;
    std::fs::write(part(dir.path()), &held).unwrap();
    let err = durl_fetch::get(&get(dir.path()), &()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Checksum, "{err}");
    assert!(!out(dir.path()).exists());

    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_digest_first_seen_on_a_resume_is_kept_and_checked() {
    // The first answer had no digest (a server that hashes large files in the background);
    // the resume's 206 has one: it is recorded and the file checked against it.
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    server.push_fault("/f", Fault::CutAfter(CUT));
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).retries(0), &())
        .await
        .unwrap_err();
    server.put(
        "/f",
        Resource::pattern(SEED, LEN).with_header("Repr-Digest", &wrong()),
    );
    let err = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Checksum, "{err}");
    let saved = std::fs::read_to_string(state(dir.path())).unwrap();
    assert!(saved.contains("\nversion repr-sha-256 "), "{saved}");
}

#[tokio::test]
async fn a_mirror_with_another_digest_is_dropped_and_the_file_checked() {
    let len = 4 << 20;
    let body = pattern_bytes(SEED, 0..len);
    let server = FaultServer::start();
    let right = Resource::pattern(SEED, len).with_header("Repr-Digest", &sha256(&body));
    server.put("/f", right);
    server.put(
        "/m",
        Resource::pattern(SEED, len).with_header("Repr-Digest", &wrong()),
    );
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    let req = request(&server, "/f", dir.path())
        .connections(4)
        .mirrors(&[server.url("/m")])
        .unwrap();
    durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(
        *rec.dropped.lock().unwrap(),
        [durl_fetch::DropReason::Disagrees]
    );
}

/// Leaves the partial of a run against `/f` (a resource without any digest) cut at [`CUT`].
async fn digestless_partial(server: &FaultServer, dir: &std::path::Path, len: u64) {
    server.put("/f", Resource::pattern(SEED, len));
    server.push_fault("/f", Fault::CutAfter(CUT));
    durl_fetch::get(&request(server, "/f", dir).retries(0), &())
        .await
        .unwrap_err();
    let saved = std::fs::read_to_string(state(dir)).unwrap();
    assert!(!saved.contains("repr-sha"), "{saved}");
}

#[tokio::test]
async fn a_digest_first_seen_on_the_segments_of_a_split_resume_is_kept_and_checked() {
    // Issue 14, item 8 leftover: the resume goes straight to segments (-x 4), whose 206s are
    // the first answers to carry a Repr-Digest; it must be checked like a single stream's.
    let len = 4 << 20;
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    digestless_partial(&server, dir.path(), len).await;
    server.put(
        "/f",
        Resource::pattern(SEED, len).with_header("Repr-Digest", &wrong()),
    );
    let req = request(&server, "/f", dir.path()).connections(4);
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Checksum, "{err}");
    assert!(err.to_string().contains("Repr-Digest"), "{err}");
    assert!(!out(dir.path()).exists());
    assert_eq!(
        std::fs::read(part(dir.path())).unwrap(),
        pattern_bytes(SEED, 0..len),
        "the data is kept"
    );
    let saved = std::fs::read_to_string(state(dir.path())).unwrap();
    assert!(saved.contains("\nversion repr-sha-256 "), "{saved}");
    assert!(
        gets(&server, "/f")
            .iter()
            .skip(1)
            .all(|(range, _)| range.is_some()),
        "the resume fetched segments: {:?}",
        gets(&server, "/f")
    );
}

/// Switches `/f` to `then` when the first retry is announced.
struct SwitchOnRetry<'a> {
    server: &'a FaultServer,
    then: std::sync::Mutex<Option<Resource>>,
    rec: Recorder,
}

impl Reporter for SwitchOnRetry<'_> {
    fn report(&self, event: Event<'_>) {
        if let Event::Retrying { .. } = event
            && let Some(resource) = self.then.lock().unwrap().take()
        {
            self.server.put("/f", resource);
        }
        self.rec.report(event);
    }
}

#[tokio::test]
async fn a_digest_that_changes_between_the_segments_of_one_split_is_a_changed_file() {
    // The segments' first 206s teach one digest; a segment cut and asked again gets another
    // (same ETag): two representations, so the partial is dropped, never completed as one.
    let len = 4 << 20;
    let body = pattern_bytes(SEED, 0..len);
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    digestless_partial(&server, dir.path(), len).await;
    server.put(
        "/f",
        Resource::pattern(SEED, len).with_header("Repr-Digest", &wrong()),
    );
    server.push_fault("/f", Fault::CutAfter(100_000));
    let switch = SwitchOnRetry {
        server: &server,
        then: std::sync::Mutex::new(Some(
            Resource::pattern(SEED, len).with_header("Repr-Digest", &sha256(&body)),
        )),
        rec: Recorder::default(),
    };
    let req = request(&server, "/f", dir.path()).connections(4);
    durl_fetch::get(&req, &switch).await.unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(switch.rec.restarts(), [RestartReason::RemoteChanged]);
}

/// `durl get -o -`: the bytes written to `out` and how it ended.
async fn stream(req: &durl_fetch::GetRequest) -> (Vec<u8>, Result<u64, durl_fetch::Error>) {
    let mut out = Vec::new();
    let result = durl_fetch::stream(req, &mut out, &()).await;
    (out, result)
}

#[tokio::test]
async fn a_stream_is_checked_against_the_repr_digest_once_written() {
    // Issue 14, item 8 leftover: `-o -` hashes what it writes. A right digest passes; a wrong
    // one (Repr-Digest, or a whole 200's Content-Digest) is a checksum error that says the
    // bytes are already out; so is a digest first seen on the answer after a cut.
    let body = expected(LEN);
    for (name, value, cut, ok) in [
        ("Repr-Digest", sha256(&body), false, true),
        ("Repr-Digest", sha256(&body), true, true),
        ("Repr-Digest", wrong(), false, false),
        ("Content-Digest", wrong(), false, false),
        ("Repr-Digest", wrong(), true, false),
    ] {
        let server = FaultServer::start();
        let with = Resource::pattern(SEED, LEN).with_header(name, &value);
        let dir = tempfile::tempdir().unwrap();
        if cut {
            // The first answer has no digest and is cut; the resumed one has it.
            server.put("/f", Resource::pattern(SEED, LEN));
            server.push_fault("/f", Fault::CutAfter(CUT));
        } else {
            server.put("/f", with.clone());
        }
        let req = request(&server, "/f", dir.path());
        let mut out = Vec::new();
        let result = if cut {
            // Switch to the digest once the cut answer is out, before the resume.
            let switch = SwitchOnRetry {
                server: &server,
                then: std::sync::Mutex::new(Some(with)),
                rec: Recorder::default(),
            };
            durl_fetch::stream(&req, &mut out, &switch).await
        } else {
            durl_fetch::stream(&req, &mut out, &()).await
        };
        let case = format!("{name} {value} cut {cut}");
        assert!(out == body, "{case}: every byte went out ({})", out.len());
        match result {
            Ok(n) => assert!(ok && n == LEN, "{case}: {n}"),
            Err(e) => {
                assert!(!ok, "{case}: {e}");
                assert_eq!(e.kind(), ErrorKind::Checksum, "{case}: {e}");
                let msg = e.to_string();
                assert!(
                    msg.contains("Repr-Digest") && msg.contains("already out"),
                    "{msg}"
                );
                assert!(!msg.contains('\n'), "{msg}");
            }
        }
        if cut {
            let ranges: Vec<_> = gets(&server, "/f").into_iter().map(|g| g.0).collect();
            assert_eq!(
                ranges.last().unwrap().as_deref(),
                Some(&*format!("bytes={CUT}-")),
                "{case}: {ranges:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_stream_whose_digest_changes_between_answers_stops_as_a_changed_file() {
    let server = FaultServer::start();
    server.put(
        "/f",
        Resource::pattern(SEED, LEN).with_header("Repr-Digest", &wrong()),
    );
    server.push_fault("/f", Fault::CutAfter(CUT));
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f", dir.path());
    let switch = SwitchOnRetry {
        server: &server,
        then: std::sync::Mutex::new(Some(
            Resource::pattern(SEED, LEN).with_header("Repr-Digest", &sha256(&expected(LEN))),
        )),
        rec: Recorder::default(),
    };
    let mut out = Vec::new();
    let err = durl_fetch::stream(&req, &mut out, &switch)
        .await
        .unwrap_err();
    assert!(
        matches!(err, durl_fetch::Error::StreamChanged { written, .. } if written == CUT),
        "{err}"
    );
    assert!(out == expected(CUT));
}

#[tokio::test]
async fn a_stream_from_durl_serve_is_checked_against_its_digest() {
    let root = tempfile::tempdir().unwrap();
    let len = 900_000;
    std::fs::write(root.path().join("f.bin"), pattern_bytes(SEED, 0..len)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let config = durl_serve::Config::new(root.path().to_owned());
    let task = tokio::spawn(durl_serve::run(listener, config, async move {
        let _ = stopped.await;
    }));
    let req = durl_fetch::GetRequest::new(&format!("http://{addr}/f.bin")).unwrap();
    let (out, result) = stream(&req).await;
    assert_eq!(result.unwrap(), len);
    assert!(out == pattern_bytes(SEED, 0..len));
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

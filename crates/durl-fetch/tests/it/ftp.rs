//! `ftp://` downloads against a real vsftpd (anonymous, read-only) that each test starts on
//! 127.0.0.1 with a temporary root and stops when it ends. `.ci/run` installs vsftpd; without
//! it these tests fail, they do not skip.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use durl_fetch::{CancellationToken, Error, ErrorKind, Event, GetRequest, Reporter, RestartReason};
use durl_testkit::Vsftpd;

/// Deterministic, non-repeating test data.
fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Records restarts; cancels the download once `cancel_at` bytes have arrived.
#[derive(Default)]
struct Recorder {
    bytes: AtomicU64,
    cancel_at: Option<(u64, CancellationToken)>,
    restarts: Mutex<Vec<RestartReason>>,
}

impl Reporter for Recorder {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Progress { bytes } => {
                let total = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
                if let Some((at, token)) = &self.cancel_at
                    && total >= *at
                {
                    token.cancel();
                }
            }
            Event::Restarted { reason } => self.restarts.lock().unwrap().push(reason),
            _ => {}
        }
    }
}

const LEN: usize = 3_000_000;

fn request(server: &Vsftpd, name: &str, out: &Path) -> GetRequest {
    GetRequest::new(&server.url(name))
        .unwrap()
        .output(out)
        .retries(2)
        .retry_delay(Duration::from_millis(50), Duration::from_millis(200))
        .stall_timeout(Duration::from_secs(10))
}

/// Downloads `name` into `out` until `at` bytes have arrived, then cancels: a partial with
/// its state, as a killed run leaves it.
async fn interrupted_at(server: &Vsftpd, name: &str, out: &Path, at: u64) -> u64 {
    let token = CancellationToken::new();
    let reporter = Recorder {
        cancel_at: Some((at, token.clone())),
        ..Recorder::default()
    };
    let req = request(server, name, out)
        .limit_rate(Some(4_000_000))
        .cancel_token(token);
    match durl_fetch::get(&req, &reporter).await {
        Err(Error::Interrupted { durable, .. }) => {
            assert!(durable >= at && durable < LEN as u64, "durable {durable}");
            durable
        }
        other => panic!("expected an interruption, got {other:?}"),
    }
}

fn part_of(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.durl-part", out.display()))
}

fn state_of(out: &Path) -> PathBuf {
    PathBuf::from(format!("{}.durl-state", out.display()))
}

#[tokio::test]
async fn downloads_a_file_exactly() {
    let server = Vsftpd::start();
    let body = data(1, LEN);
    server.put("f.bin", &body);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.bin");
    let outcome = durl_fetch::get(&request(&server, "f.bin", &out), &())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert_eq!((outcome.bytes, outcome.fetched), (LEN as u64, LEN as u64));
    assert!(!part_of(&out).exists() && !state_of(&out).exists());
    assert_eq!(server.wait_downloads(1), [LEN as u64]);

    // In a directory, the URL names the file; a second run finds it complete and current.
    let req = GetRequest::new(&server.url("f.bin"))
        .unwrap()
        .dir(dir.path());
    let again = durl_fetch::get(&req, &()).await.unwrap();
    assert!(again.already_complete, "{again:?}");
    assert_eq!(again.path, out);
    assert_eq!(server.downloads().len(), 1);
}

#[tokio::test]
async fn resumes_with_rest_fetching_only_the_missing_bytes() {
    let server = Vsftpd::start();
    let body = data(2, LEN);
    server.put("f.bin", &body);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.bin");
    let durable = interrupted_at(&server, "f.bin", &out, 1_000_000).await;
    assert!(part_of(&out).exists() && state_of(&out).exists());

    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, "f.bin", &out), &reporter)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert_eq!(outcome.resumed_from, durable);
    assert_eq!(outcome.fetched, LEN as u64 - durable);
    assert!(reporter.restarts.lock().unwrap().is_empty());
    // The server's own count: the second RETR sent only the bytes after REST.
    let log = server.wait_downloads(2);
    assert_eq!(log.last(), Some(&(LEN as u64 - durable)), "{log:?}");
}

#[tokio::test]
async fn continue_adopts_a_prefix_left_by_another_tool_after_checking_its_tail() {
    let server = Vsftpd::start();
    let body = data(6, LEN);
    server.put("f.bin", &body);
    let dir = tempfile::tempdir().unwrap();

    // A matching prefix (as `curl -O` leaves it) is continued with REST.
    let out = dir.path().join("a.bin");
    let prefix = 1_000_000;
    std::fs::write(&out, &body[..prefix]).unwrap();
    let req = request(&server, "f.bin", &out).continue_existing(true);
    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&req, &reporter).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert_eq!(outcome.resumed_from, prefix as u64);
    assert_eq!(outcome.fetched, (LEN - prefix) as u64);
    assert!(reporter.restarts.lock().unwrap().is_empty());

    // A prefix of another file is downloaded again from byte 0, with a message.
    let out = dir.path().join("b.bin");
    std::fs::write(&out, &data(7, LEN)[..prefix]).unwrap();
    let req = request(&server, "f.bin", &out).continue_existing(true);
    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&req, &reporter).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert_eq!(outcome.fetched, LEN as u64);
    assert_eq!(
        *reporter.restarts.lock().unwrap(),
        [RestartReason::PrefixMismatch]
    );

    // The whole file is "already complete".
    let out = dir.path().join("c.bin");
    std::fs::write(&out, &body).unwrap();
    let req = request(&server, "f.bin", &out).continue_existing(true);
    let outcome = durl_fetch::get(&req, &()).await.unwrap();
    assert!(outcome.already_complete, "{outcome:?}");
    assert_eq!(std::fs::read(&out).unwrap(), body);
    assert!(!part_of(&out).exists() && !state_of(&out).exists());
}

#[tokio::test]
async fn a_changed_remote_file_restarts_from_zero() {
    let server = Vsftpd::start();
    let dir = tempfile::tempdir().unwrap();
    let old = data(3, LEN);
    server.put("f.bin", &old);
    let later = SystemTime::now() + Duration::from_secs(3600);

    // Same size, another MDTM.
    let out = dir.path().join("a.bin");
    interrupted_at(&server, "f.bin", &out, 500_000).await;
    let new = data(4, LEN);
    server.put("f.bin", &new);
    std::fs::File::options()
        .write(true)
        .open(server.root().join("f.bin"))
        .unwrap()
        .set_modified(later)
        .unwrap();
    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, "f.bin", &out), &reporter)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), new);
    assert_eq!(outcome.fetched, LEN as u64);
    assert_eq!(
        *reporter.restarts.lock().unwrap(),
        [RestartReason::RemoteChanged]
    );

    // Another size (and MDTM).
    let out = dir.path().join("b.bin");
    interrupted_at(&server, "f.bin", &out, 500_000).await;
    let shorter = data(5, LEN - 1000);
    server.put("f.bin", &shorter);
    let reporter = Recorder::default();
    durl_fetch::get(&request(&server, "f.bin", &out), &reporter)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), shorter);
    assert_eq!(
        *reporter.restarts.lock().unwrap(),
        [RestartReason::RemoteChanged]
    );
}

#[tokio::test]
async fn a_missing_file_is_a_typed_error_naming_the_url_and_the_reply() {
    let server = Vsftpd::start();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nope.bin");
    let err = durl_fetch::get(&request(&server, "nope.bin", &out), &())
        .await
        .unwrap_err();
    match &err {
        Error::Refused { reply, .. } => match &**reply {
            durl_fetch::Reply::Ftp { code, text, .. } => {
                assert_eq!(*code, 550);
                assert!(!text.is_empty());
            }
            other => panic!("expected an FTP reply, got {other:?}"),
        },
        other => panic!("expected Error::Refused, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::RemoteNotFound);
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains(&server.url("nope.bin")) && msg.contains("550"),
        "{msg}"
    );
    // Nothing left behind.
    assert!(!part_of(&out).exists() && !state_of(&out).exists() && !out.exists());
}

#[tokio::test]
async fn a_wrong_login_is_a_typed_error_without_the_password() {
    let server = Vsftpd::start();
    server.put("f.bin", b"x");
    let dir = tempfile::tempdir().unwrap();
    // Local users are disabled, so any named user is refused.
    let url = server.url("f.bin").replace("ftp://", "ftp://bob:s%65cret@");
    let req = GetRequest::new(&url)
        .unwrap()
        .output(dir.path().join("f.bin"))
        .retries(0);
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert!(
        matches!(err, Error::Refused { .. }) && err.ftp_code() == Some(530),
        "expected a 530, got {err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::LoginRefused);
    let msg = err.to_string();
    assert!(msg.contains("login") && !msg.contains("secret"), "{msg}");
}

#[tokio::test]
async fn an_unreadable_file_is_permission_denied() {
    let server = Vsftpd::start();
    server.put("secret.bin", b"x");
    server.forbid("secret.bin");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("secret.bin");
    let err = durl_fetch::get(&request(&server, "secret.bin", &out), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    assert!(
        matches!(err, Error::Refused { .. }) && err.ftp_code() == Some(550),
        "{err:?}"
    );
    assert!(!part_of(&out).exists() && !out.exists());
}

#[tokio::test]
async fn x_4_fetches_segments_over_four_connections_and_resumes_the_holes() {
    let server = Vsftpd::start();
    let len = 12 << 20;
    let body = data(6, len);
    server.put("big.bin", &body);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.bin");

    // A split run cancelled part-way leaves held ranges with holes.
    let token = CancellationToken::new();
    let reporter = Recorder {
        cancel_at: Some((4 << 20, token.clone())),
        ..Recorder::default()
    };
    let req = request(&server, "big.bin", &out)
        .connections(4)
        .limit_rate(Some(16 << 20))
        .checkpoint_interval(Duration::from_millis(50), u64::MAX)
        .cancel_token(token);
    let durable = match durl_fetch::get(&req, &reporter).await {
        Err(Error::Interrupted { durable, .. }) => durable,
        other => panic!("expected an interruption, got {other:?}"),
    };
    let state =
        durl_fetch::fuzzing::State::decode(&std::fs::read_to_string(state_of(&out)).unwrap())
            .unwrap();
    assert!(state.have.ranges().len() > 1, "{:?}", state.have);
    assert_eq!(state.have.total(), durable);

    // One connection now fetches exactly the holes.
    let outcome = durl_fetch::get(&request(&server, "big.bin", &out), &())
        .await
        .unwrap();
    assert_eq!(outcome.fetched, len as u64 - durable);
    assert!(std::fs::read(&out).unwrap() == body, "content differs");
    assert!(!part_of(&out).exists() && !state_of(&out).exists());

    // A fresh -x 4 run completes exactly.
    std::fs::remove_file(&out).unwrap();
    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, "big.bin", &out).connections(4), &reporter)
        .await
        .unwrap();
    assert_eq!(outcome.fetched, len as u64);
    assert!(std::fs::read(&out).unwrap() == body, "content differs");
    assert!(reporter.restarts.lock().unwrap().is_empty());
}

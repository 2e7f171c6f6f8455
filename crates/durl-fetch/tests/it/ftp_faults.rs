//! `ftp://` downloads against durl-testkit's in-process FTP server, for the faults a real
//! server will not produce on demand: a data connection cut after k bytes, a refused
//! `REST`, a `SIZE` that lies, a stall, refused logins and files.

use std::path::Path;
use std::time::Duration;

use durl_fetch::{Error, ErrorKind, GetRequest, RestartReason};
use durl_testkit::{FtpFault, FtpServer, pattern_bytes};

use crate::support::{Recorder, SEED, assert_complete, out, part, state};

const LEN: u64 = 3_000_000;

fn serve(len: u64) -> (FtpServer, Vec<u8>) {
    let server = FtpServer::start();
    let body = pattern_bytes(SEED, 0..len);
    server.put("f.bin", body.clone());
    (server, body)
}

fn request(server: &FtpServer, dir: &Path) -> GetRequest {
    GetRequest::new(&server.url("f.bin"))
        .unwrap()
        .output(out(dir))
        .retries(3)
        .retry_delay(Duration::from_millis(10), Duration::from_millis(100))
        .stall_timeout(Duration::from_secs(5))
}

#[tokio::test]
async fn a_cut_data_connection_resumes_with_rest_from_the_durable_offset() {
    let (server, body) = serve(LEN);
    server.push_fault("f.bin", FtpFault::CutAfter(1_000_000));
    let dir = tempfile::tempdir().unwrap();
    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, dir.path()), &reporter)
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(reporter.retries(), 1);
    assert!(reporter.restarts().is_empty());
    let retrs = server.retrs();
    assert_eq!(retrs.len(), 2, "{retrs:?}");
    assert_eq!((retrs[0].offset, retrs[0].sent), (0, 1_000_000));
    // Everything received before the cut was made durable and is not fetched again.
    assert_eq!(retrs[1].offset, 1_000_000, "{retrs:?}");
    assert_eq!(server.bytes_served("f.bin"), LEN);
    assert_eq!(outcome.fetched, LEN);
    assert!(server.commands().contains(&"REST 1000000".to_owned()));
}

#[tokio::test]
async fn a_refused_rest_restarts_from_zero_with_a_message() {
    let (server, body) = serve(LEN);
    server.push_fault("f.bin", FtpFault::CutAfter(500_000));
    server.refuse_rest(true);
    let dir = tempfile::tempdir().unwrap();
    let reporter = Recorder::default();
    durl_fetch::get(&request(&server, dir.path()), &reporter)
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(reporter.restarts(), [RestartReason::ResumeRefused]);
    let offsets: Vec<u64> = server.retrs().iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [0, 0]);
    assert!(server.commands().contains(&"REST 500000".to_owned()));
}

#[tokio::test]
async fn a_size_that_lies_short_or_long_never_completes_a_wrong_file() {
    for (split, lie) in [
        (1, LEN + 1000),
        (1, LEN - 1000),
        (4, LEN + 1000),
        (4, LEN - 1000),
    ] {
        let (server, _) = serve(LEN);
        server.set_size("f.bin", Some(lie));
        let dir = tempfile::tempdir().unwrap();
        let req = request(&server, dir.path()).connections(split);
        let err = durl_fetch::get(&req, &()).await.unwrap_err();
        assert!(
            matches!(err.root(), Error::SizeMismatch { size, .. } if *size == lie),
            "-x {split}, SIZE {lie}: {err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Protocol);
        assert!(
            !out(dir.path()).exists(),
            "-x {split}, SIZE {lie}: a final file"
        );
        // What is kept is never longer than SIZE said, and a rerun fails the same way.
        let kept = std::fs::metadata(part(dir.path())).map_or(0, |m| m.len());
        assert!(kept <= lie, "kept {kept}");
        let again = durl_fetch::get(&req, &()).await.unwrap_err();
        assert!(
            matches!(again.root(), Error::SizeMismatch { .. }),
            "{again:?}"
        );
        assert!(!out(dir.path()).exists());
    }
}

#[tokio::test]
async fn a_stalled_transfer_is_retried_from_where_it_stopped() {
    let (server, body) = serve(LEN);
    server.push_fault(
        "f.bin",
        FtpFault::StallAfter(700_000, Duration::from_secs(30)),
    );
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, dir.path()).stall_timeout(Duration::from_millis(300));
    let reporter = Recorder::default();
    durl_fetch::get(&req, &reporter).await.unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(reporter.retries(), 1);
    assert_eq!(server.retrs()[1].offset, 700_000);
}

#[tokio::test]
async fn segments_each_use_their_own_connection_and_survive_a_cut() {
    let len = 8 << 20;
    let (server, body) = serve(len);
    server.push_fault("f.bin", FtpFault::CutAfter(300_000));
    let dir = tempfile::tempdir().unwrap();
    let reporter = Recorder::default();
    let outcome = durl_fetch::get(&request(&server, dir.path()).connections(4), &reporter)
        .await
        .unwrap();
    assert_complete(dir.path(), &body);
    assert_eq!(outcome.fetched, len);
    assert!(reporter.restarts().is_empty());
    let retrs = server.retrs();
    // Four segments of 2 MiB, one of them cut and resumed where it stopped.
    let mut starts: Vec<u64> = retrs.iter().map(|r| r.offset).collect();
    starts.sort_unstable();
    for quarter in 0..4 {
        assert!(starts.contains(&(quarter * (2 << 20))), "{retrs:?}");
    }
    assert!(retrs.iter().any(|r| r.sent == 300_000), "{retrs:?}");
    let logins = server
        .commands()
        .iter()
        .filter(|c| c.starts_with("PASS"))
        .count();
    assert!(
        logins >= 5,
        "a control connection per segment: {logins} logins"
    );
}

#[tokio::test]
async fn a_file_replaced_during_a_split_download_restarts_it() {
    let len = 8 << 20;
    let (server, _) = serve(len);
    // The first segment stalls until the file has been replaced (another MDTM).
    server.push_fault(
        "f.bin",
        FtpFault::StallAfter(100_000, Duration::from_millis(400)),
    );
    let dir = tempfile::tempdir().unwrap();
    let new = pattern_bytes(SEED + 1, 0..len);
    let replace = {
        let new = new.clone();
        let server = &server;
        async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            server.put_with_mdtm("f.bin", new, "20250101000000");
        }
    };
    let req = request(&server, dir.path())
        .connections(4)
        .stall_timeout(Duration::from_millis(200));
    let reporter = Recorder::default();
    let (result, ()) = tokio::join!(durl_fetch::get(&req, &reporter), replace);
    result.unwrap();
    assert_complete(dir.path(), &new);
    assert_eq!(reporter.restarts(), [RestartReason::RemoteChanged]);
}

#[tokio::test]
async fn logins_come_from_the_url_then_the_request_then_netrc() {
    let (server, body) = serve(1000);
    server.require_login("bob", "pw");
    let dir = tempfile::tempdir().unwrap();

    let err = durl_fetch::get(&request(&server, dir.path()).retries(0), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "anonymous: {err:?}");
    assert!(!part(dir.path()).exists() && !state(dir.path()).exists());

    let netrc = dir.path().join("netrc");
    std::fs::write(&netrc, "machine 127.0.0.1 login bob password pw\n").unwrap();
    let via_netrc = request(&server, dir.path()).netrc(Some(netrc.clone()));
    durl_fetch::get(&via_netrc, &()).await.unwrap();
    assert_complete(dir.path(), &body);
    std::fs::remove_file(out(dir.path())).unwrap();

    // A wrong password given on the request beats netrc's right one.
    let wrong = via_netrc
        .clone()
        .login(Some("bob".into()), Some("nope".into()))
        .retries(0);
    let err = durl_fetch::get(&wrong, &()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused);
    assert!(
        !format!("{err} {err:?} {wrong:?}").contains("nope"),
        "password shown"
    );

    let given = request(&server, dir.path()).login(Some("bob".into()), Some("pw".into()));
    durl_fetch::get(&given, &()).await.unwrap();
    assert_complete(dir.path(), &body);
}

#[tokio::test]
async fn a_refused_retr_is_permission_denied_and_leaves_nothing() {
    let (server, _) = serve(1000);
    server.set_fault(
        "f.bin",
        Some(FtpFault::Refuse(550, "f.bin: Permission denied")),
    );
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(&request(&server, dir.path()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err:?}");
    assert!(err.to_string().contains("Permission denied"), "{err}");
    assert!(!part(dir.path()).exists() && !out(dir.path()).exists());
}

//! `ftp://` uploads and FTPS against a real vsftpd (durl_testkit::Vsftpd) that each test
//! starts on 127.0.0.1 with a temporary root and a writable `up/`, and stops when it ends.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use durl_fetch::{
    CancellationToken, Error, ErrorKind, Event, GetRequest, PutRequest, RemoteConflict, Reporter,
};
use durl_testkit::{Vsftpd, VsftpdOptions, pattern_bytes};

const LEN: u64 = 3_000_000;

fn upload_server() -> Vsftpd {
    Vsftpd::start_with(VsftpdOptions {
        upload: true,
        tls: false,
    })
}

fn request(local: &Path, url: &str) -> PutRequest {
    PutRequest::new(local, url)
        .unwrap()
        .retries(2)
        .retry_delay(Duration::from_millis(50), Duration::from_millis(200))
        .stall_timeout(Duration::from_secs(10))
}

/// A local file of `len` deterministic bytes from `seed`.
fn local_file(dir: &Path, seed: u64, len: u64) -> (std::path::PathBuf, Vec<u8>) {
    let data = pattern_bytes(seed, 0..len);
    let path = dir.join(format!("local-{seed}.bin"));
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

/// Cancels the upload once `at` bytes were sent.
struct CancelAt(u64, CancellationToken, AtomicU64);

impl Reporter for CancelAt {
    fn report(&self, event: Event<'_>) {
        if let Event::Progress { bytes } = event
            && self.2.fetch_add(bytes, Ordering::Relaxed) + bytes >= self.0
        {
            self.1.cancel();
        }
    }
}

#[tokio::test]
async fn uploads_exactly_and_a_second_run_sends_nothing() {
    let server = upload_server();
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 1, LEN);
    // A URL ending in `/` takes the local file's name.
    let outcome = durl_fetch::put(&request(&local, &server.url("up/")), &())
        .await
        .unwrap();
    assert_eq!(server.read("up/local-1.bin").unwrap(), data);
    assert_eq!((outcome.bytes, outcome.sent), (LEN, LEN));
    assert!(!outcome.already_complete);
    assert_eq!(server.wait_transfers(true, 1), [LEN]);

    let again = durl_fetch::put(&request(&local, &server.url("up/local-1.bin")), &())
        .await
        .unwrap();
    assert!(again.already_complete, "{again:?}");
    assert_eq!((again.sent, again.resumed_from), (0, LEN));
    assert_eq!(server.transfers(true).len(), 1, "nothing uploaded again");
}

#[tokio::test]
async fn an_interrupted_upload_resumes_sending_only_the_rest() {
    let server = upload_server();
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 2, LEN);
    let url = server.url("up/f.bin");
    let token = CancellationToken::new();
    let cut = CancelAt(1_000_000, token.clone(), AtomicU64::new(0));
    let req = request(&local, &url)
        .limit_rate(Some(4_000_000))
        .cancel_token(token);
    match durl_fetch::put(&req, &cut).await {
        Err(e @ Error::UploadInterrupted { sent, .. }) => {
            assert!((1_000_000..LEN).contains(&sent), "sent {sent}");
            assert_eq!(e.kind(), ErrorKind::Interrupted);
        }
        other => panic!("expected an interruption, got {other:?}"),
    }
    // The server keeps what arrived.
    let partial = server.wait_transfers(true, 1)[0];
    assert!(partial > 0 && partial < LEN, "partial {partial}");
    assert_eq!(server.read("up/f.bin").unwrap(), data[..partial as usize]);

    let outcome = durl_fetch::put(&request(&local, &url), &()).await.unwrap();
    assert_eq!(server.read("up/f.bin").unwrap(), data);
    assert_eq!(outcome.resumed_from, partial);
    assert_eq!(outcome.sent, LEN - partial);
    // The server's own count: the second transfer carried only the missing bytes.
    assert_eq!(server.wait_transfers(true, 2), [partial, LEN - partial]);
}

#[tokio::test]
async fn a_longer_or_different_remote_file_is_refused_without_force() {
    let server = upload_server();
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 3, LEN);
    let url = server.url("up/f.bin");
    let other = pattern_bytes(4, 0..LEN);
    let mut flipped = data[..1_000_000].to_vec();
    flipped[999_000] ^= 1; // inside the last 64 KiB that are read back
    let cases: [(&[u8], RemoteConflict); 3] = [
        (&pattern_bytes(3, 0..LEN + 10), RemoteConflict::Longer),
        (&flipped, RemoteConflict::Differs),
        (&other, RemoteConflict::Differs),
    ];
    for (remote, conflict) in cases {
        server.put("up/f.bin", remote);
        let err = durl_fetch::put(&request(&local, &url), &())
            .await
            .unwrap_err();
        match &err {
            Error::RemoteExists {
                conflict: c,
                remote: r,
                local: l,
                ..
            } => assert_eq!((*c, *r, *l), (conflict, remote.len() as u64, LEN)),
            other => panic!("expected RemoteExists, got {other:?}"),
        }
        assert_eq!(err.kind(), ErrorKind::Exists);
        assert_eq!(server.read("up/f.bin").unwrap(), remote, "left alone");

        let forced = request(&local, &url).overwrite(true);
        let outcome = durl_fetch::put(&forced, &()).await.unwrap();
        assert_eq!(server.read("up/f.bin").unwrap(), data);
        assert_eq!((outcome.resumed_from, outcome.sent), (0, LEN));
    }
    // --force still completes a true prefix instead of sending it again.
    server.put("up/f.bin", &data[..500_000]);
    let forced = request(&local, &url).overwrite(true);
    let outcome = durl_fetch::put(&forced, &()).await.unwrap();
    assert_eq!(server.read("up/f.bin").unwrap(), data);
    assert_eq!(outcome.sent, LEN - 500_000);
}

#[tokio::test]
async fn a_wrong_login_is_a_typed_error_without_the_password() {
    let server = upload_server();
    let dir = tempfile::tempdir().unwrap();
    let (local, _) = local_file(dir.path(), 5, 1000);
    // Local users are disabled, so any named user is refused.
    let url = server
        .url("up/f.bin")
        .replace("ftp://", "ftp://bob:s%65cret@");
    let err = durl_fetch::put(&request(&local, &url).retries(0), &())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Refused { .. }) && err.ftp_code() == Some(530),
        "expected a 530, got {err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("login") && !msg.contains("secret"), "{msg}");
    assert!(server.read("up/f.bin").is_none());
}

#[tokio::test]
async fn ftps_uploads_and_downloads_with_a_trusted_certificate_only() {
    let server = Vsftpd::start_with(VsftpdOptions {
        upload: true,
        tls: true,
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, server.cert_pem().unwrap()).unwrap();
    let (local, data) = local_file(dir.path(), 6, LEN);
    let url = server.url("up/f.bin");

    // Not trusted: a TLS error, not retried; nothing uploaded.
    let err = durl_fetch::put(&request(&local, &url).ftp_tls(true), &())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::FtpTls { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.kind(), ErrorKind::Network);
    // Plain FTP is refused by this server before any password is accepted.
    let err = durl_fetch::put(&request(&local, &url).retries(0), &())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Refused { .. }) && err.ftp_code().is_some(),
        "{err:?}"
    );
    assert!(server.read("up/f.bin").is_none());

    // Trusted through the CA file: upload, and download it back over FTPS.
    let trusted = request(&local, &url).ftp_tls(true).root_certificate(&ca);
    let outcome = durl_fetch::put(&trusted, &()).await.unwrap();
    assert_eq!(outcome.sent, LEN);
    assert_eq!(server.read("up/f.bin").unwrap(), data);
    let out = dir.path().join("back.bin");
    let get = GetRequest::new(&url)
        .unwrap()
        .output(&out)
        .retries(0)
        .ftp_tls(true)
        .root_certificate(&ca);
    durl_fetch::get(&get, &()).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), data);
    // Without the CA the download fails too, and --insecure accepts the certificate.
    let out2 = dir.path().join("back2.bin");
    let untrusted = GetRequest::new(&url)
        .unwrap()
        .output(&out2)
        .retries(0)
        .ftp_tls(true);
    let err = durl_fetch::get(&untrusted, &()).await.unwrap_err();
    assert!(matches!(err, Error::FtpTls { .. }), "{err:?}");
    durl_fetch::get(&untrusted.insecure(true), &())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out2).unwrap(), data);
    let again = request(&local, &url).ftp_tls(true).insecure(true);
    assert!(durl_fetch::put(&again, &()).await.unwrap().already_complete);
}

/// Counts `Retrying` events.
#[derive(Default)]
struct Retries(AtomicU64);

impl Reporter for Retries {
    fn report(&self, event: Event<'_>) {
        if let Event::Retrying { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_is_retried_and_the_upload_resumes() {
    let server = upload_server();
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 7, LEN);
    let req = request(&local, &server.url("up/f.bin")).limit_rate(Some(2_000_000));
    let reporter = std::sync::Arc::new(Retries::default());
    let task = tokio::spawn({
        let reporter = reporter.clone();
        async move { durl_fetch::put(&req, &*reporter).await }
    });
    let remote = server.root().join("up/f.bin");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&remote).map_or(0, |m| m.len()) < 500_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Every connection of the server dies at once, mid-transfer.
    assert!(server.kill_sessions() > 0);
    let outcome = task.await.unwrap().unwrap();
    assert_eq!(server.read("up/f.bin").unwrap(), data);
    assert!(reporter.0.load(Ordering::Relaxed) >= 1, "retried");
    // The killed session logged nothing; the retry sent only what the server lacked.
    let log = server.wait_transfers(true, 1);
    assert!(log.len() == 1 && log[0] <= LEN - 500_000, "{log:?}");
    assert_eq!(outcome.resumed_from, 0);
}

//! HTTPS against a certificate made at test time.

use durl_fetch::ErrorKind;
use durl_testkit::{Fault, FaultServer, Resource};

use crate::support::*;

#[tokio::test]
async fn https_with_a_trusted_test_ca_downloads_and_resumes() {
    let server = FaultServer::start_tls();
    server.put("/f", Resource::pattern(SEED, 200_000));
    server.push_fault("/f", Fault::CutAfter(50_000));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, server.ca_cert_pem().unwrap()).unwrap();
    assert!(server.url("/f").starts_with("https://"));
    durl_fetch::get(
        &request(&server, "/f", dir.path()).root_certificate(&ca),
        &(),
    )
    .await
    .unwrap();
    assert_complete(dir.path(), &expected(200_000));
    assert_eq!(server.body_bytes_served("/f"), 200_000);
}

#[tokio::test]
async fn an_untrusted_certificate_fails_unless_insecure() {
    let server = FaultServer::start_tls();
    server.put("/f", Resource::pattern(SEED, 1000));
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(&request(&server, "/f", dir.path()).retries(0), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(!out(dir.path()).exists());
    durl_fetch::get(&request(&server, "/f", dir.path()).insecure(true), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(1000));
}

/// Regression (issue 14.5): an untrusted certificate was retried 10 times although it cannot
/// change; verification failures fail at once.
#[tokio::test]
async fn an_untrusted_certificate_is_not_retried() {
    let server = FaultServer::start_tls();
    server.put("/f", Resource::pattern(SEED, 1000));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    // The default retry count.
    let req = durl_fetch::GetRequest::new(&server.url("/f"))
        .unwrap()
        .output(dir.path().join("out.bin"))
        .retry_delay(
            std::time::Duration::from_millis(10),
            std::time::Duration::from_millis(50),
        );
    let err = durl_fetch::get(&req, &rec).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(!matches!(err, durl_fetch::Error::GaveUp { .. }), "{err}");
    assert_eq!(rec.retries(), 0, "{err}");
}

/// Issue 15: a self-signed certificate made the usual way (`openssl req -x509`: `CA:TRUE`)
/// failed with `CaUsedAsEndEntity` even when given with `--cacert`, where curl accepts it.
/// Presented exactly as listed, it is pinned; its names are still checked, and it is trusted
/// for nothing else.
#[tokio::test]
async fn a_self_signed_ca_certificate_given_as_cacert_is_pinned_and_its_names_checked() {
    let server = FaultServer::start_tls_ca(&["127.0.0.1", "localhost"]);
    server.put("/f", Resource::pattern(SEED, 5000));
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("self.pem");
    std::fs::write(&ca, server.ca_cert_pem().unwrap()).unwrap();
    durl_fetch::get(
        &request(&server, "/f", dir.path())
            .retries(0)
            .root_certificate(&ca),
        &(),
    )
    .await
    .unwrap();
    assert_complete(dir.path(), &expected(5000));

    // Another server's CA:TRUE certificate is not this one: refused.
    let other = FaultServer::start_tls_ca(&["127.0.0.1"]);
    other.put("/f", Resource::pattern(SEED, 5000));
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(
        &request(&other, "/f", dir.path())
            .retries(0)
            .root_certificate(&ca),
        &(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");

    // The pinned certificate for other names only: refused for 127.0.0.1.
    let misnamed = FaultServer::start_tls_ca(&["files.example"]);
    misnamed.put("/f", Resource::pattern(SEED, 5000));
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("misnamed.pem");
    std::fs::write(&pem, misnamed.ca_cert_pem().unwrap()).unwrap();
    let err = durl_fetch::get(
        &request(&misnamed, "/f", dir.path())
            .retries(0)
            .root_certificate(&pem),
        &(),
    )
    .await
    .unwrap_err();
    let chain = format!("{:?}", err);
    assert!(chain.contains("NotValidForName"), "{chain}");
    assert!(!out(dir.path()).exists());
}

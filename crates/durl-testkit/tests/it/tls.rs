//! HTTPS: a tokio-rustls client that trusts only the server's certificate.

use std::sync::Arc;

use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Duration, timeout};
use tokio_rustls::TlsConnector;

fn connector(server: &FaultServer) -> TlsConnector {
    let pem = server.ca_cert_pem().expect("TLS server has a certificate");
    let cert = CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM certificate");
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).expect("add root");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Sends one request with `Connection: close` and returns everything read.
async fn fetch(server: &FaultServer, name: &str, request: &str) -> Vec<u8> {
    let tcp = TcpStream::connect(server.addr()).await.unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let mut tls = connector(server)
        .connect(name, tcp)
        .await
        .expect("TLS handshake");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    // A cut connection may end without close_notify: keep what was read.
    let _ = tls.read_to_end(&mut out).await;
    out
}

fn split(response: &[u8]) -> (String, &[u8]) {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("head")
        + 4;
    (
        String::from_utf8(response[..end].to_vec()).unwrap(),
        &response[end..],
    )
}

#[tokio::test]
async fn https_range_request() {
    let server = FaultServer::start_tls();
    assert!(server.url("/f").starts_with("https://127.0.0.1:"));
    server.put("/f", Resource::pattern(1, 100_000));
    let request =
        "GET /f HTTP/1.1\r\nHost: localhost\r\nRange: bytes=10-19\r\nConnection: close\r\n\r\n";
    for name in ["127.0.0.1", "localhost"] {
        let response = timeout(Duration::from_secs(10), fetch(&server, name, request))
            .await
            .unwrap();
        let (head, body) = split(&response);
        assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
        assert!(
            head.contains("Content-Range: bytes 10-19/100000\r\n"),
            "{head}"
        );
        assert_eq!(body, pattern_bytes(1, 10..20));
    }
    assert_eq!(server.body_bytes_served("/f"), 20);
}

#[tokio::test]
async fn https_cut_after() {
    let server = FaultServer::start_tls();
    server.put("/f", Resource::pattern(2, 100_000));
    server.push_fault("/f", Fault::CutAfter(30_000));
    let request = "GET /f HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let response = timeout(
        Duration::from_secs(10),
        fetch(&server, "localhost", request),
    )
    .await
    .unwrap();
    let (head, body) = split(&response);
    assert!(head.contains("Content-Length: 100000\r\n"), "{head}");
    assert_eq!(body, pattern_bytes(2, 0..30_000));
    assert_eq!(server.body_bytes_served("/f"), 30_000);
}

//! TLS: a fresh self-signed certificate per server, and the transport trait
//! that lets one connection handler serve both plain and TLS streams.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A byte stream over a TCP socket (plain or TLS).
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send {
    /// The underlying socket, for socket options such as `SO_LINGER`.
    fn tcp(&self) -> &TcpStream;
}

impl Transport for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Transport for TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, and an
/// acceptor presenting it.
#[derive(Clone)]
pub(crate) struct TlsIdentity {
    /// The certificate in PEM, for clients to trust.
    pub(crate) cert_pem: String,
    /// The acceptor for incoming connections.
    pub(crate) acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Generates a new key and certificate (SAN: DNS `localhost`, IP `127.0.0.1`).
    ///
    /// # Panics
    /// If certificate generation or the TLS configuration fails (a bug).
    pub(crate) fn generate() -> TlsIdentity {
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let certified = rcgen::generate_simple_self_signed(names).expect("rcgen self-signed cert");
        Self::presenting(certified.cert, &certified.signing_key)
    }

    /// A self-signed certificate as `openssl req -x509` makes one: `CA:TRUE` in its basic
    /// constraints, for `names` (DNS names or IP addresses).
    ///
    /// # Panics
    /// If certificate generation or the TLS configuration fails (a bug).
    pub(crate) fn generate_ca(names: &[&str]) -> TlsIdentity {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("rcgen names");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().expect("rcgen key");
        let cert = params.self_signed(&key).expect("rcgen self-signed CA cert");
        Self::presenting(cert, &key)
    }

    fn presenting(cert: rcgen::Certificate, signing_key: &rcgen::KeyPair) -> TlsIdentity {
        let cert_pem = cert.pem();
        let cert_der: CertificateDer<'static> = cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signing_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert_der], key)
            .expect("TLS server certificate");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsIdentity {
            cert_pem,
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }
    }
}

//! The rustls client configuration of every TLS connection (HTTPS, tus, explicit FTPS per
//! RFC 4217): the platform's roots plus the `--cacert` PEM files, through
//! `rustls-platform-verifier`, or no verification at all with `--insecure`.
//!
//! A self-signed server certificate made the usual way (`openssl req -x509`) carries
//! `CA:TRUE`, which WebPKI refuses as a server's own certificate (`CaUsedAsEndEntity`). When
//! the server presents exactly a certificate listed in `--cacert`, it is accepted as curl
//! accepts it: the certificate is pinned, and its validity period (which WebPKI checks before
//! the CA flag) and its names are still checked.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::Error;

/// Builds the client configuration. The same configuration serves the control connection and
/// every data connection of a session, so its session cache lets data connections resume the
/// control connection's TLS session, as servers such as vsftpd (`require_ssl_reuse`) demand.
///
/// # Errors
/// [`Error::Setup`] for an unreadable certificate file or one without a PEM certificate.
pub(crate) fn client_config(
    root_certificates: &[PathBuf],
    insecure: bool,
) -> Result<Arc<ClientConfig>, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut extra = Vec::new();
    for path in root_certificates {
        let pem = std::fs::read(path).map_err(|e| Error::Setup {
            what: format!("cannot read certificate file {}", path.display()),
            source: Some(Box::new(e)),
        })?;
        let before = extra.len();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            extra.push(cert.map_err(|e| Error::Setup {
                what: format!("no PEM certificate in {}", path.display()),
                source: Some(Box::new(e)),
            })?);
        }
        if extra.len() == before {
            return Err(Error::Setup {
                what: format!("no PEM certificate in {}", path.display()),
                source: None,
            });
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| setup("cannot configure TLS", e))?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerifier(provider)))
            .with_no_client_auth()
    } else {
        let pinned = extra.clone();
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| setup("cannot load the TLS root certificates", e))?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinning {
                inner: Arc::new(verifier),
                pinned,
            }))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// The platform's verification, and a `--cacert` certificate presented as it is (see the
/// module docs).
#[derive(Debug)]
struct Pinning {
    inner: Arc<dyn ServerCertVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Pinning {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self
                        .pinned
                        .iter()
                        .any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                // The period was checked before the CA flag; the names are checked here.
                let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| e.clone())?;
                cert.verify_is_valid_for_subject_name(server_name)
                    .map_err(|_| {
                        rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
                    })?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// WebPKI's "a CA certificate used as a server's own" refusal, as rustls reports it.
fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
    match e {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
            matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            )
        }
        _ => false,
    }
}

fn setup(what: &str, e: rustls::Error) -> Error {
    Error::Setup {
        what: what.to_owned(),
        source: Some(Box::new(e)),
    }
}

/// `--insecure`: accepts any certificate (reqwest's `NoVerifier` does the same).
#[derive(Debug)]
struct NoVerifier(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

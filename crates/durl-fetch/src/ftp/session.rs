//! One logged-in FTP control connection, shared by downloads ([`super`]) and uploads
//! ([`super::put`]): TCP with the connect timeout, the greeting, explicit FTPS when asked
//! (RFC 4217 §4: `AUTH TLS` before anything else, then `PBSZ 0` and `PROT P` so that data
//! connections are protected too), login, `TYPE I`, `FEAT` (RFC 2389) and passive mode.

use std::sync::Arc;
use std::time::Duration;

use suppaftp::tokio::{
    AsyncRustlsConnector, AsyncRustlsFtpStream, AsyncRustlsStream, TransferStream,
};
use suppaftp::tokio_rustls::TlsConnector;
use suppaftp::types::{Features, FileType};
use suppaftp::{FtpError, Mode};

use super::target::{Remote, Target, timed};
use crate::{Error, GetRequest};

/// A control connection, plain or TLS: the TLS-capable stream type runs plain FTP until
/// `AUTH TLS` is sent.
pub(crate) type Control = AsyncRustlsFtpStream;

/// A data connection of a [`Control`].
pub(crate) type Transfer = TransferStream<AsyncRustlsStream>;

/// How to reach the server.
pub(crate) struct Link {
    /// For TCP connect (and the TLS handshake of `AUTH TLS`).
    pub(crate) connect_timeout: Duration,
    /// For every reply on the control connection.
    pub(crate) stall_timeout: Duration,
    /// Explicit FTPS with this configuration; without it, plain FTP.
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
}

/// A logged-in control connection, with what `FEAT` offered.
pub(crate) struct Session {
    pub(crate) ftp: Control,
    /// `REST` may be tried (offered by `FEAT`, or `FEAT` not implemented).
    pub(crate) rest: bool,
    /// What `FEAT` listed, if the server implements it.
    pub(crate) features: Option<Features>,
}

impl Session {
    /// Whether `FEAT` lists `name` (case-insensitively), and with which parameters.
    pub(crate) fn feature(&self, name: &str) -> Option<&str> {
        let features = self.features.as_ref()?;
        features
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }
}

/// Connects, secures (if asked) and logs in.
pub(crate) async fn connect(target: &Target, link: &Link) -> Result<Session, Error> {
    let addrs = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| target.connection_error(e))?;
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address for the host");
    let mut tcp = None;
    for addr in addrs {
        match tokio::time::timeout(link.connect_timeout, tokio::net::TcpStream::connect(addr)).await
        {
            Ok(Ok(stream)) => {
                tcp = Some(stream);
                break;
            }
            Ok(Err(e)) => last = e,
            Err(_) => last = std::io::Error::from(std::io::ErrorKind::TimedOut),
        }
    }
    let tcp = tcp.ok_or_else(|| target.connection_error(last))?;
    let stall = link.stall_timeout;
    let greeting = Control::connect_with_stream(tcp);
    let mut ftp = timed(target, stall, "greeting", greeting).await?;
    if let Some(config) = &link.tls {
        // RFC 4217 §4: AUTH TLS before USER, so the password never travels in clear; a
        // server that refuses it is an error, never a fallback to plain FTP.
        let connector = AsyncRustlsConnector::from(TlsConnector::from(config.clone()));
        let secure = ftp.into_secure(connector, &target.host);
        ftp = match tokio::time::timeout(link.connect_timeout.max(stall), secure).await {
            Ok(Ok(ftp)) => ftp,
            Ok(Err(FtpError::SecureError(detail))) => return Err(target.tls_error(detail)),
            Ok(Err(e)) => return Err(target.error("AUTH TLS", e)),
            Err(_) => return Err(target.stalled(stall)),
        };
    }
    let login = ftp.login(target.user.as_str(), target.password.as_str());
    timed(target, stall, "login", login).await?;
    timed(target, stall, "TYPE I", ftp.transfer_type(FileType::Binary)).await?;
    // A server without FEAT (RFC 2389) is asked for plain PASV and tried with REST.
    let features = timed(target, stall, "FEAT", ftp.feat()).await.ok();
    let offers = |name: &str| {
        features
            .as_ref()
            .is_none_or(|f| f.keys().any(|k| k.eq_ignore_ascii_case(name)))
    };
    if features.is_some() && offers("EPSV") {
        ftp.set_mode(Mode::ExtendedPassive);
    } else {
        // The address in a PASV reply is often a private one behind NAT: use the control
        // connection's peer with the port from the reply.
        ftp.set_mode(Mode::Passive);
        ftp.set_passive_nat_workaround(true);
    }
    Ok(Session {
        rest: offers("REST"),
        ftp,
        features,
    })
}

impl Target {
    /// A TLS failure on the control or a data connection (certificate, handshake).
    pub(crate) fn tls_error(&self, detail: String) -> Error {
        Error::FtpTls {
            url: self.shown.clone(),
            detail,
        }
    }
}

/// Connects and logs in for a download (explicit FTPS with [`GetRequest::ftp_tls`]).
pub(crate) async fn connect_for_get(target: &Target, req: &GetRequest) -> Result<Session, Error> {
    let tls = match req.network.ftp_tls {
        true => Some(crate::tls::client_config(
            &req.network.root_certificates,
            req.network.insecure,
        )?),
        false => None,
    };
    let link = Link {
        connect_timeout: req.network.connect_timeout,
        stall_timeout: req.network.stall_timeout,
        tls,
    };
    connect(target, &link).await
}

/// `SIZE` and `MDTM`. A missing file is an error here; a server that does not implement
/// them leaves them unknown.
pub(crate) async fn probe(
    target: &Target,
    req: &GetRequest,
    ftp: &mut Control,
) -> Result<Remote, Error> {
    let stall = req.network.stall_timeout;
    let optional = |r: Result<_, Error>| match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if matches!(e.ftp_code(), Some(500 | 501 | 502 | 504)) => Ok(None),
        Err(e) => Err(e),
    };
    let size = optional(timed(target, stall, "SIZE", ftp.size(&target.path)).await)?;
    let mdtm = match timed(target, stall, "MDTM", ftp.mdtm(&target.path)).await {
        Ok(t) => Some(t.to_string()),
        Err(e) if e.is_retryable() => return Err(e),
        Err(_) => None,
    };
    Ok(Remote {
        size: size.map(|s| s as u64),
        mdtm,
    })
}

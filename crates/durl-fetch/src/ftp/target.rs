//! Where an `ftp://` URL points and as whom to log in ([`Target`]), and one control-connection
//! step with the stall timeout ([`timed`]).

use std::time::Duration;

use percent_encoding::percent_decode_str;
use suppaftp::FtpError;
use url::Url;

use crate::{Error, Network};

/// The read buffer for the data connection.
pub(crate) const CHUNK: usize = 256 << 10;
/// Replies to `REST` (or to `RETR` after it) that mean "no resuming here": syntax error,
/// not implemented, parameter not implemented, and RFC 3659 §5.5's invalid REST parameter.
pub(crate) const REST_REFUSED: [u16; 5] = [500, 501, 502, 504, 554];

/// Where and as whom to log in, from the URL.
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) user: String,
    pub(crate) password: String,
    /// The file's path relative to the login directory (RFC 1738 §3.2.2), decoded.
    pub(crate) path: String,
    /// The URL without its password, for messages.
    pub(crate) shown: Url,
}

impl Target {
    pub(crate) fn parse(url: &Url) -> Result<Target, Error> {
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => String::new(),
        };
        let path = decode(url.path().strip_prefix('/').unwrap_or(url.path()));
        if host.is_empty() || path.is_empty() || path.ends_with('/') {
            return Err(Error::Setup {
                what: format!("{shown} does not name a file on a host"),
                source: None,
            });
        }
        let (user, password) = match url.username() {
            "" => ("anonymous".to_owned(), "durl@".to_owned()),
            user => (decode(user), decode(url.password().unwrap_or(""))),
        };
        Ok(Target {
            host,
            port: url.port().unwrap_or(21),
            user,
            password,
            path,
            shown,
        })
    }

    /// [`Target::parse`] of `url` (`named`, the URL the user named, or one of its mirrors),
    /// with the login completed in this order: the URL's user and password, then
    /// [`crate::Network::login`] (on `named`'s origin only), then the `.netrc` entry for the
    /// host, then `anonymous` ([`crate::Network::credentials`]).
    pub(crate) fn for_url(url: &Url, named: &Url, network: &Network) -> Result<Target, Error> {
        let mut target = Target::parse(url)?;
        if let Some(login) = network.credentials(url, named) {
            target.user = login.user;
            target.password = login.password;
        }
        Ok(target)
    }

    pub(crate) fn connection_error(&self, source: std::io::Error) -> Error {
        Error::FtpConnection {
            url: self.shown.clone(),
            source,
        }
    }

    /// The typed error for a failed FTP command.
    pub(crate) fn error(&self, command: &'static str, e: FtpError) -> Error {
        match e {
            FtpError::UnexpectedResponse(resp) => Error::Refused {
                url: self.shown.clone(),
                reply: Box::new(crate::error::Reply::Ftp {
                    command,
                    code: u16::try_from(resp.status.code()).unwrap_or(0),
                    text: reply_text(&resp.body).into(),
                }),
            },
            FtpError::ConnectionError(io) => self.connection_error(io),
            other => self.connection_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{command}: {other}"),
            )),
        }
    }

    pub(crate) fn stalled(&self, timeout: Duration) -> Error {
        Error::Stalled {
            url: self.shown.clone(),
            timeout,
        }
    }
}

/// A reply's text without its code.
fn reply_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim().get(3..).unwrap_or_default();
    text.trim_start_matches(['-', ' ']).trim().to_owned()
}

/// Runs one control-connection step with the stall timeout.
pub(crate) async fn timed<T>(
    target: &Target,
    timeout: Duration,
    command: &'static str,
    f: impl Future<Output = Result<T, FtpError>>,
) -> Result<T, Error> {
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => r.map_err(|e| target.error(command, e)),
        Err(_) => Err(target.stalled(timeout)),
    }
}

/// What the server says about the file.
pub(crate) struct Remote {
    pub(crate) size: Option<u64>,
    pub(crate) mdtm: Option<String>,
}

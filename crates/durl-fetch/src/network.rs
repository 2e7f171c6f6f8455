//! [`Network`]: how hard to try (retries, back-off, stall and connect timeouts) and how to
//! connect (headers, TLS roots, FTPS, login, `.netrc`). [`crate::GetRequest`] and
//! [`crate::PutRequest`] each hold one; their setters of the same names delegate to it.
//!
//! Credentials ([`Network::login`], `.netrc`, the URL's own `user:password@`) are chosen per
//! URL by [`Network::credentials`]: the login given besides the URL goes only to the origin
//! (scheme, host, port) of the URL the user named; a `.netrc` entry only to its own host.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::header::HeaderMap;
use url::Url;

use crate::netrc;

/// Retries, timeouts, headers, TLS and login: the settings downloads and uploads share.
///
/// Build with [`Network::default`] and the setters, then hand it to
/// [`crate::GetRequest::network`] or [`crate::PutRequest::network`]. The getters are named
/// `get_*` (as clap's builders do) because the setters take the plain names.
#[derive(Debug, Clone)]
pub struct Network {
    pub(crate) retries: u32,
    pub(crate) retry_delay: Duration,
    pub(crate) max_retry_delay: Duration,
    pub(crate) stall_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) headers: HeaderMap,
    pub(crate) root_certificates: Vec<PathBuf>,
    pub(crate) insecure: bool,
    pub(crate) ftp_tls: bool,
    pub(crate) login: Login,
    pub(crate) netrc: Option<PathBuf>,
    /// The `.netrc` entries, read once (on first use) and shared by the clones.
    netrc_entries: Arc<OnceLock<Vec<netrc::Entry>>>,
    /// Sees every HTTP request and response head ([`Network::observe_wire`]).
    pub(crate) wire: Option<WireHook>,
}

/// One HTTP message head as durl sent or received it, for a verbose display
/// ([`Network::observe_wire`]). Header values are as on the wire: an observer that prints
/// them masks the secrets (`Authorization`, `Cookie`, `Proxy-Authorization`) itself.
#[derive(Debug)]
#[non_exhaustive]
pub enum Wire<'a> {
    /// A request is sent. `id` numbers the requests of the process: each redirect, range,
    /// retry and segment has its own, and its response carries the same.
    Request {
        /// The request's number.
        id: u64,
        /// `GET`, `HEAD`, `POST`, `PATCH`, ...
        method: &'a str,
        /// The URL asked for (with its password, if any: show it through [`crate::Redacted`]).
        url: &'a Url,
        /// The headers sent, `Host` first.
        headers: &'a HeaderMap,
    },
    /// The head of the response to request `id`.
    Response {
        /// The request's number.
        id: u64,
        /// `HTTP/1.1`, `HTTP/2`, ...
        version: &'a str,
        /// The status code.
        status: u16,
        /// The status's reason phrase (RFC 9110 §15), if it has a standard one.
        reason: &'a str,
        /// The headers received.
        headers: &'a HeaderMap,
    },
}

/// Receives [`Wire`] heads; called from the task that sends the request.
pub trait WireObserver: Send + Sync {
    /// One request or response head.
    fn observe(&self, wire: Wire<'_>);
}

/// A shared [`WireObserver`] (its `Debug` shows no contents).
#[derive(Clone)]
pub(crate) struct WireHook(pub(crate) Arc<dyn WireObserver>);

impl std::fmt::Debug for WireHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WireHook")
    }
}

/// A user and password given besides the URL. Its `Debug` never shows the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Login {
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A user and password chosen for one URL. Its `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl Default for Network {
    /// 10 retries starting at 1 s back-off (up to 60 s), 20 s stall timeout, 15 s connect
    /// timeout, no extra headers or roots, certificates verified, plain FTP, no login, no
    /// `.netrc`.
    fn default() -> Network {
        Network {
            retries: 10,
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(60),
            stall_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(15),
            headers: HeaderMap::new(),
            root_certificates: Vec::new(),
            insecure: false,
            ftp_tls: false,
            login: Login::default(),
            netrc: None,
            netrc_entries: Arc::default(),
            wire: None,
        }
    }
}

impl Network {
    /// Retries after consecutive retryable failures; an attempt that made progress resets
    /// the count.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// The first back-off delay; it doubles per failure (with jitter) up to `max`, which also
    /// caps a server's `Retry-After`.
    pub fn retry_delay(mut self, first: Duration, max: Duration) -> Self {
        self.retry_delay = first;
        self.max_retry_delay = max.max(first);
        self
    }

    /// How long a connection may move no data (or the server not answer) before it counts as
    /// stalled and is retried.
    pub fn stall_timeout(mut self, t: Duration) -> Self {
        self.stall_timeout = t;
        self
    }

    /// How long connecting (TCP and TLS) may take.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// Extra headers for every HTTP request to the URL's origin, e.g. `Authorization` (a
    /// name given twice is sent twice).
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Trust the PEM certificates in `path` besides the system roots (HTTPS, FTPS).
    pub fn root_certificate(mut self, path: impl AsRef<Path>) -> Self {
        self.root_certificates.push(path.as_ref().to_owned());
        self
    }

    /// Skip TLS certificate verification (HTTPS, FTPS).
    pub fn insecure(mut self, yes: bool) -> Self {
        self.insecure = yes;
        self
    }

    /// For `ftp://`: explicit FTPS (RFC 4217 `AUTH TLS` before login, protected data
    /// connections), trusting the same roots as HTTPS ([`Self::root_certificate`],
    /// [`Self::insecure`]). A server that refuses `AUTH TLS` is an error, never a fallback.
    pub fn ftp_tls(mut self, yes: bool) -> Self {
        self.ftp_tls = yes;
        self
    }

    /// The user and password to log in with when the URL names none (or no password): the
    /// FTP login, or HTTP Basic credentials (RFC 7617) sent with every request to the URL's
    /// origin and never to another one. Never stored or printed.
    pub fn login(mut self, user: Option<String>, password: Option<String>) -> Self {
        self.login = Login { user, password };
        self
    }

    /// A `.netrc` file (`machine`/`default` entries) consulted for a login neither the URL
    /// nor [`Self::login`] gives, for each host by its own entry; an unreadable file is
    /// ignored.
    pub fn netrc(mut self, path: Option<PathBuf>) -> Self {
        self.netrc = path;
        self.netrc_entries = Arc::default();
        self
    }

    /// Shows `observer` the head of every HTTP request sent and response received
    /// (downloads, their redirects, ranges, retries and segments, and tus uploads): what
    /// `durl -v` prints.
    pub fn observe_wire(mut self, observer: Arc<dyn WireObserver>) -> Self {
        self.wire = Some(WireHook(observer));
        self
    }

    /// See [`Self::retries`].
    pub fn get_retries(&self) -> u32 {
        self.retries
    }

    /// The first and the largest back-off delay ([`Self::retry_delay`]).
    pub fn get_retry_delay(&self) -> (Duration, Duration) {
        (self.retry_delay, self.max_retry_delay)
    }

    /// See [`Self::stall_timeout`].
    pub fn get_stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// See [`Self::connect_timeout`].
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// See [`Self::headers`].
    pub fn get_headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// See [`Self::root_certificate`].
    pub fn get_root_certificates(&self) -> &[PathBuf] {
        &self.root_certificates
    }

    /// See [`Self::insecure`].
    pub fn get_insecure(&self) -> bool {
        self.insecure
    }

    /// See [`Self::ftp_tls`].
    pub fn get_ftp_tls(&self) -> bool {
        self.ftp_tls
    }

    /// The user given with [`Self::login`] (the password is not readable back).
    pub fn get_user(&self) -> Option<&str> {
        self.login.user.as_deref()
    }

    /// See [`Self::netrc`].
    pub fn get_netrc(&self) -> Option<&Path> {
        self.netrc.as_deref()
    }

    /// The `.netrc` entries (read on first use).
    fn netrc_entries(&self) -> &[netrc::Entry] {
        self.netrc_entries.get_or_init(|| {
            self.netrc
                .as_ref()
                .and_then(|path| std::fs::read_to_string(path).ok())
                .map(|text| netrc::parse(&text))
                .unwrap_or_default()
        })
    }

    /// The login for a request to `url`, where `named` is the URL the user named (the
    /// request's URL; `url` is it, one of its mirrors, or the same origin after a redirect).
    /// In this order: `url`'s own user and password; then [`Self::login`], only when `url`
    /// has `named`'s origin (scheme, host, port); then the `.netrc` entry for `url`'s host.
    /// `None`: no login (anonymous FTP, no `Authorization`).
    pub(crate) fn credentials(&self, url: &Url, named: &Url) -> Option<Credentials> {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let from_url = (
            Some(url.username()).filter(|u| !u.is_empty()).map(decode),
            url.password().map(decode),
        );
        let given = if same_origin(url, named) {
            (self.login.user.clone(), self.login.password.clone())
        } else {
            (None, None)
        };
        let host = url.host_str().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        netrc::choose(from_url, given, self.netrc_entries(), host)
            .map(|(user, password)| Credentials { user, password })
    }
}

/// Emits, inside the `impl` of a request type with a `network: Network` field, the setters
/// that delegate to [`Network`]'s (so `GetRequest::new(u)?.retries(3)` keeps working), plus
/// `network(Network)` to set them all at once and `network_settings()` to read them.
macro_rules! delegate_setters {
    () => {
        /// All the network settings at once, replacing those set before.
        pub fn network(mut self, network: $crate::Network) -> Self {
            self.network = network;
            self
        }

        /// The network settings.
        pub fn network_settings(&self) -> &$crate::Network {
            &self.network
        }

        /// [`Network::retries`](crate::Network::retries).
        pub fn retries(mut self, n: u32) -> Self {
            self.network = self.network.retries(n);
            self
        }

        /// [`Network::retry_delay`](crate::Network::retry_delay).
        pub fn retry_delay(mut self, first: std::time::Duration, max: std::time::Duration) -> Self {
            self.network = self.network.retry_delay(first, max);
            self
        }

        /// [`Network::stall_timeout`](crate::Network::stall_timeout).
        pub fn stall_timeout(mut self, t: std::time::Duration) -> Self {
            self.network = self.network.stall_timeout(t);
            self
        }

        /// [`Network::connect_timeout`](crate::Network::connect_timeout).
        pub fn connect_timeout(mut self, t: std::time::Duration) -> Self {
            self.network = self.network.connect_timeout(t);
            self
        }

        /// [`Network::headers`](crate::Network::headers).
        pub fn headers(mut self, headers: reqwest::header::HeaderMap) -> Self {
            self.network = self.network.headers(headers);
            self
        }

        /// [`Network::root_certificate`](crate::Network::root_certificate).
        pub fn root_certificate(mut self, path: impl AsRef<std::path::Path>) -> Self {
            self.network = self.network.root_certificate(path);
            self
        }

        /// [`Network::insecure`](crate::Network::insecure).
        pub fn insecure(mut self, yes: bool) -> Self {
            self.network = self.network.insecure(yes);
            self
        }

        /// [`Network::ftp_tls`](crate::Network::ftp_tls).
        pub fn ftp_tls(mut self, yes: bool) -> Self {
            self.network = self.network.ftp_tls(yes);
            self
        }

        /// [`Network::login`](crate::Network::login).
        pub fn login(mut self, user: Option<String>, password: Option<String>) -> Self {
            self.network = self.network.login(user, password);
            self
        }

        /// [`Network::netrc`](crate::Network::netrc).
        pub fn netrc(mut self, path: Option<std::path::PathBuf>) -> Self {
            self.network = self.network.netrc(path);
            self
        }
    };
}

pub(crate) use delegate_setters;

/// Whether `a` and `b` have the same origin: scheme, host and port (RFC 6454 §4), the
/// boundary credentials and `-H` headers do not cross.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host() == b.host()
        && a.port_or_known_default() == b.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn credentials_go_only_to_the_named_origin_and_netrc_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let netrc = dir.path().join("netrc");
        std::fs::write(
            &netrc,
            "machine mirror.example login mu password mp\nmachine ::1 login v6 password p6\n",
        )
        .unwrap();
        let net = Network::default()
            .login(Some("ann".into()), Some("pw".into()))
            .netrc(Some(netrc));
        let named = url("https://files.example/a.iso");
        let got = |u: &str| {
            net.credentials(&url(u), &named)
                .map(|c| (c.user, c.password))
        };
        let pair = |u: &str, p: &str| Some((u.to_owned(), p.to_owned()));
        // (URL asked, credentials sent)
        let table = [
            ("https://files.example/a.iso", pair("ann", "pw")),
            ("https://files.example:443/b", pair("ann", "pw")),
            // another port, scheme or host is another origin
            ("https://files.example:8443/a.iso", None),
            ("http://files.example/a.iso", None),
            ("https://evil.example/a.iso", None),
            // a mirror with its own .netrc entry gets that one
            ("https://mirror.example/a.iso", pair("mu", "mp")),
            ("https://[::1]:9/a.iso", pair("v6", "p6")),
            // the URL's own login comes first, percent-decoded
            ("https://u%40x:p%3Aw@evil.example/", pair("u@x", "p:w")),
        ];
        for (asked, want) in table {
            assert_eq!(got(asked), want, "{asked}");
        }
    }

    #[test]
    fn debug_never_shows_a_password() {
        let net = Network::default().login(Some("ann".into()), Some("hunter2".into()));
        let creds = Credentials {
            user: "u".into(),
            password: "hunter2".into(),
        };
        for text in [format!("{net:?}"), format!("{creds:?}")] {
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}

//! [`GetRequest`]: what to download, where to, and how hard to try.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{Error, Network};

/// Where the downloaded file goes.
#[derive(Debug, Clone)]
pub enum Destination {
    /// Exactly this path.
    File(PathBuf),
    /// A name chosen from `Content-Disposition` or the URL, inside this directory.
    Dir(PathBuf),
}

/// A download to perform. Build with [`GetRequest::new`] and the setters.
#[derive(Debug, Clone)]
pub struct GetRequest {
    pub(crate) url: Url,
    pub(crate) mirrors: Vec<Url>,
    pub(crate) destination: Destination,
    pub(crate) connections: usize,
    pub(crate) limit_rate: Option<u64>,
    /// The limiter of a whole run (a batch), shared by every file; else one per download.
    pub(crate) limiter: Option<std::sync::Arc<crate::store::rate::RateLimiter>>,
    pub(crate) checksum: Option<crate::Checksum>,
    pub(crate) continue_existing: bool,
    pub(crate) overwrite: bool,
    /// Retries, timeouts, headers, TLS, login.
    pub(crate) network: Network,
    pub(crate) max_redirects: usize,
    /// Send the headers and the URL's login to every redirect target, not only to the URL's
    /// origin (curl's `--location-trusted`).
    pub(crate) location_trusted: bool,
    pub(crate) user_agent: String,
    pub(crate) checkpoint_interval: Duration,
    pub(crate) checkpoint_bytes: u64,
    pub(crate) cancel: CancellationToken,
}

impl GetRequest {
    /// The rate limiter this download uses: the run's, or a new one for `limit_rate`.
    pub(crate) fn rate_limiter(&self) -> Option<std::sync::Arc<crate::store::rate::RateLimiter>> {
        self.limiter.clone().or_else(|| {
            self.limit_rate
                .map(|r| std::sync::Arc::new(crate::store::rate::RateLimiter::new(r)))
        })
    }

    crate::network::delegate_setters!();

    /// A request for `url` into the current directory (names come out relative to it), with the defaults: 10 retries
    /// starting at 1 s back-off, 20 s stall timeout, 15 s connect timeout, 10 redirects,
    /// a checkpoint every second.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] or [`Error::UnsupportedScheme`].
    pub fn new(url: &str) -> Result<GetRequest, Error> {
        let parsed = Url::parse(url).map_err(|source| Error::InvalidUrl {
            url: url.to_owned(),
            source,
        })?;
        if !matches!(parsed.scheme(), "http" | "https" | "ftp") {
            return Err(Error::UnsupportedScheme {
                scheme: parsed.scheme().to_owned(),
                url: parsed,
            });
        }
        Ok(GetRequest {
            url: parsed,
            mirrors: Vec::new(),
            destination: Destination::Dir(PathBuf::new()),
            connections: 1,
            limit_rate: None,
            limiter: None,
            checksum: None,
            continue_existing: false,
            overwrite: false,
            network: Network::default(),
            max_redirects: 10,
            location_trusted: false,
            user_agent: concat!("durl/", env!("CARGO_PKG_VERSION")).to_owned(),
            checkpoint_interval: Duration::from_secs(1),
            checkpoint_bytes: u64::MAX,
            cancel: CancellationToken::new(),
        })
    }

    /// The URL to download.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Other URLs serving the same file. Requests (and the segments of a split download) go
    /// round-robin over all of them; a mirror whose length or validator differs, or that
    /// keeps failing, is dropped for this file while another source remains.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] or [`Error::UnsupportedScheme`] for a bad mirror.
    pub fn mirrors<S: AsRef<str>>(mut self, urls: &[S]) -> Result<Self, Error> {
        for url in urls {
            self.mirrors.push(GetRequest::new(url.as_ref())?.url);
        }
        Ok(self)
    }

    /// Write to exactly `path`.
    pub fn output(mut self, path: impl Into<PathBuf>) -> Self {
        self.destination = Destination::File(path.into());
        self
    }

    /// Choose the name from the server's answer or the URL, inside `dir`.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.destination = Destination::Dir(dir.into());
        self
    }

    /// Fetch over up to `n` connections (1 to 32) when the server supports ranges and
    /// gives a validator `If-Range` can carry; the file is split into segments of at least
    /// 1 MiB, and a connection that finishes takes over half of the largest remaining one.
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.clamp(1, 32);
        self
    }

    /// Limit the download to `bytes_per_sec` in all (shared by every connection).
    pub fn limit_rate(mut self, bytes_per_sec: Option<u64>) -> Self {
        self.limit_rate = bytes_per_sec.filter(|&r| r > 0);
        self.limiter = None;
        self
    }

    /// Verify the finished file against `checksum` before it gets its final name; a
    /// mismatch is [`Error::ChecksumMismatch`] and the data stays in the part file.
    pub fn checksum(mut self, checksum: Option<crate::Checksum>) -> Self {
        self.checksum = checksum;
        self
    }

    /// Adopt an existing output file without state as a prefix to complete, after checking
    /// its tail against the server; succeed at once if it is already complete.
    pub fn continue_existing(mut self, yes: bool) -> Self {
        self.continue_existing = yes;
        self
    }

    /// Replace an existing output file.
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// The most redirects to follow.
    pub fn max_redirects(mut self, n: usize) -> Self {
        self.max_redirects = n;
        self
    }

    /// Whether the headers ([`Self::headers`]) and the URL's login go on to redirect targets
    /// on another origin (scheme, host, port), as curl's `--location-trusted`. By default
    /// they are dropped there, so a key meant for one host never reaches another.
    pub fn location_trusted(mut self, yes: bool) -> Self {
        self.location_trusted = yes;
        self
    }

    /// The `User-Agent`.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Checkpoint (fsync the data, then record it in the state file) every `every`, or
    /// every `bytes` written if that comes first (`u64::MAX`: by time only). After a crash
    /// at most about one interval is fetched again.
    pub fn checkpoint_interval(mut self, every: Duration, bytes: u64) -> Self {
        self.checkpoint_interval = every;
        self.checkpoint_bytes = bytes.max(1);
        self
    }

    /// A token that stops the download cleanly (final checkpoint, then
    /// [`Error::Interrupted`]) when cancelled.
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }
}

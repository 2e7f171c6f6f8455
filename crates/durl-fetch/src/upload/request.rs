//! [`PutRequest`]: what to upload and where, and [`PutOutcome`]: how it ended.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use url::Url;

use crate::store::rate::RateLimiter;
use crate::store::retry::Policy;
use crate::{Error, Network, UploadMetadata};

/// An upload to perform. Build with [`PutRequest::new`] and the setters.
#[derive(Debug, Clone)]
pub struct PutRequest {
    pub(crate) local: PathBuf,
    pub(crate) url: Url,
    pub(crate) overwrite: bool,
    pub(crate) limit_rate: Option<u64>,
    /// The limiter of a whole run (a batch), shared by every file; else one per upload.
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    /// Retries, timeouts, headers, TLS, login.
    pub(crate) network: Network,
    pub(crate) chunk_size: u64,
    pub(crate) cancel: CancellationToken,
    /// tus: `Upload-Metadata` pairs besides `filename`.
    pub(crate) metadata: Vec<UploadMetadata>,
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOutcome {
    /// Where the file went (without its password): for tus, the upload's URL.
    pub url: Url,
    /// The file's length, which the server confirmed.
    pub bytes: u64,
    /// How much the server already held when this run started.
    pub resumed_from: u64,
    /// Bytes sent in this run (including any sent again after a failure).
    pub sent: u64,
    /// Nothing had to be sent: the server already held the whole file.
    pub already_complete: bool,
}

impl PutRequest {
    /// The rate limiter this upload uses: the run's, or a new one for `limit_rate`.
    pub(crate) fn rate_limiter(&self) -> Option<Arc<RateLimiter>> {
        self.limiter
            .clone()
            .or_else(|| self.limit_rate.map(|r| Arc::new(RateLimiter::new(r))))
    }

    crate::network::delegate_setters!();

    /// Uploads `local` to `url`, with the defaults of [`crate::GetRequest::new`] (10 retries
    /// from 1 s back-off, 20 s stall timeout, 15 s connect timeout). For `ftp://`, a URL
    /// ending in `/` names a directory: the local file's name is appended. An `http(s)://`
    /// URL is a tus endpoint (e.g. `durl serve --upload`'s `/.durl/uploads/`), used as given.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`], [`Error::UnsupportedScheme`].
    pub fn new(local: impl Into<PathBuf>, url: &str) -> Result<PutRequest, Error> {
        let local = local.into();
        let mut parsed = Url::parse(url).map_err(|source| Error::InvalidUrl {
            url: url.to_owned(),
            source,
        })?;
        match parsed.scheme() {
            "ftp" | "http" | "https" => {}
            scheme => {
                return Err(Error::UnsupportedScheme {
                    scheme: scheme.to_owned(),
                    url: parsed,
                });
            }
        }
        if parsed.scheme() == "ftp"
            && parsed.path().ends_with('/')
            && let Some(name) = local.file_name().and_then(|n| n.to_str())
            && let Ok(mut segments) = parsed.path_segments_mut()
        {
            segments.pop_if_empty().push(name);
        }
        Ok(PutRequest {
            local,
            url: parsed,
            overwrite: false,
            limit_rate: None,
            limiter: None,
            network: Network::default(),
            chunk_size: 32 << 20,
            cancel: CancellationToken::new(),
            metadata: Vec::new(),
        })
    }

    /// The URL to upload to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The local file.
    pub fn local(&self) -> &Path {
        &self.local
    }

    /// Replace a remote file that is longer than the local one or differs from it (without
    /// this, such a file is [`Error::RemoteExists`]). A remote file that is a prefix of the
    /// local one is still completed, not sent again. For tus: upload a file again that an
    /// earlier run sent completely (without this, such a file is already complete).
    pub fn overwrite(mut self, yes: bool) -> Self {
        self.overwrite = yes;
        self
    }

    /// tus: `Upload-Metadata` pairs sent when the upload is created, after `filename` (a
    /// `filename` pair here replaces the local name). Keys are unique: a later pair replaces
    /// an earlier one of the same key. FTP has no metadata: ignored there.
    pub fn metadata(mut self, pairs: impl IntoIterator<Item = UploadMetadata>) -> Self {
        for pair in pairs {
            self.metadata.retain(|p| p.key() != pair.key());
            self.metadata.push(pair);
        }
        self
    }

    /// Limit the upload to `bytes_per_sec`.
    pub fn limit_rate(mut self, bytes_per_sec: Option<u64>) -> Self {
        self.limit_rate = bytes_per_sec.filter(|&r| r > 0);
        self.limiter = None;
        self
    }

    /// The most bytes one checksummed tus `PATCH` carries (default 32 MiB; at least 1), and
    /// the size of the pieces the file is read in. A checksummed chunk is all or nothing, so
    /// chunks start at 1 MiB and are sized for about a second of sending at the rate measured
    /// (a cut costs about a second), up to this. Without the checksum extension one `PATCH`
    /// carries everything left (the server keeps what arrives). Two pieces are in memory at a
    /// time (the one sent and the next, read ahead).
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// A token that stops the upload ([`Error::UploadInterrupted`]) when cancelled.
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.cancel = token;
        self
    }

    pub(crate) fn retry_policy(&self) -> Policy {
        Policy {
            retries: self.network.retries,
            first: self.network.retry_delay,
            max: self.network.max_retry_delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_directory_urls() {
        let req = PutRequest::new("dir/a b.bin", "ftp://h/up/").unwrap();
        assert_eq!(req.url().as_str(), "ftp://h/up/a%20b.bin");
        let req = PutRequest::new("a.bin", "ftp://h/up/x.bin").unwrap();
        assert_eq!(req.url().as_str(), "ftp://h/up/x.bin");
        let req = PutRequest::new("a.bin", "https://h/.durl/uploads/").unwrap();
        assert_eq!(req.url().as_str(), "https://h/.durl/uploads/");
        assert!(matches!(
            PutRequest::new("a", "gopher://h/x"),
            Err(Error::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            PutRequest::new("a", "not a url"),
            Err(Error::InvalidUrl { .. })
        ));
    }
}

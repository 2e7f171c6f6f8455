//! [`Config`]: what to serve and how, built with chained setters.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::BasicAuth;
use crate::error::ServeError;

/// Everything [`run`](crate::run) needs besides the listener. Built with [`Config::new`] and
/// chained setters; every limit has a default suited to a public-facing server.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory served. Resolved (symlinks and all) once, when the server starts.
    pub(crate) root: PathBuf,
    /// When set, every request must carry these Basic credentials.
    pub(crate) auth: Option<BasicAuth>,
    /// When set, connections are TLS (HTTPS); ALPN offers h2 and http/1.1.
    pub(crate) tls: Option<TlsConfig>,
    /// Follow symbolic links whose target lies outside the root.
    pub(crate) follow_symlinks: bool,
    /// Answer directory requests with an HTML listing (otherwise 404).
    pub(crate) list_directories: bool,
    /// Emit one access-log event per request (`tracing`, target `durl_serve::access`).
    pub(crate) access_log: bool,
    /// Connection and request limits.
    pub(crate) limits: Limits,
    /// tus uploads: off unless enabled; where unfinished uploads live; limits.
    pub(crate) upload: UploadSettings,
}

/// tus upload settings (`upload/`).
#[derive(Debug, Clone)]
pub(crate) struct UploadSettings {
    /// Whether `/.durl/uploads/` accepts uploads at all.
    pub(crate) enabled: bool,
    /// Where unfinished uploads live; `None`: a hidden sibling of the root
    /// (`<parent>/.<name>.durl-uploads`). Never inside the served tree.
    pub(crate) dir: Option<PathBuf>,
    /// Whether a finished upload may replace an existing file of its name.
    pub(crate) overwrite: bool,
    /// Largest upload accepted (`Tus-Max-Size`); `None`: only free disk space limits it.
    pub(crate) max_size: Option<u64>,
    /// How long an unfinished upload lives after its last write (and a finished one's
    /// record after completion).
    pub(crate) expiry: Duration,
    /// Requests transferring upload data at once; more get 503 with `Retry-After`.
    pub(crate) max_transfers: usize,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            dir: None,
            overwrite: false,
            max_size: None,
            expiry: Duration::from_secs(24 * 60 * 60),
            max_transfers: 16,
        }
    }
}

/// Connection and request limits (slowloris, oversized heads, connection floods).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Connections served at once; further ones wait in the listen backlog.
    pub(crate) max_connections: usize,
    /// Connections one client address may hold; `None`: three quarters of
    /// `max_connections` (rounded up), so one address never holds every slot.
    pub(crate) max_connections_per_ip: Option<usize>,
    /// Time allowed for a request head to arrive, counted from the start of the connection
    /// for the first request (TLS handshake included) and from the end of the previous
    /// response for later ones, so it is also the idle keep-alive timeout.
    pub(crate) header_read_timeout: Duration,
    /// A connection on which no byte moves in either direction for this long is closed (a
    /// client that stopped reading its download, or went silent mid-request).
    pub(crate) idle_timeout: Duration,
    /// On shutdown, how long requests in flight may take to finish.
    pub(crate) grace_period: Duration,
    /// Largest request head (request line and fields) in bytes; larger → 431.
    pub(crate) max_head_bytes: usize,
    /// Most header fields in one request; more → 431.
    pub(crate) max_headers: usize,
    /// Longest request target in bytes; longer → 414.
    pub(crate) max_target_bytes: usize,
    /// Most concurrent HTTP/2 streams per connection.
    pub(crate) max_streams: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_ip: None,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            grace_period: Duration::from_secs(10),
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            max_target_bytes: 8 * 1024,
            max_streams: 128,
        }
    }
}

impl Limits {
    /// Connections one client address may hold: as configured, else three quarters of the
    /// global cap (rounded up).
    pub(crate) fn per_ip(&self) -> usize {
        self.max_connections_per_ip
            .unwrap_or(self.max_connections - self.max_connections / 4)
            .max(1)
    }
}

impl Config {
    /// Serves `root`, with no auth, no TLS, symlinks confined to `root`, directory listings and
    /// the access log on, and the default limits.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            auth: None,
            tls: None,
            follow_symlinks: false,
            list_directories: true,
            access_log: true,
            limits: Limits::default(),
            upload: UploadSettings::default(),
        }
    }

    /// Accepts tus 1.0 uploads at `/.durl/uploads/` (off by default). With
    /// [`Config::basic_auth`], only authenticated requests may upload. Finished uploads get
    /// their (sanitised) metadata file name in the served directory.
    #[must_use]
    pub fn uploads(mut self, enabled: bool) -> Self {
        self.upload.enabled = enabled;
        self
    }

    /// Where unfinished uploads live (created if missing, mode 0700). It must not be inside
    /// the served directory, and should be on the same file system (finishing is then a
    /// rename rather than a copy). Default: `<parent>/.<name>.durl-uploads` beside the root.
    #[must_use]
    pub fn upload_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.upload.dir = Some(dir.into());
        self
    }

    /// Whether a finished upload replaces an existing file of the same name (off by default:
    /// creating such an upload is refused with 409, and a name taken meanwhile gets a
    /// numbered variant, `name (1).ext`).
    #[must_use]
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.upload.overwrite = overwrite;
        self
    }

    /// The largest upload accepted, in bytes (default: no limit beyond free disk space).
    #[must_use]
    pub fn max_upload_size(mut self, bytes: u64) -> Self {
        self.upload.max_size = Some(bytes);
        self
    }

    /// How long an unfinished upload is kept after its last write (default 24 h).
    #[must_use]
    pub fn upload_expiry(mut self, expiry: Duration) -> Self {
        self.upload.expiry = expiry;
        self
    }

    /// Requests transferring upload data at once (default 16); more get 503.
    #[must_use]
    pub fn max_concurrent_uploads(mut self, n: usize) -> Self {
        self.upload.max_transfers = n.max(1);
        self
    }

    /// Requires HTTP Basic authentication with `user` and `password`.
    #[must_use]
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some(BasicAuth::new(user, password));
        self
    }

    /// Serves HTTPS with `tls`.
    #[must_use]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Follows symbolic links that lead outside the root (off by default: such links get 403).
    #[must_use]
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.follow_symlinks = follow;
        self
    }

    /// Whether directories get an HTML listing (on by default) or 404.
    #[must_use]
    pub fn list_directories(mut self, list: bool) -> Self {
        self.list_directories = list;
        self
    }

    /// Whether to emit an access-log event per request (on by default): `tracing` at INFO,
    /// target `durl_serve::access`, formatted like a common log line.
    #[must_use]
    pub fn access_log(mut self, enabled: bool) -> Self {
        self.access_log = enabled;
        self
    }

    /// Most connections served at once (default 1024); more wait in the listen backlog.
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limits.max_connections = n.max(1);
        self
    }

    /// Most connections one client address may hold (default: three quarters of
    /// [`Config::max_connections`], rounded up), so one address cannot take every slot. As
    /// many more of its connections wait (without a slot) for one of its own, at most the
    /// header read timeout; beyond that they are closed at once.
    #[must_use]
    pub fn max_connections_per_ip(mut self, n: usize) -> Self {
        self.limits.max_connections_per_ip = Some(n.max(1));
        self
    }

    /// Time allowed for a request head to arrive (default 10 s); also the idle keep-alive
    /// timeout. Slowloris clients are disconnected when it expires.
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// Closes connections on which no byte moved for this long (default 60 s): a client that
    /// stops reading a download does not hold its connection slot forever. Detection happens
    /// between one and two times this period. An HTTP/2 connection with no request open for
    /// this long is closed too (GOAWAY), even if it keeps exchanging PINGs.
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.limits.idle_timeout = timeout.max(Duration::from_millis(10));
        self
    }

    /// How long requests in flight may take to finish once shutdown starts (default 10 s).
    #[must_use]
    pub fn grace_period(mut self, period: Duration) -> Self {
        self.limits.grace_period = period;
        self
    }

    /// Largest request head in bytes (default 64 KiB, minimum 8 KiB); larger gets 431.
    #[must_use]
    pub fn max_head_bytes(mut self, n: usize) -> Self {
        self.limits.max_head_bytes = n.max(8192);
        self
    }

    /// Most header fields per request (default 100); more gets 431.
    #[must_use]
    pub fn max_headers(mut self, n: usize) -> Self {
        self.limits.max_headers = n;
        self
    }

    /// Longest request target in bytes (default 8 KiB); longer gets 414.
    #[must_use]
    pub fn max_target_bytes(mut self, n: usize) -> Self {
        self.limits.max_target_bytes = n;
        self
    }

    /// The directory this configuration serves, as given.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }
}

/// A TLS server configuration (rustls, aws-lc-rs provider, ALPN h2 + http/1.1).
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) server: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

impl TlsConfig {
    /// Loads a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    ///
    /// [`ServeError::TlsRead`] if a file cannot be read or decoded, [`ServeError::NoCertificate`]
    /// / [`ServeError::NoPrivateKey`] if one is missing, [`ServeError::Tls`] if rustls rejects
    /// the pair.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, ServeError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| ServeError::TlsRead {
                path: path.to_owned(),
                source,
            })
        };
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        Self::from_pem_inner(&cert_pem, &key_pem, Some((cert, key)))
    }

    /// Builds from a PEM certificate chain and PEM private key held in memory.
    ///
    /// # Errors
    ///
    /// As [`TlsConfig::from_pem_files`], minus the file reading.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Self, ServeError> {
        Self::from_pem_inner(cert_pem, key_pem, None)
    }

    fn from_pem_inner(
        cert_pem: &[u8],
        key_pem: &[u8],
        paths: Option<(&Path, &Path)>,
    ) -> Result<Self, ServeError> {
        let decode_error = |which: usize, source| match paths {
            Some(p) => ServeError::TlsRead {
                path: if which == 0 { p.0 } else { p.1 }.to_owned(),
                source,
            },
            None => ServeError::TlsRead {
                path: PathBuf::from(if which == 0 { "<certificate>" } else { "<key>" }),
                source,
            },
        };
        let certs = rustls_pemfile::certs(&mut &*cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| decode_error(0, e))?;
        if certs.is_empty() {
            return Err(ServeError::NoCertificate);
        }
        let key = rustls_pemfile::private_key(&mut &*key_pem)
            .map_err(|e| decode_error(1, e))?
            .ok_or(ServeError::NoPrivateKey)?;
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(ServeError::Tls)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(ServeError::Tls)?;
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            server: Arc::new(server),
        })
    }
}

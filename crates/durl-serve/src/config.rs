//! [`Config`]: what to serve and how, built with chained setters.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::access_log::LogFormat;
use crate::auth::{AccessRule, Accounts, BasicAuth};
use crate::error::ServeError;
use crate::storage::object_key::{BucketUrl, BucketUrlError, endpoint_allowed};
use crate::upload::space::{DiskSpace, Space};

/// Everything [`run`](crate::run) needs besides the listener. Built with [`Config::new`] and
/// chained setters; every limit has a default suited to a public-facing server.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory served. Resolved (symlinks and all) once, when the server starts.
    pub(crate) root: PathBuf,
    /// The object store served instead of `root` ([`Config::object_store`]).
    pub(crate) objects: Option<S3Storage>,
    /// When set, every request must carry these Basic credentials.
    pub(crate) auth: Option<BasicAuth>,
    /// Accounts with hashed passwords (`--auth-file`).
    pub(crate) accounts: Option<Accounts>,
    /// Rights per user and path (`--allow`); none: every account may do everything.
    pub(crate) rules: Vec<AccessRule>,
    /// When set, connections are TLS (HTTPS); ALPN offers h2 and http/1.1.
    pub(crate) tls: Option<TlsConfig>,
    /// Follow symbolic links whose target lies outside the root.
    pub(crate) follow_symlinks: bool,
    /// Answer directory requests with an HTML listing (otherwise 404).
    pub(crate) list_directories: bool,
    /// The file a directory request is answered with when the directory holds it
    /// (`index.html` by default); `None`: always the listing.
    pub(crate) index: Option<String>,
    /// Serve and list dotfiles (names starting with `.`); off: they are 404 and unlisted.
    pub(crate) hidden: bool,
    /// Sandbox every file of an active type, not only those that arrived by upload.
    pub(crate) sandbox_all: bool,
    /// Emit one access-log event per request (`tracing`, target `durl_serve::access`).
    pub(crate) access_log: bool,
    /// The access log's line format.
    pub(crate) log_format: LogFormat,
    /// Hash every file at startup (in the background) so `Repr-Digest` is ready at once.
    pub(crate) precompute_digests: bool,
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
    /// Where unfinished uploads live; `None`: `ROOT/.durl-uploads` (never served, listed or
    /// an upload target), or the old default `<parent>/.<name>.durl-uploads` where it exists.
    pub(crate) dir: Option<PathBuf>,
    /// Whether a finished upload may replace an existing file of its name.
    pub(crate) overwrite: bool,
    /// Whether dotfile directories may be upload targets (the server's `hidden`, copied
    /// when the store opens).
    pub(crate) hidden: bool,
    /// Largest upload accepted (`Tus-Max-Size`); `None`: only free disk space limits it.
    pub(crate) max_size: Option<u64>,
    /// How long an unfinished upload lives after its last write (and a finished one's
    /// record after completion).
    pub(crate) expiry: Duration,
    /// Requests transferring upload data at once; more get 503 with `Retry-After`.
    pub(crate) max_transfers: usize,
    /// Of these, the most one client address may run; `None`: three quarters (rounded up).
    pub(crate) max_transfers_per_ip: Option<usize>,
    /// The rate floor for upload bodies, bytes per second (0: none) ...
    pub(crate) min_rate: u64,
    /// ... over windows of this length: a window that brings less cuts the body (408).
    pub(crate) rate_window: Duration,
    /// Where free disk space is read from, and the reserve kept free (`upload/space.rs`).
    pub(crate) space: Space,
    /// How long an upload's lease in an object store lasts without renewal: after a crash,
    /// the time before another instance may continue the upload (`upload/lease.rs`).
    pub(crate) lease: Duration,
}

impl Default for UploadSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            dir: None,
            overwrite: false,
            hidden: false,
            max_size: None,
            expiry: Duration::from_secs(24 * 60 * 60),
            max_transfers: 16,
            max_transfers_per_ip: None,
            min_rate: 1024,
            rate_window: Duration::from_secs(30),
            space: Space::default(),
            lease: Duration::from_secs(10),
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
            objects: None,
            auth: None,
            accounts: None,
            rules: Vec::new(),
            tls: None,
            follow_symlinks: false,
            list_directories: true,
            index: Some("index.html".to_owned()),
            hidden: false,
            sandbox_all: false,
            access_log: true,
            log_format: LogFormat::Combined,
            precompute_digests: false,
            limits: Limits::default(),
            upload: UploadSettings::default(),
        }
    }

    /// Serves the objects of an S3-API object store instead of a directory: the same
    /// answers (Range, conditional requests, listings, auth), from ranged `GET`s pinned to
    /// the object's version. Uploads and digests are not offered over an object store yet.
    pub fn object_store(storage: S3Storage) -> Self {
        let mut config = Self::new(storage.url());
        config.objects = Some(storage);
        config
    }

    /// Whether the files are an object store's ([`Config::object_store`]).
    #[must_use]
    pub fn is_object_store(&self) -> bool {
        self.objects.is_some()
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
    /// rename rather than a copy). Default: `.durl-uploads` inside the root, which no request
    /// reaches (404 for files, listings and links into it, even with [`Config::hidden`]); it
    /// needs no permission outside the root and is on its file system. Where the default of
    /// earlier versions, `<parent>/.<name>.durl-uploads` beside the root, exists, that one
    /// is used (with a warning) so that its unfinished uploads are not lost.
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

    /// How long an upload's lease in an object store lasts unless renewed (default 10 s):
    /// after an instance dies mid-transfer, the time before another may continue the upload.
    #[must_use]
    pub fn upload_lease(mut self, lease: Duration) -> Self {
        self.upload.lease = lease.max(Duration::from_millis(300));
        self
    }

    /// Requests transferring upload data at once (default 16); more get 503.
    #[must_use]
    pub fn max_concurrent_uploads(mut self, n: usize) -> Self {
        self.upload.max_transfers = n.max(1);
        self
    }

    /// Upload transfers one client address may run at once (default: three quarters of
    /// [`Config::max_concurrent_uploads`], rounded up); more get 503.
    #[must_use]
    pub fn max_uploads_per_ip(mut self, n: usize) -> Self {
        self.upload.max_transfers_per_ip = Some(n.max(1));
        self
    }

    /// The rate floor for upload bodies (default 1 KiB/s over 30 s windows): a body that
    /// brings less than `bytes_per_second × window` in a window is cut with 408 (what arrived
    /// is kept), so trickling clients cannot hold the transfer slots. 0 turns it off.
    #[must_use]
    pub fn min_upload_rate(mut self, bytes_per_second: u64, window: Duration) -> Self {
        self.upload.min_rate = bytes_per_second;
        self.upload.rate_window = window.max(Duration::from_millis(100));
        self
    }

    /// Disk space kept free by uploads, in bytes (default 64 MiB, on top of the file system's
    /// own reserve for root, which the free space read already leaves out). Every byte an upload will write is promised before it is
    /// written (a known length at creation, a chunked body of unknown size as it comes), and
    /// promises never reach into this reserve: an upload that does not fit gets 507, so
    /// several uploads started together cannot fill the disk. 0: no reserve.
    #[must_use]
    pub fn upload_reserve(mut self, bytes: u64) -> Self {
        self.upload.space.reserve = Some(bytes);
        self
    }

    /// Where uploads read the free disk space from (default: `statvfs(2)` of the upload
    /// directory): e.g. a quota of the embedding program, or a test's fake disk. Called
    /// with the upload directory before space is promised.
    #[must_use]
    pub fn disk_space_source(
        mut self,
        source: impl Fn(&Path) -> io::Result<DiskSpace> + Send + Sync + 'static,
    ) -> Self {
        self.upload.space.source = Some(Arc::new(source));
        self
    }

    /// Requires HTTP Basic authentication with `user` and `password`.
    #[must_use]
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some(BasicAuth::new(user, password));
        self
    }

    /// Accepts the accounts of an htpasswd-syntax file (HTTP Basic authentication against
    /// argon2id, bcrypt or SHA-512-crypt hashes), besides [`Config::basic_auth`].
    #[must_use]
    pub fn accounts(mut self, accounts: Accounts) -> Self {
        self.accounts = Some(accounts);
        self
    }

    /// Adds a rights rule (`USER:RIGHTS:PATH`). With rules, a request needs one granting its
    /// user (or `*`, which includes anonymous requests) read (GET, HEAD, listings) or write
    /// (uploads) on its path or an ancestor; listings leave out what the user cannot read.
    /// Without rules, every account may read and write, and anonymous requests nothing.
    #[must_use]
    pub fn allow(mut self, rule: AccessRule) -> Self {
        self.rules.push(rule);
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

    /// The file that answers a request for a directory holding it (default `index.html`, as
    /// nginx and python's http.server do); `None` lists such directories anyway. A name
    /// with `/`, or `.`/`..`, is ignored (`None`).
    #[must_use]
    pub fn index_file(mut self, name: Option<&str>) -> Self {
        self.index = name
            .filter(|n| !n.is_empty() && !n.contains('/') && *n != "." && *n != "..")
            .map(str::to_owned);
        self
    }

    /// Whether dotfiles (any path segment starting with `.`) are served and listed (off by
    /// default: they are answered 404 and left out of listings, so `.git/` or `.env` in a
    /// served tree stay private).
    #[must_use]
    pub fn hidden(mut self, serve: bool) -> Self {
        self.hidden = serve;
        self
    }

    /// Which files of an active type (HTML, XHTML, SVG, XML, JavaScript) are served with
    /// `Content-Security-Policy: sandbox` (no script, an opaque origin): by default only
    /// those that arrived by upload (marked with the `user.durl.upload` xattr when placed;
    /// where xattrs cannot be read, every one while uploads are on), so that a served site's
    /// own scripts run; with `all`, every one. `X-Content-Type-Options: nosniff` goes on
    /// every file either way.
    #[must_use]
    pub fn sandbox_all(mut self, all: bool) -> Self {
        self.sandbox_all = all;
        self
    }

    /// Whether to emit an access-log event per request (on by default): `tracing` at INFO,
    /// target `durl_serve::access`, the line in [`Config::log_format`] as the message,
    /// emitted when the response body is done, with the bytes actually sent.
    #[must_use]
    pub fn access_log(mut self, enabled: bool) -> Self {
        self.access_log = enabled;
        self
    }

    /// The access log's line format (default: Combined Log Format plus the response time).
    #[must_use]
    pub fn log_format(mut self, format: LogFormat) -> Self {
        self.log_format = format;
        self
    }

    /// Hashes every file below the root at startup, in the background, so that
    /// `Want-Repr-Digest` is answered with `Repr-Digest` (RFC 9530) from the first request
    /// even for large files (off by default: files are hashed when first asked for, large
    /// ones in the background, and the digests kept in a `user.durl.digest` xattr).
    #[must_use]
    pub fn precompute_digests(mut self, precompute: bool) -> Self {
        self.precompute_digests = precompute;
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
        // rustls-pki-types' PEM reader (RFC 7468); rustls-pemfile is unmaintained
        // (RUSTSEC-2025-0134).
        let invalid = |e: pem::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        let certs = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| decode_error(0, invalid(e)))?;
        if certs.is_empty() {
            return Err(ServeError::NoCertificate);
        }
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(key) => key,
            Err(pem::Error::NoItemsFound) => return Err(ServeError::NoPrivateKey),
            Err(e) => return Err(decode_error(1, invalid(e))),
        };
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

/// Where `durl serve s3://…` finds its objects, and how it signs its requests.
#[derive(Clone)]
pub struct S3Storage {
    pub(crate) url: BucketUrl,
    pub(crate) access_key_id: Option<String>,
    pub(crate) secret_access_key: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) allow_http: bool,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("url", &self.url.display())
            .field("access_key_id", &self.access_key_id)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// The objects below `s3://BUCKET[/PREFIX]`.
    ///
    /// # Errors
    ///
    /// A URL that is not `s3://`, a bucket name S3 would refuse, a prefix with an empty, `.`
    /// or `..` segment.
    pub fn parse(url: &str) -> Result<Self, BucketUrlError> {
        Ok(Self {
            url: BucketUrl::parse(url)?,
            access_key_id: None,
            secret_access_key: None,
            region: None,
            endpoint: None,
            allow_http: false,
        })
    }

    /// Signs requests with this key (AWS Signature Version 4); without, requests go
    /// unsigned (a public bucket).
    #[must_use]
    pub fn credentials(mut self, access_key_id: &str, secret_access_key: &str) -> Self {
        self.access_key_id = Some(access_key_id.to_owned());
        self.secret_access_key = Some(secret_access_key.to_owned());
        self
    }

    /// The region the requests are signed for (default `us-east-1`).
    #[must_use]
    pub fn region(mut self, region: &str) -> Self {
        self.region = Some(region.to_owned());
        self
    }

    /// Another S3-API endpoint than AWS's (`https://…`, or `http://` to a loopback
    /// address; elsewhere only with [`S3Storage::allow_http`]). Requests are path-style.
    #[must_use]
    pub fn endpoint(mut self, endpoint: &str) -> Self {
        self.endpoint = Some(endpoint.trim_end_matches('/').to_owned());
        self
    }

    /// Allows a plain-HTTP endpoint that is not a loopback address.
    #[must_use]
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.allow_http = allow;
        self
    }

    /// `s3://BUCKET/PREFIX`.
    pub fn url(&self) -> String {
        self.url.display()
    }

    /// Checks what can be checked without the network: a plain-HTTP endpoint must be a
    /// loopback address unless allowed. [`run`](crate::run) checks it too.
    ///
    /// # Errors
    ///
    /// [`ServeError::PlainHttpEndpoint`].
    pub fn check(&self) -> Result<(), ServeError> {
        match &self.endpoint {
            Some(endpoint) if !endpoint_allowed(endpoint, self.allow_http) => {
                Err(ServeError::PlainHttpEndpoint {
                    endpoint: endpoint.clone(),
                })
            }
            _ => Ok(()),
        }
    }
}

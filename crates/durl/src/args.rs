//! Raw command-line arguments (clap derive). Nothing here is validated beyond what clap does;
//! `get.rs` and `serve.rs` turn these into validated library requests.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Resumable downloads that finish with exactly the right bytes.
#[derive(Debug, Parser)]
#[command(
    name = "durl",
    version,
    about,
    propagate_version = true,
    args_override_self = true,
    after_help = "See 'durl help' (or --help) for exit codes, environment variables and examples.",
    after_long_help = crate::help::main()
)]
pub struct Cli {
    /// Read default options from FILE instead of $XDG_CONFIG_HOME/durl/config (else
    /// ~/.config/durl/config). Lines are `long-option = value`, sections [get], [put],
    /// [serve], [daemon], [queue]; options on the command line win.
    #[arg(long, value_name = "FILE", env = "DURL_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Read no config file.
    #[arg(long, global = true, conflicts_with = "config")]
    pub no_config: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download URL(s), resuming any partial download left by an earlier run.
    Get(GetArgs),
    /// Upload file(s) to an ftp:// URL or a tus endpoint, continuing what the server already holds.
    Put(PutArgs),
    /// Serve a directory over HTTP with complete Range support.
    Serve(ServeArgs),
    /// Print an argon2id hash of a password read without echo (for `durl serve --auth-file`):
    /// `USER:HASH` with a USER, the hash alone without. Off a terminal, the first line of
    /// stdin is the password.
    Passwd {
        /// The user name to put before the hash.
        #[arg(value_name = "USER")]
        user: Option<String>,
    },
    /// Run a download manager: a durable queue behind aria2's JSON-RPC and a web page.
    Daemon(DaemonArgs),
    /// Hand downloads to a running `durl daemon` and steer them: add, list, pause, resume, remove.
    Queue(crate::queue::QueueArgs),
    /// Print a shell completion script on stdout (e.g. `durl completions bash > ~/.local/share/bash-completion/completions/durl`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a manual page in roff on stdout: durl(1), or with COMMAND durl-COMMAND(1) (e.g.
    /// `durl man get > ~/.local/share/man/man1/durl-get.1`).
    Man {
        /// The subcommand whose page to print.
        #[arg(value_name = "COMMAND", value_parser = ["get", "put", "serve", "daemon", "queue", "completions"])]
        command: Option<String>,
    },
}

/// Arguments of `durl get`.
#[derive(Debug, Args)]
#[command(after_long_help = crate::help::GET)]
pub struct GetArgs {
    /// The URL(s) to download: http://, https:// or ftp://[user[:password]@]host[:port]/path.
    #[arg(value_name = "URL", required_unless_present = "input_file")]
    pub urls: Vec<String>,

    /// Read URLs from FILE (`-` for stdin): one per line, `#` comments, indented
    /// `out=`/`dir=`/`checksum=` option lines under an entry (aria2c's input-file style).
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,

    /// Files downloaded at once when there are several.
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// Open connections in all, whatever -j and -x ask for.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_connections: u16,

    /// Open connections to one host, whatever -j and -x ask for.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub max_per_host: u16,

    /// Print a JSON report on stdout, one object per line and file (url, path, bytes,
    /// status, error kind and message, checksum).
    #[arg(long)]
    pub json: bool,

    /// Write to FILE instead of a name derived from the server's answer or the URL.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Directory for the downloaded file, created if missing (ignored for the directory part of
    /// an absolute --output). As in aria2c; wget's -P and curl's --output-dir.
    #[arg(short, long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Connections per file (1-32), as aria2c's -x. With more than one, a file whose server supports ranges
    /// and gives a validator is split into segments (at least 1 MiB each) fetched at once.
    #[arg(short = 'x', long = "connections", value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=32))]
    pub connections: u8,

    /// Verify the file before it gets its final name: ALGO=HEX with ALGO one of sha256,
    /// sha512, sha1, md5. On a mismatch durl exits 9 and the data stays in the part file.
    #[arg(long, value_name = "ALGO=HEX")]
    pub checksum: Option<durl_fetch::Checksum>,

    /// Limit the download rate in bytes per second, shared by all connections: 500K, 2M,
    /// 1G, 2MiB (K, M, G, KiB, MiB, GiB = powers of 1024, as curl) or 2MB, 500KB (powers of
    /// 1000).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub limit_rate: Option<u64>,

    /// Adopt an existing output file that has no durl state as a prefix to complete (checked
    /// against the server first), and succeed without downloading if it is already complete.
    #[arg(short = 'c', long = "continue")]
    pub continue_: bool,

    /// Replace an existing complete output file.
    #[arg(long, conflicts_with = "continue_")]
    pub force: bool,

    /// No progress bar and no summary line; errors are still printed. -s/--silent as curl.
    #[arg(short, long, visible_short_alias = 's', visible_alias = "silent")]
    pub quiet: bool,

    /// How progress is shown: a bar on a terminal and a line every 10 s or 10% elsewhere
    /// (auto), or one JSON object per line on stderr (json: name, bytes, total, rate, state).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Seconds between checkpoints (fsync of the data, then the state file). After a crash at
    /// most about this much of the transfer is fetched again.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub checkpoint_interval: f64,

    /// Maximum number of redirects to follow.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub max_redirects: usize,

    /// Send the -H headers and the URL's login on redirects to other hosts too (curl's name).
    /// By default they go only to the origin (scheme, host, port) of the URL given.
    #[arg(long)]
    pub location_trusted: bool,

    /// User-Agent header to send.
    #[arg(short = 'A', long, value_name = "UA")]
    pub user_agent: Option<String>,

    /// Referer header to send (http, https).
    #[arg(short = 'e', long, value_name = "URL")]
    pub referer: Option<String>,

    /// Accepted for curl: durl always follows redirects (up to --max-redirects).
    #[arg(short = 'L', long)]
    pub location: bool,

    /// Print the response headers of a HEAD request (after redirects) on stdout and exit, as
    /// curl -I; a server that refuses HEAD (405, 501) is asked with a GET whose body is not
    /// read. Nothing is written. An error status exits as a download would (4, 11).
    #[arg(short = 'I', long)]
    pub head: bool,

    /// Accepted for curl: durl always names the file after the server's answer or the URL
    /// (use -o to choose).
    #[arg(short = 'O', long)]
    pub remote_name: bool,

    /// Accepted for curl: durl always takes the name from Content-Disposition when the
    /// server sends one (sanitised).
    #[arg(short = 'J', long)]
    pub remote_header_name: bool,

    /// Retries, timeouts, headers, TLS.
    #[command(flatten)]
    pub net: NetworkArgs,
}

impl GetArgs {
    /// Whether the list comes from standard input (`-i -`), which --password-stdin needs.
    pub fn list_from_stdin(&self) -> bool {
        self.input_file
            .as_ref()
            .is_some_and(|p| p.as_os_str() == "-")
    }
}

/// Arguments of `durl put`.
#[derive(Debug, Args)]
#[command(after_long_help = crate::help::PUT)]
pub struct PutArgs {
    /// The file(s) to upload, then the URL they go to (last). URL forms:
    ///
    ///   ftp://[user[:pass]@]host[:port]/dir/  each file under its name
    ///   ftp://[user[:pass]@]host[:port]/path  one file, to this name
    ///   http(s)://host[:port]/endpoint/       a tus 1.0 endpoint
    ///
    /// durl serve --upload's endpoint is http://host:8000/.durl/uploads/. With -i the URL is
    /// optional when every listed file has its own `to=`.
    #[arg(
        value_name = "LOCAL... URL",
        required_unless_present = "input_file",
        verbatim_doc_comment
    )]
    pub targets: Vec<PathBuf>,

    /// Read the files to upload from FILE (`-` for stdin): one path per line, `#` comments,
    /// an indented `to=URL` line under a file to send it elsewhere.
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input_file: Option<PathBuf>,

    /// Files uploaded at once when there are several (one connection each).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,

    /// Print a JSON report on stdout, one object per line and file (local, url, bytes, sent,
    /// status, error kind and message).
    #[arg(long)]
    pub json: bool,

    /// FTP: replace a remote file that is longer than LOCAL or differs from it (a remote file
    /// that is a prefix of LOCAL is completed either way). tus: upload again a file that an
    /// earlier run uploaded completely (otherwise it is "already complete").
    #[arg(long)]
    pub force: bool,

    /// No progress bar and no summary line; errors are still printed. -s/--silent as curl.
    #[arg(short, long, visible_short_alias = 's', visible_alias = "silent")]
    pub quiet: bool,

    /// How progress is shown: a bar on a terminal and a line every 10 s or 10% elsewhere
    /// (auto), or one JSON object per line on stderr (json: name, bytes, total, rate, state).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Limit the upload rate in bytes per second: 500K, 2M, 1G, 2MiB (powers of 1024) or
    /// 2MB, 500KB (powers of 1000).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub limit_rate: Option<u64>,

    /// tus: an `Upload-Metadata` pair sent when an upload is created, besides `filename`
    /// (a `filename` here names the file on the server instead of LOCAL's name). Repeatable.
    /// durl serve reads `directory` (where the file lands, e.g. /photos) and `onconflict`
    /// (refuse, keep or replace); tusd hands every pair to its hooks. A key given again
    /// replaces the earlier value (the command line wins over the config file).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<durl_fetch::UploadMetadata>,

    /// Retries, timeouts, headers, TLS.
    #[command(flatten)]
    pub net: NetworkArgs,
}

/// How hard to try and how to connect: the options `durl get` and `durl put` share.
#[derive(Debug, Args)]
pub struct NetworkArgs {
    /// How many times to retry after a retryable failure (network error, stall, 5xx, 408,
    /// 429; for FTP a 4xx reply). --retry as curl.
    #[arg(long, visible_alias = "retry", value_name = "N", default_value_t = 10)]
    pub retries: u32,

    /// Give up after SECS seconds for the whole run: the partial is checkpointed (the same
    /// command continues it) and durl exits 5.
    #[arg(short = 'm', long, value_name = "SECS")]
    pub max_time: Option<f64>,

    /// Seconds before the first retry; the delay doubles per consecutive failure (with
    /// jitter) up to 60 s. A server's Retry-After replaces it (capped at 60 s).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub retry_delay: f64,

    /// Seconds without a single byte moving (or without an answer) before the connection
    /// counts as stalled and is retried.
    #[arg(long, value_name = "SECS", default_value_t = 20.0)]
    pub stall_timeout: f64,

    /// Seconds allowed for establishing a connection (TCP and TLS).
    #[arg(long, value_name = "SECS", default_value_t = 15.0)]
    pub connect_timeout: f64,

    /// Extra request header for http(s), "Name: value" (repeatable; a name given twice is
    /// sent twice). Not Range or If-Range: durl sets those itself.
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,

    /// Trust the PEM certificate(s) in FILE in addition to the system roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Do not verify TLS certificates (dangerous).
    #[arg(short = 'k', long)]
    pub insecure: bool,

    /// Login USER or USER:PASSWORD for URLs that name no user: the FTP login, or HTTP Basic
    /// credentials (as curl -u), sent only to the origin (scheme, host, port) of the URL
    /// given, never to a redirect's or a mirror's other origin. Without a password, it comes
    /// from --password-stdin or the .netrc entry for the host and user.
    #[arg(short = 'u', long, value_name = "USER[:PASSWORD]")]
    pub user: Option<String>,

    /// Read the password from the first line of standard input (it never appears in the
    /// process list or in the shell history).
    #[arg(long)]
    pub password_stdin: bool,

    /// The .netrc file with logins (machine/login/password/default entries) for URLs and
    /// --user that give none, for FTP and HTTP(S) alike, each host by its own entry;
    /// default $NETRC, else ~/.netrc.
    #[arg(long, value_name = "FILE")]
    pub netrc_file: Option<PathBuf>,

    /// Show every HTTP request and response head (redirects, ranges, retries, segments, tus
    /// requests) on stderr, each line prefixed by the request's number; the values of
    /// Authorization, Proxy-Authorization and Cookie and URL passwords are masked.
    #[arg(short = 'v', long)]
    pub verbose: bool,

    /// Send http(s) requests through this proxy: http://, https://, socks5:// or socks5h://
    /// (names resolved by the proxy), with user:password@ for a proxy login. Without it the
    /// environment's http_proxy, https_proxy and all_proxy are used (and no_proxy). (curl's
    /// -x; durl's -x is aria2c's connections.)
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,

    /// Hosts to reach without the proxy, comma-separated (a name covers its subdomains; IP
    /// addresses and CIDR ranges too), or * for none at all; replaces the no_proxy variable.
    #[arg(long, value_name = "LIST")]
    pub noproxy: Option<String>,

    /// For ftp:// URLs: explicit FTPS (AUTH TLS before login; data protected too). A server
    /// that refuses TLS is an error, never a fallback to plain FTP.
    #[arg(long)]
    pub ftp_ssl: bool,
}

/// Arguments of `durl serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory to serve, or s3://BUCKET[/PREFIX]: the objects of an S3-API store (keys from
    /// $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY; none: unsigned requests).
    #[arg(default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,

    /// With s3://: the store's endpoint (default $AWS_ENDPOINT_URL, else AWS). Plain http://
    /// only to a loopback address unless --allow-http.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// With s3://: the region requests are signed for (default $AWS_REGION, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,

    /// With s3://: allow a plain-HTTP endpoint that is not a loopback address (keys and data
    /// cross the network in the clear).
    #[arg(long)]
    pub allow_http: bool,

    /// Address to listen on.
    #[arg(short, long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,

    /// Port to listen on (0 picks a free one).
    #[arg(short, long, default_value_t = 8000, value_name = "PORT")]
    pub port: u16,

    /// Require HTTP Basic authentication with USER:PASS.
    #[arg(long, value_name = "USER:PASS")]
    pub auth: Option<String>,

    /// Accounts: one USER:HASH per line (htpasswd syntax; argon2id, bcrypt or SHA-512-crypt
    /// hashes, e.g. from `durl passwd USER`).
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,

    /// Give USER (or * for everyone, anonymous included) RIGHTS (r, w or rw) on PATH and
    /// below, e.g. 'alice:rw:/', 'bob:r:/public', '*:r:/public'. Repeatable. Without any,
    /// every account may read and upload.
    #[arg(long, value_name = "USER:RIGHTS:PATH")]
    pub allow: Vec<String>,

    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Follow symbolic links even when they point outside DIR.
    #[arg(long)]
    pub follow_symlinks: bool,

    /// No access log on stderr (--access-log FILE still gets it).
    #[arg(short, long)]
    pub quiet: bool,

    /// The access log's format: combined (Apache's Combined Log Format plus the response
    /// time in microseconds) or json (one object per line).
    #[arg(long, value_name = "FORMAT", default_value = "combined",
          value_parser = ["combined", "json"])]
    pub log_format: String,

    /// Also append the access log to FILE (created if missing), one line per request.
    #[arg(long, value_name = "FILE")]
    pub access_log: Option<PathBuf>,

    /// The file that answers a request for a directory holding it.
    #[arg(long, value_name = "NAME", default_value = "index.html",
          value_parser = parse_index_name)]
    pub index: String,

    /// List directories even when they hold an index file.
    #[arg(long, conflicts_with = "index")]
    pub no_index: bool,

    /// Hash every file at startup (in the background), so that clients asking with
    /// Want-Repr-Digest get Repr-Digest (RFC 9530, sha-256/sha-512) at once even for large
    /// files.
    #[arg(long)]
    pub digest: bool,

    /// Serve and list dotfiles (names starting with "."); by default they are 404 and unlisted.
    #[arg(long)]
    pub hidden: bool,

    /// Which files of an active type (HTML, SVG, XML, JavaScript) get
    /// Content-Security-Policy: sandbox (no script, an opaque origin): "uploads", those that
    /// arrived by upload, so a served site's own scripts run; or "all".
    #[arg(long, value_name = "WHICH", default_value = "uploads",
          value_parser = ["uploads", "all"])]
    pub sandbox: String,

    /// Accept resumable uploads (tus 1.0) at /.durl/uploads/; finished files appear in DIR
    /// under their sanitised metadata name. With --auth only authenticated users may upload.
    #[arg(long)]
    pub upload: bool,

    /// Where unfinished uploads live (default: DIR/.durl-uploads, which no URL reaches; an
    /// explicit one must be outside DIR, best on the same file system).
    #[arg(long, value_name = "DIR", requires = "upload")]
    pub upload_dir: Option<PathBuf>,

    /// Let a finished upload replace an existing file of the same name.
    #[arg(long, requires = "upload")]
    pub overwrite: bool,

    /// Largest upload accepted, e.g. 500M or 4G (K = 1024); default: free disk space.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "upload")]
    pub max_upload_size: Option<u64>,

    /// Seconds an unfinished upload is kept after its last write.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 86_400,
        requires = "upload"
    )]
    pub upload_expiry: u64,

    /// Uploads transferring data at once; more are told to retry (503).
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..), requires = "upload")]
    pub max_concurrent_uploads: u16,

    /// Upload transfers one client address may run at once (default: three quarters of
    /// --max-concurrent-uploads); more get 503.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..), requires = "upload")]
    pub max_uploads_per_ip: Option<u16>,

    /// Disk space uploads leave free, e.g. 1G (default 64M, besides the file system's own
    /// reserve for root; 0: none). Space is promised before bytes are written: an upload that would eat
    /// into this reserve gets 507.
    #[arg(long, value_name = "SIZE", value_parser = parse_size_or_zero, requires = "upload")]
    pub upload_reserve: Option<u64>,

    /// Slowest upload body accepted, bytes per second over each --upload-rate-window
    /// (0: no floor). A slower body is cut with 408; what arrived is kept.
    #[arg(long, value_name = "RATE", default_value = "1K",
          value_parser = parse_size_or_zero, requires = "upload")]
    pub upload_min_rate: u64,

    /// Seconds over which --upload-min-rate is measured.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..), requires = "upload")]
    pub upload_rate_window: u64,

    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Connections one client address may hold (default: three quarters of
    /// --max-connections), so that one address cannot take every slot.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_ip: Option<u32>,
}

/// An index file name: one file name, no `/`, not `.` or `..`.
fn parse_index_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains('/') || s == "." || s == ".." {
        return Err(format!("{s:?} is not a file name"));
    }
    Ok(s.to_owned())
}

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar on a terminal; elsewhere a line every 10 s and at each 10%.
    Auto,
    /// One JSON object per line on stderr.
    Json,
}

/// Arguments of `durl daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Address to listen on; anything but loopback needs --secret or --secret-file.
    #[arg(short, long, default_value = "127.0.0.1", value_name = "ADDR")]
    pub bind: String,

    /// Port to listen on (0 picks a free one); 6800 is aria2's.
    #[arg(short, long, default_value_t = 6800, value_name = "PORT")]
    pub port: u16,

    /// The RPC secret: clients send it as the `token:SECRET` first parameter (aria2's
    /// --rpc-secret). Visible to other users in the process list: prefer --secret-file.
    #[arg(long, value_name = "TOKEN", conflicts_with = "secret_file")]
    pub secret: Option<String>,

    /// Read the RPC secret from the first line of FILE.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// Where files go when a download names no directory.
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub dir: PathBuf,

    /// Where the queue database lives (default: $XDG_STATE_HOME/durl, else
    /// ~/.local/state/durl).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Downloads running at once (aria2's max-concurrent-downloads).
    #[arg(short = 'j', long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: u16,

    /// Open connections in all: a download asking for more (split) gets fewer.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub max_connections: u16,

    /// Connections one download may open to its host.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=256))]
    pub max_per_host: u16,

    /// Overall download rate limit, e.g. 2M (aria2's max-overall-download-limit).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub limit_rate: Option<u64>,

    /// Seconds between checkpoints of a running download: after a crash at most about
    /// this much of each is fetched again.
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub checkpoint_interval: f64,

    /// RPC connections (HTTP and WebSocket) held at once; more are closed at once.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub rpc_max_connections: u16,

    /// RPC connections one client address may hold (its share of --rpc-max-connections).
    #[arg(long, value_name = "N", default_value_t = 32,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub rpc_max_per_client: u16,
}

/// Parses a size such as `500M` or `4G` (the same syntax as a rate).
fn parse_size(s: &str) -> Result<u64, String> {
    bytes(s).map_err(|e| format!("invalid size {s:?}: {e}; expected e.g. 500M, 4G or 1048576"))
}

/// Parses a size that may be 0 (`0` turns a limit off).
fn parse_size_or_zero(s: &str) -> Result<u64, String> {
    if s.trim() == "0" {
        return Ok(0);
    }
    parse_size(s)
}

/// Parses a rate in bytes per second (at least 1).
fn parse_rate(s: &str) -> Result<u64, String> {
    bytes(s).map_err(|e| format!("invalid rate {s:?}: {e}; expected e.g. 500K, 2M or 1048576"))
}

/// A positive byte count: `K`, `M`, `G` (and `KiB`, `MiB`, `GiB`) are powers of 1024, as in
/// curl, wget and aria2c; `KB`, `MB`, `GB` are powers of 1000 (SI). Parsed by `parse-size`.
fn bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    // parse-size reads `K` and `KB` alike; an explicit `B` after a non-`i` prefix means SI.
    let lower = t.to_ascii_lowercase();
    let si = lower.ends_with('b')
        && !lower.ends_with("ib")
        && lower[..lower.len() - 1].ends_with(|c: char| c.is_ascii_alphabetic());
    let config = if si {
        parse_size::Config::new().with_decimal()
    } else {
        parse_size::Config::new().with_binary()
    };
    if t.parse::<f64>().is_ok_and(|v| v < 1.0) {
        // parse-size would round 0.5 to 1: a fraction of a byte is a mistake, not a limit.
        return Err("less than 1 byte".into());
    }
    match config.parse_size(t) {
        Ok(0) => Err("less than 1 byte".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_take_binary_suffixes() {
        let table: &[(&str, Option<u64>)] = &[
            ("500K", Some(512_000)),
            ("500k", Some(512_000)),
            ("2M", Some(2 << 20)),
            ("2MiB", Some(2 << 20)),
            ("2MB", Some(2_000_000)),
            ("500KB", Some(500_000)),
            ("1.5m", Some(1_572_864)),
            ("1G", Some(1 << 30)),
            ("1GiB", Some(1 << 30)),
            ("1GB", Some(1_000_000_000)),
            ("1000", Some(1000)),
            ("1000B", Some(1000)),
            ("0.5K", Some(512)),
            ("0.5", None),
            ("0", None),
            ("-5K", None),
            ("fast", None),
            ("", None),
        ];
        for (input, want) in table {
            assert_eq!(super::parse_rate(input).ok(), *want, "{input:?}");
        }
    }
}

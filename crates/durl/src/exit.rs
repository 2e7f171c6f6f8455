//! Exit codes, in one place. README.md documents the same table.

use std::process::ExitCode;

use durl_fetch::ErrorKind;

/// Success, including "already complete".
pub const OK: u8 = 0;
/// An error not covered below.
pub const OTHER: u8 = 1;
/// Bad arguments: URL, header, certificate file, option values (clap also uses 2).
pub const USAGE: u8 = 2;
/// A local file operation failed (disk full, permission denied). The partial is kept.
pub const IO: u8 = 3;
/// The server answered with an HTTP error status (4xx, or 5xx after the retries).
pub const HTTP: u8 = 4;
/// Network failure after the retries: connect, TLS, stall, cut connection, redirects.
pub const NETWORK: u8 = 5;
/// The server broke the Range protocol or its file kept changing.
pub const PROTOCOL: u8 = 6;
/// The output file exists and neither --continue nor --force was given.
pub const EXISTS: u8 = 7;
/// Another durl process is downloading to the same output.
pub const LOCKED: u8 = 8;
/// The downloaded data does not match --checksum; it stays in the part file.
pub const CHECKSUM: u8 = 9;
/// Some files of a list failed (the others are done).
pub const PARTIAL: u8 = 10;
/// The server refused the login or wants one (FTP 530, HTTP 401/407).
pub const LOGIN: u8 = 11;
/// The remote file does not exist (FTP 550 to SIZE/MDTM or "no such file").
pub const NOT_FOUND: u8 = 12;
/// The server does not let this user read the remote file (FTP 550/553 "permission denied").
pub const PERMISSION: u8 = 13;
/// The hint after a refused login (FTP 530, HTTP 401/407): where a login comes from.
pub const LOGIN_HINT: &str = "the server wants a login: give -u USER[:PASSWORD] (or -u USER with \
                              --password-stdin) or a .netrc entry for its host";

/// Interrupted by SIGHUP, e.g. the terminal closed (128 + 1).
pub const SIGHUP: u8 = 129;
/// Interrupted by SIGINT (128 + 2).
pub const SIGINT: u8 = 130;
/// Interrupted by SIGTERM (128 + 15).
pub const SIGTERM: u8 = 143;

/// Every exit code with its meaning, for `--help` and the man page (README.md has the same).
pub const TABLE: &[(u8, &str)] = &[
    (OK, "success (including \"already complete\")"),
    (OTHER, "an error not listed below"),
    (
        USAGE,
        "bad arguments: URL, header, option value, config file, certificate file",
    ),
    (
        IO,
        "a local file operation failed (disk full, permission denied); the partial is kept",
    ),
    (
        HTTP,
        "the server answered with an error status (HTTP 4xx/5xx, an FTP refusal)",
    ),
    (
        NETWORK,
        "network failure after the retries, or --max-time expired; the partial is kept",
    ),
    (
        PROTOCOL,
        "the server broke the Range protocol, or its file kept changing",
    ),
    (EXISTS, "the output exists: use -c/--continue or --force"),
    (
        LOCKED,
        "another durl process is downloading to the same output",
    ),
    (
        CHECKSUM,
        "the data does not match --checksum (it stays in <out>.durl-part)",
    ),
    (
        PARTIAL,
        "some files of a list failed (the others are complete)",
    ),
    (
        LOGIN,
        "the server refused the login or wants one (FTP 530, HTTP 401/407)",
    ),
    (NOT_FOUND, "the remote file does not exist (FTP)"),
    (
        PERMISSION,
        "the FTP server does not let this user read the file",
    ),
    (SIGHUP, "interrupted by SIGHUP; the partial is saved"),
    (
        SIGINT,
        "interrupted by SIGINT (Ctrl-C); the partial is saved",
    ),
    (SIGTERM, "interrupted by SIGTERM; the partial is saved"),
];

/// The exit code for an error of the download library.
pub fn for_fetch_error(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Usage => USAGE,
        ErrorKind::Http => HTTP,
        ErrorKind::LoginRefused => LOGIN,
        ErrorKind::RemoteNotFound => NOT_FOUND,
        ErrorKind::PermissionDenied => PERMISSION,
        ErrorKind::Network => NETWORK,
        ErrorKind::Protocol => PROTOCOL,
        ErrorKind::Io => IO,
        ErrorKind::Exists => EXISTS,
        ErrorKind::Locked => LOCKED,
        ErrorKind::Checksum => CHECKSUM,
        ErrorKind::Interrupted => SIGINT,
        _ => OTHER,
    }
}

/// The exit code for an error reaching `main`: library errors by their kind, anything else
/// as [`OTHER`].
pub fn for_error(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<durl_fetch::Error>() {
            return for_fetch_error(e.kind());
        }
        if cause.downcast_ref::<UsageError>().is_some() {
            return USAGE;
        }
        if cause.downcast_ref::<LocalError>().is_some() {
            return IO;
        }
    }
    OTHER
}

/// A local file operation of the binary itself failed (e.g. creating `-d DIR`).
#[derive(Debug)]
pub struct LocalError(pub String);

impl std::fmt::Display for LocalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LocalError {}

/// A bad argument found while resolving the command line.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The process exit code for a code from this table.
pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}

//! The errors of `durl-fetch`. Callers branch on the variant (or on [`Error::kind`]); every
//! message is one lowercase line that names the URL or path, and the cause sits in `source()`.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::Redacted;

/// Everything that can make a download fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL does not parse.
    #[error("invalid URL {:?}", crate::redact::redact_text(.url))]
    InvalidUrl {
        /// What was given.
        url: String,
        /// Why it does not parse.
        #[source]
        source: url::ParseError,
    },
    /// The scheme is not one durl-fetch speaks.
    #[error("unsupported scheme {scheme:?} in {} (http, https and ftp are supported)", Redacted(.url))]
    UnsupportedScheme {
        /// The URL.
        url: Url,
        /// Its scheme.
        scheme: String,
    },
    /// The client could not be configured (bad certificate file, bad header).
    #[error("invalid setting: {what}")]
    Setup {
        /// What is wrong.
        what: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The server refused the request: an HTTP error status, or an FTP command's reply
    /// ([`Reply`] has the protocol's detail; [`Error::kind`] says what it means).
    #[error("{}", refusal(.url, .reply))]
    Refused {
        /// The URL that answered (without its password).
        url: Url,
        /// What it answered (boxed: errors stay small).
        reply: Box<Reply>,
    },
    /// Connecting, TLS, or reading the response failed.
    #[error("network error talking to {}", Redacted(.url))]
    Network {
        /// The URL.
        url: Url,
        /// The transport error.
        #[source]
        source: TransportError,
    },
    /// Redirects went on too long, in a loop, or to a URL that is not http(s).
    #[error("redirect error for {}: {detail}", Redacted(.url))]
    Redirect {
        /// The URL first asked for.
        url: Url,
        /// What went wrong: the loop, the limit or the target.
        detail: String,
    },
    /// No byte arrived for the stall timeout.
    #[error("no data from {} for {} s (stalled)", Redacted(.url), .timeout.as_secs_f64())]
    Stalled {
        /// The URL.
        url: Url,
        /// The stall timeout that elapsed.
        timeout: Duration,
    },
    /// The body ended before the length the server announced.
    #[error("connection to {} closed after {received} of {expected} bytes", Redacted(.url))]
    ShortBody {
        /// The URL.
        url: Url,
        /// Bytes of the file held after the response ended.
        received: u64,
        /// The length expected.
        expected: u64,
    },
    /// The server answered a range request with a range or length we did not ask for.
    #[error("{} answered with a range we did not ask for: {detail}", Redacted(.url))]
    BadRange {
        /// The URL.
        url: Url,
        /// What was wrong.
        detail: String,
    },
    /// The remote file kept changing or the server kept ignoring ranges while we restarted.
    #[error("gave up restarting {}: {reason}", Redacted(.url))]
    TooManyRestarts {
        /// The URL.
        url: Url,
        /// The last reason for a restart.
        reason: crate::events::RestartReason,
    },
    /// A download written to a stream ([`crate::stream`]) found another version of the file
    /// (or a server starting it again from byte 0) after `written` bytes had gone out: they
    /// cannot be taken back, so it stops.
    #[error(
        "{} changed on the server after {written} bytes were written out; they cannot be taken back",
        Redacted(.url)
    )]
    StreamChanged {
        /// The URL (without its password).
        url: Url,
        /// Bytes written before.
        written: u64,
    },
    /// A download written to a stream ([`crate::stream`]) does not match the server's
    /// `Repr-Digest` (RFC 9530): the bytes are already out, so the caller can only be told.
    #[error(
        "{}: the bytes written to standard output do not match the server's Repr-Digest \
         ({detail}); they are already out, discard them",
        Redacted(.url)
    )]
    StreamDigestMismatch {
        /// The URL (without its password).
        url: Url,
        /// `expected ALGO=HEX, got ALGO=HEX over N bytes`.
        detail: String,
    },
    /// A local file operation failed (disk full, permission denied, ...). The partial
    /// download is kept.
    #[error("{op} {path}")]
    Io {
        /// What was being done, e.g. "cannot write".
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The downloaded data does not match the expected checksum. It stays in `kept`.
    #[error("checksum mismatch for {}: expected {expected}, got {actual} (the data is kept there)", .kept.display())]
    ChecksumMismatch {
        /// `ALGO=HEX` expected.
        expected: String,
        /// `ALGO=HEX` of the data.
        actual: String,
        /// Where the data is.
        kept: PathBuf,
    },
    /// A file durl would write or replace is not a regular file (a device, FIFO, socket,
    /// directory or symbolic link): durl never writes into one, follows one or renames over
    /// one, whatever `--force` says.
    #[error("{} is {found}, not a regular file: durl writes only regular files", .path.display())]
    NotRegularFile {
        /// The file.
        path: PathBuf,
        /// What it is, e.g. "a symbolic link".
        found: &'static str,
    },
    /// The output file exists and the request neither continues nor overwrites it.
    #[error("{path} already exists")]
    OutputExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Another process holds the lock on this download.
    #[error("another durl process is already downloading to {path}")]
    Locked {
        /// The destination.
        path: PathBuf,
    },
    /// The download was cancelled; `durable` bytes are saved and the next run continues.
    #[error("interrupted: {durable} bytes of {path} saved")]
    Interrupted {
        /// The destination.
        path: PathBuf,
        /// Bytes safely on disk.
        durable: u64,
    },
    /// An FTP transfer disagrees with the length `SIZE` announced (RFC 3659 §4): more bytes
    /// followed it, or the server reported a complete transfer (226) that is shorter. Not
    /// retried; the partial (never longer than `size`) is kept.
    #[error("{}: SIZE said {size} bytes, but {detail}", Redacted(.url))]
    SizeMismatch {
        /// The URL (without its password).
        url: Url,
        /// What `SIZE` said.
        size: u64,
        /// What the transfer did instead.
        detail: String,
    },
    /// The connection to an FTP server failed, was cut, or its reply made no sense.
    #[error("FTP connection to {} failed", Redacted(.url))]
    FtpConnection {
        /// The URL (without its password).
        url: Url,
        /// The transport error.
        #[source]
        source: std::io::Error,
    },
    /// TLS with an FTP server failed (certificate, handshake): not retried.
    #[error("TLS with {} failed: {detail}", Redacted(.url))]
    FtpTls {
        /// The URL (without its password).
        url: Url,
        /// What went wrong.
        detail: String,
    },
    /// An upload would overwrite a remote file that is longer than the local one or differs
    /// from it; only [`crate::PutRequest::overwrite`] replaces it.
    #[error("{} {conflict} (remote {remote} bytes, local {local} bytes)", Redacted(.url))]
    RemoteExists {
        /// The URL (without its password).
        url: Url,
        /// How the remote file differs.
        conflict: RemoteConflict,
        /// The remote file's length.
        remote: u64,
        /// The local file's length.
        local: u64,
    },
    /// After an upload the server reports another length or digest than the local file's.
    #[error("{} does not match the local file after the upload: {detail}", Redacted(.url))]
    UploadMismatch {
        /// The URL (without its password).
        url: Url,
        /// What differs.
        detail: String,
    },
    /// A tus server refused or broke the protocol ([`TusProblem`] says how).
    #[error("{}", tus_message(.url, .problem))]
    Tus {
        /// The endpoint or upload (without its password).
        url: Url,
        /// What happened.
        problem: TusProblem,
    },
    /// The local file changed while it was being uploaded.
    #[error("{} changed during the upload", .path.display())]
    LocalChanged {
        /// The local file.
        path: PathBuf,
    },
    /// The run was cancelled before this transfer of a batch started: nothing was requested
    /// or written for it.
    #[error("not started: the run was interrupted before {}", Redacted(.url))]
    NotStarted {
        /// The URL (without its password).
        url: Url,
    },
    /// The upload was cancelled; the server keeps what it received and the next run continues.
    #[error("interrupted after sending {sent} bytes to {}{}", Redacted(.url), held(.server_has))]
    UploadInterrupted {
        /// The URL (without its password).
        url: Url,
        /// Bytes sent in this run (some may not have reached the server or been kept).
        sent: u64,
        /// The offset the server last confirmed holding, where the protocol says (tus).
        server_has: Option<u64>,
    },
    /// Retries were exhausted; `last` is the final failure.
    #[error("gave up after {attempts} attempts")]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        #[source]
        last: Box<Error>,
    },
}

/// What a server answered when it refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// An HTTP error status (RFC 9110 §15).
    Http {
        /// The status code.
        status: u16,
        /// The `Retry-After` delay the server asked for, if any (RFC 9110 §10.2.3).
        retry_after: Option<Duration>,
    },
    /// An FTP reply to a command (wrong password, no such file, permission denied, ...).
    Ftp {
        /// What was refused, e.g. "login" or "RETR".
        command: &'static str,
        /// The reply code (RFC 959 §4.2).
        code: u16,
        /// The reply's text.
        text: Box<str>,
    },
}

/// The message of [`Error::Refused`].
fn refusal(url: &Url, reply: &Reply) -> String {
    match reply {
        Reply::Http { status, .. } => format!("HTTP {status} from {}", Redacted(url)),
        Reply::Ftp {
            command,
            code,
            text,
        } => format!("{}: {command} refused: {code} {text}", Redacted(url)),
    }
}

/// How a tus server refused an upload or broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TusProblem {
    /// It refused to create the upload (409) because a file of this name (sent in
    /// `Upload-Metadata`) exists there (`durl serve` replaces files only with `--overwrite`).
    NameTaken(String),
    /// It found that the chunk at this offset does not match its `Upload-Checksum` (460);
    /// the chunk is sent again.
    ChunkRejected(u64),
    /// It broke the protocol (no `Location`, an impossible `Upload-Offset`, ...).
    Protocol(String),
}

/// The message of [`Error::Tus`].
fn tus_message(url: &Url, problem: &TusProblem) -> String {
    let url = Redacted(url);
    match problem {
        TusProblem::NameTaken(name) => {
            format!("{url} refused the upload: a file named {name:?} exists there")
        }
        TusProblem::ChunkRejected(offset) => {
            format!("{url} rejected the chunk at {offset}: checksum mismatch (460)")
        }
        TusProblem::Protocol(detail) => format!("{url}: {detail}"),
    }
}

/// A transport failure (connecting, TLS, reading a response) as the HTTP client reported
/// it; its `source()` chain has the causes. Opaque, so that the HTTP client is no part of
/// durl-fetch's API.
#[derive(Debug)]
pub struct TransportError(Box<dyn std::error::Error + Send + Sync>);

impl TransportError {
    pub(crate) fn new(e: impl std::error::Error + Send + Sync + 'static) -> TransportError {
        TransportError(Box::new(e))
    }
}

impl TransportError {
    /// A failure that the same request cannot escape by trying again: the server's
    /// certificate was refused (unknown issuer, wrong name, expired), or the client's own
    /// configuration is wrong (an unsupported proxy scheme, a bad header).
    pub(crate) fn is_permanent(&self) -> bool {
        if let Some(e) = self.0.downcast_ref::<reqwest::Error>()
            && e.is_builder()
        {
            return true;
        }
        causes(self.0.as_ref()).any(|cause| {
            matches!(
                cause.downcast_ref::<rustls::Error>(),
                Some(rustls::Error::InvalidCertificate(_))
            )
        })
    }

    /// Whether the connection itself failed (refused, no route, DNS): servers restart and
    /// laptops wake up, so these stay retryable whatever their number.
    pub(crate) fn is_connect(&self) -> bool {
        self.0
            .downcast_ref::<reqwest::Error>()
            .is_some_and(reqwest::Error::is_connect)
    }
}

/// `e` and its causes; an `io::Error` wrapping another error counts that one as a cause too
/// (`io::Error::source` skips it).
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    let mut next = Some(e);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => current.source(),
        };
        Some(current)
    })
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for TransportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// How an existing remote file conflicts with the local one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteConflict {
    /// It is longer than the local file.
    Longer,
    /// Its bytes (the tail checked, or its digest) differ from the local file's.
    Differs,
}

impl std::fmt::Display for RemoteConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RemoteConflict::Longer => "exists and is longer than the local file",
            RemoteConflict::Differs => "exists and differs from the local file",
        })
    }
}

/// The broad class of an error, for exit codes and retry decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad URL, scheme or setting.
    Usage,
    /// An HTTP error status, or an FTP server refusing a command (other than the three
    /// below).
    Http,
    /// The server refused the login or wants one: FTP 530 "Not logged in" or 532 (RFC 959
    /// §4.2), HTTP 401 or 407 (RFC 9110 §15.5.2, §15.5.8).
    LoginRefused,
    /// The remote file does not exist (FTP 550 to `SIZE`/`MDTM`, or a 550 whose text says so).
    RemoteNotFound,
    /// The server does not let this user read the file (FTP 550/553 or another 5xx whose
    /// text says "permission"/"denied", or 550 to `RETR` of a file `SIZE` found).
    PermissionDenied,
    /// Transport failures: network, TLS, stalls, short bodies, redirects.
    Network,
    /// The server broke the Range protocol.
    Protocol,
    /// Local file-system failure.
    Io,
    /// The output already exists.
    Exists,
    /// Another process owns the download.
    Locked,
    /// The data does not match the expected checksum.
    Checksum,
    /// Cancelled by the caller.
    Interrupted,
}

impl Error {
    /// Whether trying again (with back-off) may succeed: network errors, stalls, short
    /// bodies, bad ranges, and the statuses 408, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Network { source, .. } => !source.is_permanent(),
            Error::Stalled { .. } | Error::ShortBody { .. } | Error::BadRange { .. } => true,
            Error::Refused { reply, .. } => match **reply {
                // 423: a tus server is still busy with an earlier PATCH of the same upload.
                Reply::Http { status, .. } => matches!(status, 408 | 423 | 429 | 500..=599),
                // RFC 959 §4.2: 4xx replies are transient; these are the ones worth a retry.
                Reply::Ftp { code, .. } => matches!(code, 421 | 425 | 426 | 450 | 451 | 452),
            },
            Error::Tus {
                problem: TusProblem::ChunkRejected(_),
                ..
            } => true,
            Error::FtpConnection { .. } => true,
            _ => false,
        }
    }

    /// Whether the same failure repeated at the same offset (no byte written in between)
    /// means the server will not do better: a body cut at the same byte, the same broken
    /// range, the same read error after the response began. Connection failures (servers
    /// restart) and error statuses (servers come back from maintenance) are not counted.
    pub(crate) fn repeats_hopelessly(&self) -> bool {
        match self {
            Error::ShortBody { .. } | Error::BadRange { .. } => true,
            Error::Network { source, .. } => !source.is_connect(),
            _ => false,
        }
    }

    /// The error this one finally comes down to (looks through [`Error::GaveUp`]).
    pub fn root(&self) -> &Error {
        match self {
            Error::GaveUp { last, .. } => last.root(),
            e => e,
        }
    }

    /// The broad class of the error.
    pub fn kind(&self) -> ErrorKind {
        match self.root() {
            Error::InvalidUrl { .. } | Error::UnsupportedScheme { .. } | Error::Setup { .. } => {
                ErrorKind::Usage
            }
            Error::Refused { reply, .. } => match &**reply {
                // RFC 9110 §15.5.2, §15.5.8: the server (or proxy) wants another login.
                Reply::Http {
                    status: 401 | 407, ..
                } => ErrorKind::LoginRefused,
                Reply::Http { .. } => ErrorKind::Http,
                Reply::Ftp {
                    command,
                    code,
                    text,
                } => ftp_kind(command, *code, text),
            },
            Error::Network { .. }
            | Error::Redirect { .. }
            | Error::Stalled { .. }
            | Error::FtpConnection { .. }
            | Error::FtpTls { .. }
            | Error::ShortBody { .. } => ErrorKind::Network,
            Error::BadRange { .. }
            | Error::TooManyRestarts { .. }
            | Error::StreamChanged { .. }
            | Error::SizeMismatch { .. }
            | Error::UploadMismatch { .. }
            | Error::Tus {
                problem: TusProblem::Protocol(_) | TusProblem::ChunkRejected(_),
                ..
            } => ErrorKind::Protocol,
            Error::Io { .. } | Error::LocalChanged { .. } | Error::NotRegularFile { .. } => {
                ErrorKind::Io
            }
            Error::OutputExists { .. }
            | Error::RemoteExists { .. }
            | Error::Tus {
                problem: TusProblem::NameTaken(_),
                ..
            } => ErrorKind::Exists,
            Error::Locked { .. } => ErrorKind::Locked,
            Error::ChecksumMismatch { .. } | Error::StreamDigestMismatch { .. } => {
                ErrorKind::Checksum
            }
            Error::Interrupted { .. }
            | Error::UploadInterrupted { .. }
            | Error::NotStarted { .. } => ErrorKind::Interrupted,
            Error::GaveUp { .. } => unreachable!("root() looks through GaveUp"),
        }
    }

    /// The `Retry-After` delay the server asked for, if this is such an error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Refused { reply, .. } => match **reply {
                Reply::Http { retry_after, .. } => retry_after,
                Reply::Ftp { .. } => None,
            },
            _ => None,
        }
    }

    /// The HTTP status of a refusal ([`Reply::Http`]), looking through [`Error::GaveUp`].
    pub fn http_status(&self) -> Option<u16> {
        match self.root() {
            Error::Refused { reply, .. } => match **reply {
                Reply::Http { status, .. } => Some(status),
                Reply::Ftp { .. } => None,
            },
            _ => None,
        }
    }

    /// The FTP reply code of a refusal ([`Reply::Ftp`]), looking through [`Error::GaveUp`].
    pub fn ftp_code(&self) -> Option<u16> {
        match self.root() {
            Error::Refused { reply, .. } => match **reply {
                Reply::Ftp { code, .. } => Some(code),
                Reply::Http { .. } => None,
            },
            _ => None,
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}

/// The class of an FTP refusal: by reply code (RFC 959 §4.2.1), then by the command and the
/// reply text, since servers use 550 ("Requested action not taken. File unavailable") both
/// for a missing file and for one they will not open.
fn ftp_kind(command: &str, code: u16, reply: &str) -> ErrorKind {
    let text = reply.to_ascii_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| text.contains(w));
    match code {
        // 530 Not logged in; 532 Need account (RFC 959 §4.2.1).
        530 | 532 => ErrorKind::LoginRefused,
        500..=599 if says(&["permission", "denied", "not allowed", "forbidden", "access"]) => {
            ErrorKind::PermissionDenied
        }
        550 if says(&["no such", "not found", "does not exist", "doesn't exist"]) => {
            ErrorKind::RemoteNotFound
        }
        // RFC 3659 §4.2, §3.2: SIZE and MDTM answer 550 when the file is not there.
        550 if matches!(command, "SIZE" | "MDTM") => ErrorKind::RemoteNotFound,
        // RETR is only sent after SIZE found the file (or was not implemented): what is
        // there cannot be opened, as vsftpd says for an unreadable file ("Failed to open").
        550 if command == "RETR" => ErrorKind::PermissionDenied,
        // 553 Requested action not taken. File name not allowed.
        553 => ErrorKind::PermissionDenied,
        _ => ErrorKind::Http,
    }
}

/// `; the server has N bytes` when known.
fn held(server_has: &Option<u64>) -> String {
    server_has.map_or_else(String::new, |n| format!("; the server has {n} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_refusals_are_classified_by_status() {
        use ErrorKind::*;
        let url = Url::parse("https://u:hunter2@h/f").unwrap();
        // (status, kind, retryable)
        let table = [
            (400, Http, false),
            (401, LoginRefused, false),
            (403, Http, false),
            (404, Http, false),
            (407, LoginRefused, false),
            (408, Http, true),
            (423, Http, true),
            (429, Http, true),
            (500, Http, true),
            (503, Http, true),
        ];
        for (status, kind, retryable) in table {
            let e = Error::Refused {
                url: url.clone(),
                reply: Box::new(Reply::Http {
                    status,
                    retry_after: None,
                }),
            };
            assert_eq!((e.kind(), e.is_retryable()), (kind, retryable), "{status}");
            assert_eq!(e.http_status(), Some(status));
            assert_eq!(e.ftp_code(), None);
            assert_eq!(e.to_string(), format!("HTTP {status} from https://u@h/f"));
            let gave_up = Error::GaveUp {
                attempts: 3,
                last: Box::new(e),
            };
            assert_eq!(gave_up.kind(), kind);
            assert_eq!(gave_up.http_status(), Some(status));
        }
    }

    #[test]
    fn ftp_refusals_are_classified_by_code_command_and_text() {
        use ErrorKind::*;
        let table: &[(&str, u16, &str, ErrorKind)] = &[
            ("login", 530, "Login incorrect.", LoginRefused),
            ("login", 530, "Permission denied.", LoginRefused),
            (
                "RETR",
                530,
                "Please login with USER and PASS.",
                LoginRefused,
            ),
            ("SIZE", 550, "Could not get file size.", RemoteNotFound), // vsftpd
            (
                "MDTM",
                550,
                "Could not get file modification time.",
                RemoteNotFound,
            ),
            (
                "RETR",
                550,
                "f.bin: No such file or directory",
                RemoteNotFound,
            ), // ProFTPD
            ("RETR", 550, "Failed to open file.", PermissionDenied), // vsftpd, unreadable
            ("RETR", 550, "f.bin: Permission denied", PermissionDenied), // ProFTPD
            ("SIZE", 550, "f.bin: Permission denied", PermissionDenied),
            ("RETR", 553, "Could not create file.", PermissionDenied),
            ("RETR", 521, "Access denied", PermissionDenied),
            (
                "TYPE I",
                504,
                "Command not implemented for that parameter.",
                Http,
            ),
            ("CWD", 550, "Failed to change directory.", Http),
            ("RETR", 451, "Local error in processing.", Http),
        ];
        for &(command, code, reply, want) in table {
            assert_eq!(
                ftp_kind(command, code, reply),
                want,
                "{command} {code} {reply}"
            );
        }
    }
}

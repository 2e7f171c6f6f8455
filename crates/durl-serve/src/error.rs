//! Error types: [`ServeError`] for starting the server, [`RequestError`] for one request.

use std::io;
use std::path::PathBuf;

use http::StatusCode;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The directory to serve cannot be resolved.
    #[error("cannot serve {path}")]
    Root {
        /// The directory as configured.
        path: PathBuf,
        /// Why it could not be resolved.
        #[source]
        source: io::Error,
    },
    /// The path to serve is not a directory.
    #[error("{path} is not a directory")]
    RootNotDirectory {
        /// The path as configured.
        path: PathBuf,
    },
    /// A TLS certificate or key file could not be read.
    #[error("failed to read {path}")]
    TlsRead {
        /// The PEM file.
        path: PathBuf,
        /// The read or PEM decoding error.
        #[source]
        source: io::Error,
    },
    /// The certificate PEM holds no certificate.
    #[error("no certificate found in the TLS certificate PEM")]
    NoCertificate,
    /// The key PEM holds no private key.
    #[error("no private key found in the TLS key PEM")]
    NoPrivateKey,
    /// The upload directory cannot be created or opened.
    #[error("cannot use the upload directory {path}")]
    UploadDir {
        /// The directory as configured (or defaulted).
        path: PathBuf,
        /// Why not.
        #[source]
        source: io::Error,
    },
    /// The upload directory is inside the served directory, or contains it.
    #[error("the upload directory {path} must be outside the served directory")]
    UploadDirOverlapsRoot {
        /// The directory as configured.
        path: PathBuf,
    },
    /// The accounts file cannot be read.
    #[error("cannot read the accounts file {path}")]
    AuthFileRead {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: io::Error,
    },
    /// A line of the accounts file is refused.
    #[error("{path} line {line}: {reason}")]
    AuthFile {
        /// The file.
        path: PathBuf,
        /// The line's number (from 1).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// An access rule is malformed.
    #[error("access rule {rule:?}: {reason}")]
    AccessRule {
        /// The rule as given.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls rejected the certificate and key.
    #[error("invalid TLS certificate or key")]
    Tls(#[source] rustls::Error),
    /// The object store cannot be reached, or refuses to list the bucket (credentials,
    /// missing bucket, endpoint).
    #[error("cannot serve {url}")]
    ObjectStore {
        /// `s3://BUCKET/PREFIX`.
        url: String,
        /// The store's answer.
        #[source]
        source: Box<object_store::Error>,
    },
    /// A plain-HTTP endpoint that is not a loopback address, without permission.
    #[error(
        "the endpoint {endpoint} is plain HTTP and not a loopback address: credentials and data \
         would cross the network in the clear (use https://, or allow it explicitly)"
    )]
    PlainHttpEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },
}

/// Why one request failed; each variant maps to a status code ([`RequestError::status`]), in
/// the manner of miniserve's `ResponseError`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    /// The target is not a usable path: `..`, NUL, backslash, not origin-form.
    #[error("malformed or forbidden request path")]
    BadPath,
    /// Nothing servable at that path.
    #[error("not found")]
    NotFound,
    /// The path leaves the served directory through a symbolic link.
    #[error("symbolic link leads outside the served directory")]
    SymlinkEscape,
    /// The request target is longer than the configured limit.
    #[error("request target too long")]
    TargetTooLong,
    /// Any other I/O failure while resolving or opening.
    #[error("i/o error")]
    Io(#[source] io::Error),
}

impl RequestError {
    /// The status code this error is answered with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::BadPath => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::SymlinkEscape => StatusCode::FORBIDDEN,
            Self::TargetTooLong => StatusCode::URI_TOO_LONG,
            Self::Io(e) => match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => StatusCode::NOT_FOUND,
                io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
                // ENAMETOOLONG and friends: the client's path, not our fault.
                io::ErrorKind::InvalidFilename | io::ErrorKind::InvalidInput => {
                    StatusCode::NOT_FOUND
                }
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }
}

impl From<io::Error> for RequestError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

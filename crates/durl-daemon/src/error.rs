//! The daemon's errors: [`Error`] for `run` and [`RpcError`] for one JSON-RPC call.

use std::path::PathBuf;

use crate::options::OptionError;

/// Why the daemon cannot start or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A non-loopback address without a secret.
    #[error(
        "listening on {addr} (not loopback) needs a secret: anyone who can reach it could \
         download to this machine"
    )]
    SecretRequired {
        /// The address.
        addr: std::net::SocketAddr,
    },
    /// The state directory cannot be created.
    #[error("cannot create the state directory {path}: {source}")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The queue database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The listener failed.
    #[error("cannot read the listening address: {0}")]
    Listener(std::io::Error),
}

/// A failed JSON-RPC call. aria2 answers method failures with code 1 and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The secret token is missing or wrong.
    #[error("Unauthorized")]
    Unauthorized,
    /// No such method.
    #[error("Method not found")]
    MethodNotFound,
    /// Not JSON.
    #[error("Parse error")]
    Parse,
    /// Not a JSON-RPC request object.
    #[error("Invalid Request")]
    InvalidRequest,
    /// Bad parameters.
    #[error("{0}")]
    Params(String),
    /// No download has this GID.
    #[error("GID {0:016x} is not found")]
    NotFound(u64),
    /// The call cannot be done now (aria2's message where it has one).
    #[error("{0}")]
    Failed(String),
    /// A BitTorrent or Metalink method.
    #[error(
        "{0} is not supported: durl downloads over HTTP(S) and FTP only (no BitTorrent or Metalink)"
    )]
    Unsupported(String),
    /// The database could not record the change; nothing was changed on disk.
    #[error("the queue database failed: {0}")]
    Store(String),
}

impl From<OptionError> for RpcError {
    fn from(e: OptionError) -> RpcError {
        RpcError::Params(e.to_string())
    }
}

impl RpcError {
    /// The JSON-RPC error code: the JSON-RPC 2.0 §5.1 codes for protocol errors, aria2's 1
    /// for everything a method refuses.
    pub fn code(&self) -> i64 {
        match self {
            RpcError::Parse => -32700,
            RpcError::InvalidRequest => -32600,
            RpcError::MethodNotFound => -32601,
            _ => 1,
        }
    }
}

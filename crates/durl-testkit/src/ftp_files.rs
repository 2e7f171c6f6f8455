//! What the sessions of the in-process FTP server ([`crate::FtpServer`]) share: its files,
//! the faults scheduled on them, and the record of what clients did (commands, `RETR`s).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

/// The `MDTM` of a file put without one (RFC 3659 §2.3 time-val, UTC).
pub const DEFAULT_MDTM: &str = "20240101120000";

/// A misbehaviour of one `RETR`, scheduled with [`FtpServer::push_fault`](crate::FtpServer::push_fault) (one-shot) or
/// [`FtpServer::set_fault`](crate::FtpServer::set_fault) (every `RETR` of the path while no one-shot is queued).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FtpFault {
    /// Send `k` bytes (from the `REST` offset), then close the data connection and answer
    /// `426 Connection closed; transfer aborted.`
    CutAfter(u64),
    /// Send `k` bytes, then nothing for the duration, then the rest.
    StallAfter(u64, Duration),
    /// Answer `RETR` with this reply (e.g. `550 Permission denied.`), sending nothing.
    Refuse(u16, &'static str),
}

/// One `RETR` as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retr {
    /// The path asked for.
    pub path: String,
    /// The `REST` offset it started from (0 without `REST`).
    pub offset: u64,
    /// Bytes written to the data connection (so far, while in flight).
    pub sent: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct File {
    pub(crate) body: Bytes,
    pub(crate) mdtm: String,
}

/// Everything behind the mutex.
#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) files: HashMap<String, File>,
    pub(crate) one_shot: HashMap<String, VecDeque<FtpFault>>,
    pub(crate) persistent: HashMap<String, FtpFault>,
    pub(crate) size_lies: HashMap<String, u64>,
    pub(crate) refuse_rest: bool,
    pub(crate) login: Option<(String, String)>,
    pub(crate) retrs: Vec<Retr>,
    /// Commands in arrival order; a `PASS` argument is recorded as `***`.
    pub(crate) commands: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The key of a path: without leading slashes (the login directory is `/`).
pub(crate) fn key(path: &str) -> &str {
    path.trim_start_matches('/')
}

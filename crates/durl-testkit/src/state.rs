//! State shared between the test thread and the server thread: resources,
//! scheduled faults, the request log and byte counters.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use crate::fault::Fault;
use crate::resource::Resource;

/// One request as the server saw it, and what it answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    /// Request method, e.g. `GET`.
    pub method: String,
    /// Request target as sent (path and query).
    pub path: String,
    /// Request header fields in order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Response status code.
    pub status: u16,
    /// Body bytes actually written to the socket (so far, while in flight).
    pub body_bytes: u64,
}

impl Served {
    /// First value of request header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Everything behind the mutex.
#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) resources: HashMap<String, Resource>,
    pub(crate) one_shot: HashMap<String, VecDeque<Fault>>,
    pub(crate) persistent: HashMap<String, Fault>,
    pub(crate) log: Vec<Served>,
    /// Body bytes per lookup path (target without query).
    pub(crate) bytes_by_path: HashMap<String, u64>,
    pub(crate) total_bytes: u64,
    /// Messages of connection handlers that panicked.
    pub(crate) panics: Vec<String>,
}

/// The shared state.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    /// Locks the state, ignoring poisoning (a panicking handler is reported
    /// separately, and the data stays usable).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The resource at `path` and the fault for this request: the next
    /// one-shot fault if any, else the persistent one. Faults are consumed
    /// only by GET and HEAD.
    pub(crate) fn lookup(&self, method: &str, path: &str) -> (Option<Resource>, Option<Fault>) {
        let mut inner = self.lock();
        let resource = inner.resources.get(path).cloned();
        if method != "GET" && method != "HEAD" {
            return (resource, None);
        }
        let fault = match inner.one_shot.get_mut(path).and_then(VecDeque::pop_front) {
            Some(f) => Some(f),
            None => inner.persistent.get(path).cloned(),
        };
        (resource, fault)
    }

    /// Appends a log entry; returns its index.
    pub(crate) fn record(&self, served: Served) -> usize {
        let mut inner = self.lock();
        inner.log.push(served);
        inner.log.len() - 1
    }

    /// Adds `delta` (negative: a correction) to the body bytes of log entry
    /// `index` at `path`.
    pub(crate) fn add_bytes(&self, index: usize, path: &str, delta: i64) {
        let mut inner = self.lock();
        let entry = &mut inner.log[index].body_bytes;
        *entry = entry.saturating_add_signed(delta);
        let by_path = inner.bytes_by_path.entry(path.to_owned()).or_default();
        *by_path = by_path.saturating_add_signed(delta);
        inner.total_bytes = inner.total_bytes.saturating_add_signed(delta);
    }
}

/// The lookup key of a request target: the target without query or fragment.
pub(crate) fn path_key(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or("")
}

//! [`FtpServer`]: a small in-process FTP server (RFC 959) for faults a real server will not
//! produce on demand: a data connection cut after `k` bytes, a refused `REST`, a `SIZE` that
//! lies, a stalled transfer, a refused `RETR`.
//!
//! It listens on `127.0.0.1:0` on its own thread and runtime, as [`FaultServer`] does, and
//! serves files from memory. It speaks the commands a downloader needs: `USER`, `PASS`,
//! `TYPE`, `FEAT`, `EPSV` (RFC 2428), `PASV`, `SIZE` and `MDTM` (RFC 3659 §4, §3), `REST`
//! (RFC 3659 §5), `RETR`, `ABOR`, `NOOP`, `PWD`, `SYST` and `QUIT`; anything else is 502.
//! Without faults it is a correct passive-mode server: anonymous logins (any password) unless
//! [`FtpServer::require_login`] is set.
//!
//! [`FaultServer`]: crate::FaultServer

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::ftp_session::session;

/// The `MDTM` of a file put without one (RFC 3659 §2.3 time-val, UTC).
pub const DEFAULT_MDTM: &str = "20240101120000";

/// A misbehaviour of one `RETR`, scheduled with [`FtpServer::push_fault`] (one-shot) or
/// [`FtpServer::set_fault`] (every `RETR` of the path while no one-shot is queued).
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

/// An in-process FTP server on `127.0.0.1:0` that serves files from memory and misbehaves
/// on request ([`FtpFault`], [`FtpServer::refuse_rest`], [`FtpServer::set_size`]). Dropping
/// it stops the server and joins its thread.
#[derive(Debug)]
pub struct FtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

async fn accept_loop(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).expect("register listener with tokio");
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                tasks.spawn(session(tcp, Arc::clone(&shared)));
            }
        }
    }
}

impl FtpServer {
    /// Starts a server on `127.0.0.1:0`.
    pub fn start() -> FtpServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared::default());
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("ftp-server-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("ftp server runtime");
                runtime.block_on(accept_loop(listener, thread_shared, stop_rx));
            })
            .expect("spawn ftp server thread");
        FtpServer {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// The control connection's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `ftp://127.0.0.1:PORT/` followed by `path` (without its leading slashes).
    pub fn url(&self, path: &str) -> String {
        format!("ftp://{}/{}", self.addr, key(path))
    }

    /// Adds (or replaces: "the file changed") the file at `path`, with [`DEFAULT_MDTM`].
    pub fn put(&self, path: &str, body: impl Into<Bytes>) {
        self.put_with_mdtm(path, body, DEFAULT_MDTM);
    }

    /// Adds the file at `path` with this `MDTM` (`YYYYMMDDHHMMSS`).
    pub fn put_with_mdtm(&self, path: &str, body: impl Into<Bytes>, mdtm: &str) {
        self.shared.lock().files.insert(
            key(path).to_owned(),
            File {
                body: body.into(),
                mdtm: mdtm.to_owned(),
            },
        );
    }

    /// Only `user` with `password` may log in (else 530); by default anyone may.
    pub fn require_login(&self, user: &str, password: &str) {
        self.shared.lock().login = Some((user.to_owned(), password.to_owned()));
    }

    /// Schedules a one-shot fault for the next `RETR` of `path` (first in, first out).
    pub fn push_fault(&self, path: &str, fault: FtpFault) {
        self.shared
            .lock()
            .one_shot
            .entry(key(path).to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Sets (or with `None` clears) a fault for every `RETR` of `path`.
    pub fn set_fault(&self, path: &str, fault: Option<FtpFault>) {
        let mut inner = self.shared.lock();
        match fault {
            Some(f) => inner.persistent.insert(key(path).to_owned(), f),
            None => inner.persistent.remove(key(path)),
        };
    }

    /// Makes `SIZE path` answer `size` whatever the file holds (`None`: the truth).
    pub fn set_size(&self, path: &str, size: Option<u64>) {
        let mut inner = self.shared.lock();
        match size {
            Some(n) => inner.size_lies.insert(key(path).to_owned(), n),
            None => inner.size_lies.remove(key(path)),
        };
    }

    /// Answers every `REST` with `502 REST not implemented.` while `FEAT` still offers
    /// `REST STREAM` (a server configured against resuming).
    pub fn refuse_rest(&self, yes: bool) {
        self.shared.lock().refuse_rest = yes;
    }

    /// Every `RETR` so far, in order.
    pub fn retrs(&self) -> Vec<Retr> {
        self.shared.lock().retrs.clone()
    }

    /// Bytes sent on data connections for `path`.
    pub fn bytes_served(&self, path: &str) -> u64 {
        let inner = self.shared.lock();
        inner
            .retrs
            .iter()
            .filter(|r| r.path == key(path))
            .map(|r| r.sent)
            .sum()
    }

    /// Every command so far, as sent (a password as `PASS ***`).
    pub fn commands(&self) -> Vec<String> {
        self.shared.lock().commands.clone()
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let joined = self.thread.take().map(JoinHandle::join);
        if !std::thread::panicking() && matches!(joined, Some(Err(_))) {
            panic!("durl-testkit: the ftp server thread panicked");
        }
    }
}

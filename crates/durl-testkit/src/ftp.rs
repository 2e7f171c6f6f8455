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

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

pub use crate::ftp_files::{DEFAULT_MDTM, FtpFault, Retr};
use crate::ftp_files::{File, Shared, key};
use crate::ftp_session::session;

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

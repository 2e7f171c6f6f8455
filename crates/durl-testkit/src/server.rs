//! [`FaultServer`]: the listener thread, its runtime and the test-facing API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::connection::serve;
use crate::fault::Fault;
use crate::resource::Resource;
use crate::state::{Served, Shared, path_key};
use crate::tls::TlsIdentity;

/// An in-process HTTP/1.1 (or HTTPS) server on `127.0.0.1:0` that serves
/// [`Resource`]s and misbehaves on request (see [`Fault`]).
///
/// It runs on its own thread with its own tokio runtime, so it works from
/// both `#[test]` and `#[tokio::test]`. Dropping it stops the server and
/// joins the thread; the drop then panics (unless the thread is already
/// panicking) if a connection handler panicked.
#[derive(Debug)]
pub struct FaultServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    cert_pem: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Records a finished connection task; panics are kept for `Drop`.
fn note(shared: &Shared, result: Result<(), JoinError>) {
    let Err(err) = result else { return };
    if !err.is_panic() {
        return;
    }
    let payload = err.into_panic();
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    shared.lock().panics.push(msg);
}

/// Accepts connections until `stop` fires (or its sender is dropped).
async fn accept_loop(
    listener: std::net::TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).expect("register listener with tokio");
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(result) = tasks.join_next(), if !tasks.is_empty() => note(&shared, result),
            accepted = listener.accept() => {
                let Ok((tcp, _)) = accepted else {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let tls = tls.clone();
                tasks.spawn(async move {
                    match tls {
                        None => serve(tcp, shared).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, shared).await;
                            }
                        }
                    }
                });
            }
        }
    }
    while let Some(result) = tasks.try_join_next() {
        note(&shared, result);
    }
}

impl FaultServer {
    fn spawn(tls: Option<TlsIdentity>) -> FaultServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("listener address");
        let shared = Arc::new(Shared::default());
        let (stop_tx, stop_rx) = oneshot::channel();
        let cert_pem = tls.as_ref().map(|t| t.cert_pem.clone());
        let acceptor = tls.map(|t| t.acceptor);
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("fault-server-{}", addr.port()))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fault server runtime");
                runtime.block_on(accept_loop(listener, acceptor, thread_shared, stop_rx));
                // Dropping the runtime drops every remaining connection task.
            })
            .expect("spawn fault server thread");
        FaultServer {
            addr,
            shared,
            cert_pem,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Starts a plain HTTP server on `127.0.0.1:0`.
    pub fn start() -> FaultServer {
        FaultServer::spawn(None)
    }

    /// Starts an HTTPS server on `127.0.0.1:0` with a fresh self-signed
    /// certificate for `localhost` and `127.0.0.1`; trust [`Self::ca_cert_pem`].
    pub fn start_tls() -> FaultServer {
        FaultServer::spawn(Some(TlsIdentity::generate()))
    }

    /// [`FaultServer::start_tls`] with a self-signed certificate as `openssl req -x509` makes
    /// one (`CA:TRUE`), for `names` only (e.g. `["127.0.0.1"]`, or a name the URL does not
    /// use, to test name checks).
    pub fn start_tls_ca(names: &[&str]) -> FaultServer {
        FaultServer::spawn(Some(TlsIdentity::generate_ca(names)))
    }

    /// The certificate (PEM) a client must trust; `None` for plain HTTP.
    pub fn ca_cert_pem(&self) -> Option<String> {
        self.cert_pem.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT` followed by `path`
    /// (which should start with `/`).
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.cert_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Adds the resource at `path`, or replaces it ("the file changed on the server").
    pub fn put(&self, path: &str, resource: Resource) {
        self.shared
            .lock()
            .resources
            .insert(path.to_owned(), resource);
    }

    /// Removes the resource at `path` (later requests get 404).
    pub fn remove(&self, path: &str) {
        self.shared.lock().resources.remove(path);
    }

    /// Schedules a one-shot fault for the next GET/HEAD request for `path`
    /// (first in, first out; takes precedence over [`Self::set_fault`]).
    pub fn push_fault(&self, path: &str, fault: Fault) {
        self.shared
            .lock()
            .one_shot
            .entry(path.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Sets (or with `None` clears) a fault applied to every GET/HEAD request
    /// for `path` while no one-shot fault is queued.
    pub fn set_fault(&self, path: &str, fault: Option<Fault>) {
        let mut inner = self.shared.lock();
        match fault {
            Some(f) => inner.persistent.insert(path.to_owned(), f),
            None => inner.persistent.remove(path),
        };
    }

    /// Every request so far, in arrival order.
    pub fn log(&self) -> Vec<Served> {
        self.shared.lock().log.clone()
    }

    /// Body bytes written to sockets for requests to `path` (query ignored),
    /// including bytes of responses cut short. Each write is counted as it is
    /// issued (and corrected if it falls short), so the count never lags
    /// behind what a client has already received.
    pub fn body_bytes_served(&self, path: &str) -> u64 {
        self.shared
            .lock()
            .bytes_by_path
            .get(path_key(path))
            .copied()
            .unwrap_or(0)
    }

    /// Body bytes written to sockets for all requests.
    pub fn total_body_bytes(&self) -> u64 {
        self.shared.lock().total_bytes
    }

    /// Number of requests for `path` (query ignored), of any method.
    pub fn requests_for(&self, path: &str) -> usize {
        let key = path_key(path);
        self.shared
            .lock()
            .log
            .iter()
            .filter(|s| path_key(&s.path) == key)
            .count()
    }

    /// Waits until at least `at_least` body bytes were served for `path`;
    /// returns false if `timeout` passes first.
    pub fn wait_until_body_bytes(&self, path: &str, at_least: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.body_bytes_served(path) >= at_least {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let joined = self.thread.take().map(JoinHandle::join);
        if std::thread::panicking() {
            return;
        }
        if let Some(Err(_)) = joined {
            panic!("durl-testkit: the fault server thread panicked");
        }
        let panics = std::mem::take(&mut self.shared.lock().panics);
        if !panics.is_empty() {
            panic!("durl-testkit: a fault server connection handler panicked: {panics:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_panics_are_noted_and_reported_on_drop() {
        let server = FaultServer::start();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let result =
            runtime.block_on(async { tokio::spawn(async { panic!("boom in handler") }).await });
        note(&server.shared, result);
        assert_eq!(server.shared.lock().panics, ["boom in handler"]);
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(server)));
        let payload = dropped.expect_err("drop must panic");
        let msg = payload.downcast_ref::<String>().expect("formatted message");
        assert!(msg.contains("boom in handler"), "{msg}");
    }
}

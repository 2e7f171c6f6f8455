//! durl's download manager: a durable queue of downloads run by the durl-fetch engine,
//! driven over aria2's JSON-RPC (HTTP POST and WebSocket at `/jsonrpc`) and a web page at
//! `/`. The `durl daemon` command and every test use the one entry point, [`run`].
//!
//! # How it works
//! 1. **Store** ([`store`]): every download (URLs, options, status, queue position, result)
//!    is a record in a redb database in the state directory. A call that adds, pauses,
//!    unpauses, removes or reorders answers only after its transaction is committed (fsynced).
//! 2. **Queue** ([`queue`]): the records in memory, in queue order; up to
//!    `max-concurrent-downloads` of them run at once.
//! 3. **Runner** (`runner`): one download is one [`durl_fetch::get`] with its own
//!    cancellation token. Pause, remove, new options and shutdown cancel the token; the engine
//!    then checkpoints (fsync the part file, record it in the `.durl-state` file) and returns.
//!    The next run resumes from those files, exactly as `durl get` does after a crash.
//! 4. **RPC** ([`rpc`]): aria2's methods, token, batches and `system.multicall`;
//!    notifications go to every WebSocket.
//! 5. **Server** (`server`): HTTP/1.1 and the WebSocket upgrade on hyper; `Origin` and `Host`
//!    checks keep other web sites out.
//!
//! # After `kill -9`
//! The database holds the last committed state of every download; a running download is
//! stored as waiting, so it runs again and the engine continues it from its last checkpoint.
//! Paused ones stay paused; complete, failed and removed ones are listed until purged; a
//! complete file is never fetched again (its record says complete; and a run killed between
//! the engine's final rename and the record's update finds the complete file and adopts it).

pub mod client;
mod clients;
mod error;
pub mod options;
pub mod queue;
pub mod rpc;
mod runner;
mod server;
pub mod store;
mod web;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use error::{Error, RpcError};
pub use options::GlobalOptions;

/// How long a connection may take to send a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Config {
    state_dir: PathBuf,
    dir: PathBuf,
    secret: Option<String>,
    global: GlobalOptions,
    max_connections: usize,
    max_per_host: usize,
    checkpoint_interval: Duration,
    retries: u32,
    rpc_clients: usize,
    rpc_per_client: usize,
}

impl Config {
    /// A daemon keeping its database in `state_dir` and downloading into `dir` by default;
    /// 5 downloads at once, 16 connections in all, 8 per host, a checkpoint every second.
    pub fn new(state_dir: impl Into<PathBuf>, dir: impl Into<PathBuf>) -> Config {
        Config {
            state_dir: state_dir.into(),
            dir: dir.into(),
            secret: None,
            global: GlobalOptions::default(),
            max_connections: 16,
            max_per_host: 8,
            checkpoint_interval: Duration::from_secs(1),
            retries: 10,
            rpc_clients: 256,
            rpc_per_client: 32,
        }
    }

    /// RPC connections (HTTP and WebSocket) held at once, in all and from one client address
    /// (default 256 and 32); a connection over either limit is closed at once.
    pub fn rpc_connections(mut self, max: usize, per_client: usize) -> Config {
        self.rpc_clients = max.max(1);
        self.rpc_per_client = per_client.clamp(1, self.rpc_clients);
        self
    }

    /// The RPC secret (`token:SECRET`); required for a non-loopback listener.
    pub fn secret(mut self, secret: Option<String>) -> Config {
        self.secret = secret.filter(|s| !s.is_empty());
        self
    }

    /// Downloads running at once (`-j`), unless the database holds a value changed over RPC.
    pub fn max_concurrent_downloads(mut self, n: usize) -> Config {
        self.global.max_concurrent_downloads = n.max(1);
        self
    }

    /// The overall rate limit in bytes per second.
    pub fn max_overall_download_limit(mut self, rate: Option<u64>) -> Config {
        self.global.max_overall_download_limit = rate.filter(|&r| r > 0);
        self
    }

    /// Connections in all and per host; a download asking for more connections gets fewer.
    pub fn connections(mut self, max: usize, per_host: usize) -> Config {
        self.max_connections = max.max(1);
        self.max_per_host = per_host.clamp(1, self.max_connections);
        self
    }

    /// The engine's checkpoint interval: after a crash at most about this much of each
    /// running download is fetched again.
    pub fn checkpoint_interval(mut self, every: Duration) -> Config {
        self.checkpoint_interval = every;
        self
    }

    /// Whether the daemon may listen on `addr`: anything but loopback needs a secret.
    ///
    /// # Errors
    /// [`Error::SecretRequired`].
    pub fn check_bind(&self, addr: std::net::SocketAddr) -> Result<(), Error> {
        if !addr.ip().is_loopback() && self.secret.is_none() {
            return Err(Error::SecretRequired { addr });
        }
        Ok(())
    }

    /// The engine's retries per download run.
    pub fn retries(mut self, n: u32) -> Config {
        self.retries = n;
        self
    }
}

/// Runs the daemon on `listener` until `shutdown` completes or a client calls
/// `aria2.shutdown`; then stops every running download at a checkpoint and returns.
///
/// # Errors
/// [`Error::SecretRequired`] for a non-loopback listener without a secret; the state
/// directory or the database cannot be opened (another daemon uses it, for one).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future,
) -> Result<(), Error> {
    let addr = listener.local_addr().map_err(Error::Listener)?;
    config.check_bind(addr)?;
    std::fs::create_dir_all(&config.state_dir).map_err(|source| Error::StateDir {
        path: config.state_dir.clone(),
        source,
    })?;
    let store = store::Store::open(&config.state_dir)?;
    let queue = queue::Queue::open(
        store,
        queue::QueueSettings {
            dir: config.dir.clone(),
            checkpoint_interval: config.checkpoint_interval,
            max_connections: config.max_connections,
            max_per_host: config.max_per_host,
            retries: config.retries,
        },
        config.global,
    )?;
    queue.start();
    let closing = CancellationToken::new();
    let server = Arc::new(server::Server {
        rpc: rpc::Rpc::new(queue.clone(), config.secret.clone()),
        closing: closing.clone(),
    });
    let stop_requested = queue.stop_requested();
    let slots = clients::Slots::new(config.rpc_clients, config.rpc_per_client);
    tokio::pin!(shutdown);
    tokio::pin!(stop_requested);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            () = &mut stop_requested => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // EMFILE and the like: wait a little rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let Some(slot) = slots.take(peer.ip()) else {
                    tracing::debug!(%peer, "RPC connection refused: over the connection limit");
                    drop(stream);
                    continue;
                };
                let server = Arc::clone(&server);
                let closing = closing.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let service = service_fn(move |req| Arc::clone(&server).serve(req));
                    // A client that opens a connection and sends nothing gives its slot back.
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades();
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        () = closing.cancelled() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(Duration::from_secs(2), conn).await;
                        }
                    }
                });
            }
        }
    }
    drop(listener);
    queue.close().await;
    closing.cancel();
    Ok(())
}

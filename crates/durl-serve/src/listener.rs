//! The accept loop and per-connection driver (mini-redis `Listener`/`Handler` shape).
//!
//! * A semaphore caps open connections: the loop takes a permit before accepting, so beyond
//!   the cap clients wait in the kernel's backlog instead of costing us memory.
//! * Each connection must deliver its first request head (after the TLS handshake, if any)
//!   within the header read timeout, counted from accept; hyper's HTTP/1 header read timeout
//!   then covers every later head and idle keep-alive. Slowloris clients are cut off.
//! * Each client address may hold only its share of the slots (`activity::PerAddress`,
//!   three quarters by default); as many more connections of the address wait, without a
//!   slot, for one of its own (at most the header read timeout); beyond that they are closed
//!   at once. One address never holds every slot.
//! * A connection on which no byte moves for the idle timeout is closed (`activity.rs`), so a
//!   client that stops reading a large response does not hold its slot forever; one with no
//!   request open for the idle timeout is closed too (GOAWAY on HTTP/2), since PINGs and their
//!   ACKs move bytes without doing any work.
//! * Shutdown: stop accepting, ask every connection to finish gracefully (HTTP/1: close after
//!   the response in flight; HTTP/2: GOAWAY), wait up to the grace period, abort the rest.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::activity::{AddressSlot, Guarded, PerAddress, Streams, Tracked};
use crate::auth::Gate;
use crate::body::CHUNK;
use crate::config::Config;
use crate::error::ServeError;
use crate::service::{self, Backend, Service};
use crate::storage::local::{Local, Root};
use crate::storage::object::Objects;
use crate::upload;
use crate::zerocopy::{Pending, SendfileStream};

/// State shared by every connection.
struct Shared {
    /// What answers the requests.
    service: Arc<Service>,
    /// hyper's connection builder (HTTP/1.1 and HTTP/2), configured once with our limits.
    builder: auto::Builder<TokioExecutor>,
    /// The TLS acceptor when serving HTTPS.
    tls: Option<TlsAcceptor>,
}

impl Shared {
    fn limits(&self) -> &crate::config::Limits {
        &self.service.config.limits
    }
}

/// Runs the server on `listener` until `shutdown` completes, then drains connections.
pub(crate) async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future,
) -> Result<(), ServeError> {
    let limits = config.limits;
    let (storage, uploads) = match &config.objects {
        Some(objects) => {
            let objects = Objects::connect(objects, config.hidden).await?;
            let uploads = config.upload.enabled.then(|| {
                let settings = crate::config::UploadSettings {
                    hidden: config.hidden,
                    ..config.upload.clone()
                };
                let (store, url) = objects.parts();
                upload::Uploads::Bucket(upload::BucketUploads::new(store, url, settings))
            });
            (Backend::Objects(objects), uploads)
        }
        None => {
            let root = Root::open(&config.root)?;
            let uploads = if config.upload.enabled {
                let settings = crate::config::UploadSettings {
                    hidden: config.hidden,
                    ..config.upload.clone()
                };
                Some(upload::Uploads::Local(upload::LocalUploads(Arc::new(
                    upload::Store::open(&root.path, settings)?,
                ))))
            } else {
                None
            };
            let private = uploads.as_ref().and_then(|s| s.private_area()).cloned();
            let local = Local::new(root, config.follow_symlinks, config.hidden, private);
            if config.precompute_digests {
                let local = local.clone();
                tokio::task::spawn_blocking(move || local.precompute_digests());
            }
            (Backend::Local(local), uploads)
        }
    };
    // Expired uploads are deleted in the background while the server runs.
    let sweeper = uploads
        .as_ref()
        .map(|uploads| tokio::spawn(uploads.clone().sweep_forever()));
    let shared = Arc::new(Shared {
        builder: builder(&config),
        tls: config
            .tls
            .as_ref()
            .map(|t| TlsAcceptor::from(Arc::clone(&t.server))),
        service: Arc::new(Service {
            storage,
            uploads,
            gate: Gate::new(
                config.auth.clone(),
                config.accounts.clone(),
                config.rules.clone(),
            ),
            config,
        }),
    });

    // `true` once shutdown has started; every connection task watches it.
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = PerAddress::new(limits.per_ip());

    tokio::select! {
        () = accept_loop(&listener, &shared, (&permits, &per_address), &shutdown_rx, &mut connections) => {}
        _ = shutdown => tracing::info!("shutting down: no longer accepting connections"),
    }
    // Stop accepting: closing the socket makes new clients fail fast instead of queueing.
    drop(listener);
    let _ = shutdown_tx.send(true);

    let drained = tokio::time::timeout(limits.grace_period, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "grace period over; closing the remaining connections"
        );
        connections.shutdown().await;
    }
    if let Some(sweeper) = sweeper {
        sweeper.abort();
    }
    Ok(())
}

/// hyper's builder with our limits applied.
fn builder(config: &Config) -> auto::Builder<TokioExecutor> {
    let limits = &config.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Slowloris: the whole head must arrive within this time (hyper also applies it to
        // idle keep-alive connections waiting for their next request).
        .header_read_timeout(limits.header_read_timeout)
        // A head larger than this is answered 431 (hyper's TooLarge); it also caps how much
        // body hyper queues per connection before asking our stream for more.
        .max_buf_size(limits.max_head_bytes)
        .max_headers(limits.max_headers)
        // Body chunks are queued as they are, never copied into a flat buffer: sendfile
        // placeholders (zerocopy.rs) must reach the socket wrapper as the same memory.
        .writev(true)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams)
        .max_header_list_size(u32::try_from(limits.max_head_bytes).unwrap_or(u32::MAX))
        .max_send_buf_size(CHUNK)
        .keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

/// Accepts connections forever, one permit each, and within each address's share; never
/// returns.
async fn accept_loop(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    (permits, per_address): (&Arc<Semaphore>, &Arc<PerAddress>),
    shutdown: &watch::Receiver<bool>,
    connections: &mut JoinSet<()>,
) {
    let mut backoff = Duration::from_millis(5);
    loop {
        // Wait for room before accepting: at the cap, clients wait in the backlog.
        let Ok(permit) = Arc::clone(permits).acquire_owned().await else {
            return; // the semaphore is never closed
        };
        // Reap finished connection tasks so the set does not grow.
        while let Some(done) = connections.try_join_next() {
            if let Err(e) = done
                && e.is_panic()
            {
                tracing::error!(error = %e, "connection task panicked");
            }
        }
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                backoff = Duration::from_millis(5);
                accepted
            }
            Err(e) => {
                // EMFILE, ENFILE, ECONNABORTED...: back off and keep serving.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        // One address holding and waiting for as many as it may: closed at once.
        let Some(share) = per_address.join(peer.ip()) else {
            tracing::debug!(%peer, "connection limit per address reached; closing");
            continue;
        };
        let (shared, shutdown) = (Arc::clone(shared), shutdown.clone());
        match share.try_slot() {
            Ok(slot) => {
                connections.spawn(connection(shared, stream, peer, shutdown, (permit, slot)));
            }
            Err(share) => {
                // The address holds its share: give the global slot back, wait (at most the
                // header read timeout) for one of the address's own, then for a global one.
                drop(permit);
                let permits = Arc::clone(permits);
                connections.spawn(async move {
                    let wait = shared.limits().header_read_timeout;
                    let Ok(Some(slot)) = tokio::time::timeout(wait, share.slot()).await else {
                        tracing::debug!(%peer, "no connection slot for this address in time; closing");
                        return;
                    };
                    let Ok(permit) = permits.acquire_owned().await else {
                        return;
                    };
                    connection(shared, stream, peer, shutdown, (permit, slot)).await;
                });
            }
        }
    }
}

/// Serves one connection: TLS handshake if configured, then HTTP until it closes.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
    // Held until the connection ends, returning its slots to the accept loop.
    _slots: (OwnedSemaphorePermit, AddressSlot),
) {
    let _ = stream.set_nodelay(true);
    let deadline = Instant::now() + shared.limits().header_read_timeout;
    let idle_timeout = shared.limits().idle_timeout;
    let closed = |peer| tracing::debug!(%peer, "no progress within the idle timeout; closing");
    if let Some(acceptor) = &shared.tls {
        let (stream, progress) = Tracked::new(stream);
        tokio::select! {
            () = serve_tls(&shared, acceptor, stream, peer, shutdown, deadline) => {}
            () = idle_watchdog(progress, idle_timeout) => closed(peer),
        }
    } else {
        // Plain text: file bodies may go out with sendfile(2).
        let (stream, pending) = SendfileStream::new(stream);
        let (stream, progress) = Tracked::new(stream);
        tokio::select! {
            () = drive(&shared, stream, peer, shutdown, deadline, Some(pending)) => {}
            () = idle_watchdog(progress, idle_timeout) => closed(peer),
        }
    }
}

/// Completes when `progress` has not moved for a whole `period`.
async fn idle_watchdog(progress: Arc<AtomicU64>, period: Duration) {
    let mut ticks = tokio::time::interval_at(Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = progress.load(Ordering::Relaxed);
    loop {
        ticks.tick().await;
        let now = progress.load(Ordering::Relaxed);
        if now == last {
            return;
        }
        last = now;
    }
}

/// TLS handshake, then HTTP.
async fn serve_tls(
    shared: &Arc<Shared>,
    acceptor: &TlsAcceptor,
    stream: Tracked<TcpStream>,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    deadline: Instant,
) {
    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(stream));
    let tls = tokio::select! {
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
        () = stopping(&mut shutdown) => return,
    };
    drive(shared, tls, peer, shutdown, deadline, None).await;
}

/// Runs hyper on `io` until the connection ends, the first request misses `deadline`, or
/// shutdown asks it to finish. `sendfile` is the queue of `io` when it is a
/// [`SendfileStream`].
async fn drive<I>(
    shared: &Arc<Shared>,
    io: I,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    deadline: Instant,
    sendfile: Option<Pending>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Set when the first request head has been parsed.
    let seen_request = Arc::new(AtomicBool::new(false));
    // Requests open, so a connection that only exchanges PINGs is closed when idle.
    let streams = Streams::new();
    let service = {
        let shared = Arc::clone(shared);
        let seen_request = Arc::clone(&seen_request);
        let streams = Arc::clone(&streams);
        service_fn(move |request| {
            seen_request.store(true, Ordering::Relaxed);
            let guard = streams.open();
            let shared = Arc::clone(&shared);
            let sendfile = sendfile.clone();
            async move {
                let response =
                    service::handle(Arc::clone(&shared.service), request, peer, sendfile).await;
                Ok::<_, Infallible>(response.map(|body| Guarded::new(body, guard)))
            }
        })
    };
    let conn = shared.builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    // hyper-util's protocol sniffing (HTTP/1 or the HTTP/2 preface) has no timeout of its
    // own, so a client that connects and sends nothing is cut off here.
    let first_request = tokio::time::sleep_until(deadline);
    tokio::pin!(first_request);
    let mut waiting_first = true;
    let idle_timeout = shared.limits().idle_timeout;
    let mut idle_checks =
        tokio::time::interval_at(Instant::now() + idle_timeout / 2, idle_timeout / 2);
    idle_checks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            () = &mut first_request, if waiting_first => {
                waiting_first = false;
                if !seen_request.load(Ordering::Relaxed) {
                    tracing::debug!(%peer, "no request head before the timeout; closing");
                    return;
                }
            }
            _ = idle_checks.tick() => {
                // No request open for the idle timeout (HTTP/1.1 keep-alive ends the same way
                // through hyper's header read timeout): HTTP/2 gets a GOAWAY, and a bounded
                // wait for the close.
                if seen_request.load(Ordering::Relaxed) && streams.idle_for() >= idle_timeout {
                    tracing::debug!(%peer, "no request open within the idle timeout; closing");
                    conn.as_mut().graceful_shutdown();
                    let grace = shared.limits().grace_period;
                    if let Ok(Err(e)) = tokio::time::timeout(grace, conn).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
            }
            () = stopping(&mut shutdown) => {
                conn.as_mut().graceful_shutdown();
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
        }
    }
}

/// Completes once shutdown has started (or the server is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // The guard returned by `wait_for` is not Send; drop it here, before any other await.
    let _ = shutdown.wait_for(|&stop| stop).await;
}

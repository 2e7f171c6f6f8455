//! Connection activity: [`Tracked`], an I/O wrapper that counts progress, so a connection whose
//! peer has stopped reading (or sending) can be recognised and closed; [`Streams`], the
//! requests open on a connection, so one that only exchanges PINGs can be closed too; and
//! [`PerAddress`], each client address's share of the connection slots.
//!
//! hyper's header read timeout covers slow request heads and idle keep-alive, but not a client
//! that asks for a large file and then never reads: its write would stay pending forever and
//! hold a connection slot. The connection driver samples the counter every idle timeout and
//! closes the connection when nothing moved in between.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Wraps `I`, bumping a shared counter whenever bytes are read or written.
#[derive(Debug)]
pub(crate) struct Tracked<I> {
    inner: I,
    /// Incremented on every read or write that moved at least one byte.
    progress: Arc<AtomicU64>,
}

impl<I> Tracked<I> {
    /// Wraps `inner`; returns the wrapper and the counter to sample.
    pub(crate) fn new(inner: I) -> (Self, Arc<AtomicU64>) {
        let progress = Arc::new(AtomicU64::new(0));
        (
            Self {
                inner,
                progress: Arc::clone(&progress),
            },
            progress,
        )
    }

    fn bump(&self) {
        self.progress.fetch_add(1, Ordering::Relaxed);
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Tracked<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.bump();
        }
        result
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Tracked<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.bump();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.bump();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Requests open on one connection, and since when none has been: an HTTP/2 connection whose
/// client only answers (or sends) PINGs moves bytes forever, so byte progress alone cannot
/// tell it is idle. The connection driver closes it (GOAWAY) once no request has been open for
/// the idle timeout.
#[derive(Debug)]
pub(crate) struct Streams {
    /// Requests whose handler or response body is alive.
    open: AtomicU64,
    /// When `open` last dropped to zero (or the connection started).
    idle_since: std::sync::Mutex<Instant>,
}

impl Streams {
    /// No request open, idle from now.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            open: AtomicU64::new(0),
            idle_since: std::sync::Mutex::new(Instant::now()),
        })
    }

    /// Counts a request open until the guard (moved into its response body) is dropped.
    pub(crate) fn open(self: &Arc<Self>) -> StreamGuard {
        self.open.fetch_add(1, Ordering::AcqRel);
        StreamGuard(Arc::clone(self))
    }

    /// How long no request has been open (zero while one is).
    pub(crate) fn idle_for(&self) -> Duration {
        if self.open.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let since = *self
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        since.elapsed()
    }
}

/// One open request of a [`Streams`]; dropping it closes the request.
#[derive(Debug)]
pub(crate) struct StreamGuard(Arc<Streams>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let mut since = self
            .0
            .idle_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            *since = Instant::now();
        }
    }
}

/// A response body that keeps its request counted as open until hyper drops it (sent in full,
/// or the stream reset).
#[derive(Debug)]
pub(crate) struct Guarded<B> {
    inner: B,
    _guard: StreamGuard,
}

impl<B> Guarded<B> {
    /// `inner`, counted as open while it lives.
    pub(crate) fn new(inner: B, guard: StreamGuard) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl<B: http_body::Body + Unpin> http_body::Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Connections per client address: each address may hold `cap` connection slots, and have as
/// many more waiting (without a slot of the global cap) for one of its own to free up; beyond
/// that its connections are closed at once. So one address never holds every slot, and a
/// flood from one address costs a bounded number of waiting sockets.
#[derive(Debug)]
pub(crate) struct PerAddress {
    /// Slots one address may hold.
    cap: usize,
    /// Per address: its slots, and the connections holding or waiting for one.
    table: std::sync::Mutex<HashMap<IpAddr, (Arc<Semaphore>, usize)>>,
}

impl PerAddress {
    /// At most `cap` connections held per address.
    pub(crate) fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            table: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// `ip`'s share for one more connection, or `None` if it already holds and waits for
    /// as many as it may.
    pub(crate) fn join(self: &Arc<Self>, ip: IpAddr) -> Option<AddressShare> {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        let (slots, users) = table
            .entry(ip)
            .or_insert_with(|| (Arc::new(Semaphore::new(self.cap)), 0));
        if *users >= 2 * self.cap {
            return None;
        }
        *users += 1;
        Some(AddressShare {
            slots: Arc::clone(slots),
            user: User {
                table: Arc::clone(self),
                ip,
            },
        })
    }
}

/// One connection of an address, before it has a slot of the address's share.
#[derive(Debug)]
pub(crate) struct AddressShare {
    slots: Arc<Semaphore>,
    user: User,
}

impl AddressShare {
    /// A slot now, or the share back if the address holds all of its slots.
    pub(crate) fn try_slot(self) -> Result<AddressSlot, Self> {
        match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => Ok(AddressSlot {
                _permit: permit,
                _user: self.user,
            }),
            Err(_) => Err(self),
        }
    }

    /// Waits for a slot of the address's share.
    pub(crate) async fn slot(self) -> Option<AddressSlot> {
        let permit = Arc::clone(&self.slots).acquire_owned().await.ok()?;
        Some(AddressSlot {
            _permit: permit,
            _user: self.user,
        })
    }
}

/// One connection's slot in its address's share; given back on drop.
#[derive(Debug)]
pub(crate) struct AddressSlot {
    _permit: OwnedSemaphorePermit,
    _user: User,
}

/// Counts a connection of an address (holding or waiting) until dropped.
#[derive(Debug)]
struct User {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl Drop for User {
    fn drop(&mut self) {
        let mut table = self
            .table
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, users)) = table.get_mut(&self.ip) {
            *users -= 1;
            if *users == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

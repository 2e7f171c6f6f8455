//! [`Tracked`]: an I/O wrapper that counts progress, so a connection whose peer has stopped
//! reading (or sending) can be recognised and closed.
//!
//! hyper's header read timeout covers slow request heads and idle keep-alive, but not a client
//! that asks for a large file and then never reads: its write would stay pending forever and
//! hold a connection slot. The connection driver samples the counter every idle timeout and
//! closes the connection when nothing moved in between.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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

//! `sendfile(2)` under hyper, for plain-text HTTP/1.x connections.
//!
//! hyper only knows bodies made of bytes in memory, so file content would be copied twice on
//! its way out: page cache → our buffer (`pread`), our buffer → socket (`write`). With
//! sendfile the kernel sends page-cache pages directly, which is what nginx does and what
//! makes a busy file server CPU-cheap.
//!
//! How the file reaches the socket without hyper knowing:
//!
//! 1. Each plain-TCP connection has a [`Pending`] queue shared by its socket wrapper
//!    ([`SendfileStream`]) and the bodies of its HTTP/1.x responses.
//! 2. A body sending a file span pushes `(file, offset, len)` on the queue and hands hyper a
//!    *placeholder* instead of the data: `len` bytes of [`PLACEHOLDER`], a static buffer that
//!    is never read.
//! 3. hyper queues body chunks as they are (its "queue" write strategy, which we force with
//!    `http1().writev(true)`), so the placeholder arrives at [`SendfileStream`]'s
//!    `poll_write_vectored` as the very same memory. The wrapper recognises it by address,
//!    writes everything before it normally (with `MSG_MORE`, so the response head and the
//!    first file bytes can share a packet) and replaces the placeholder with
//!    `sendfile(socket, file, offset, len)`, partial writes included.
//!
//! Every placeholder slice is checked against the front of the queue (same length, same
//! progress); any disagreement fails the connection instead of sending wrong bytes. TLS
//! connections and HTTP/2 never use this (their bytes must pass through rustls or h2 framing),
//! and their bodies read into memory as before.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Largest file span one placeholder stands for.
pub(crate) const SPAN: usize = 1 << 20;

/// The placeholder memory. Zero-initialised, so it lives in `.bss` and costs no RSS: only its
/// address is ever used.
static PLACEHOLDER: [u8; SPAN] = [0; SPAN];

/// A placeholder of `len` bytes (`len <= SPAN`).
fn placeholder(len: usize) -> Bytes {
    Bytes::from_static(&PLACEHOLDER[..len])
}

/// Where `slice` starts inside [`PLACEHOLDER`], if it does.
fn placeholder_offset(slice: &[u8]) -> Option<usize> {
    if slice.is_empty() {
        return None;
    }
    let start = PLACEHOLDER.as_ptr() as usize;
    let at = slice.as_ptr() as usize;
    (at >= start && at < start + SPAN).then(|| at - start)
}

/// One file span announced by a body and not yet fully sent.
#[derive(Debug)]
struct Span {
    file: Arc<File>,
    /// Where the span starts in the file.
    offset: u64,
    /// Its length (the placeholder's length).
    len: usize,
    /// How much of it is already on the socket.
    sent: usize,
}

/// The queue shared by a connection's socket wrapper and its response bodies.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pending(Arc<Mutex<VecDeque<Span>>>);

impl Pending {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Span>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Announces `offset..offset + len` of `file` (`len <= SPAN`) and returns the placeholder
    /// to give hyper in its place.
    pub(crate) fn push(&self, file: &Arc<File>, offset: u64, len: usize) -> Bytes {
        debug_assert!(len > 0 && len <= SPAN);
        self.lock().push_back(Span {
            file: Arc::clone(file),
            offset,
            len,
            sent: 0,
        });
        placeholder(len)
    }
}

/// A plain TCP stream whose writes turn placeholders into `sendfile(2)`.
#[derive(Debug)]
pub(crate) struct SendfileStream {
    stream: TcpStream,
    pending: Pending,
}

impl SendfileStream {
    /// Wraps `stream`; bodies announce their spans on the returned queue.
    pub(crate) fn new(stream: TcpStream) -> (Self, Pending) {
        let pending = Pending::default();
        (
            Self {
                stream,
                pending: pending.clone(),
            },
            pending,
        )
    }

    /// Sends up to `slice.len()` bytes of the span at the front of the queue, which `slice`
    /// (a placeholder starting `at` bytes into [`PLACEHOLDER`]) stands for.
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        slice: &[u8],
        at: usize,
    ) -> Poll<io::Result<usize>> {
        let (file, mut offset, count) = {
            let queue = self.pending.lock();
            let Some(span) = queue.front() else {
                return Poll::Ready(Err(mismatch("no file span announced")));
            };
            // The placeholder for a span is PLACEHOLDER[..len]; hyper advances through it as
            // we report progress, so its position must equal what we have sent.
            if at != span.sent || slice.len() > span.len - span.sent {
                return Poll::Ready(Err(mismatch("placeholder out of step with its span")));
            }
            (
                Arc::clone(&span.file),
                span.offset + span.sent as u64,
                slice.len(),
            )
        };
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            let sent = self.stream.try_io(Interest::WRITABLE, || {
                Ok(rustix::fs::sendfile(
                    &self.stream,
                    &*file,
                    Some(&mut offset),
                    count,
                )?)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
                // The file shrank since it was opened: the Content-Length already sent
                // cannot be honoured, so the connection must be cut rather than padded.
                Ok(0) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "file shorter than announced",
                    )));
                }
                Ok(n) => {
                    let mut queue = self.pending.lock();
                    if let Some(span) = queue.front_mut() {
                        span.sent += n;
                        if span.sent == span.len {
                            queue.pop_front();
                        }
                    }
                    return Poll::Ready(Ok(n));
                }
            }
        }
    }

    /// Writes `bufs` (no placeholders among them); `more` says that file data follows at
    /// once, so the kernel may hold a small write back to fill the packet (`MSG_MORE`).
    fn poll_plain(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        more: bool,
    ) -> Poll<io::Result<usize>> {
        if !more {
            return Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        }
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            let sent = self.stream.try_io(Interest::WRITABLE, || {
                Ok(rustix::net::sendmsg(
                    &self.stream,
                    bufs,
                    &mut rustix::net::SendAncillaryBuffer::default(),
                    rustix::net::SendFlags::MORE | rustix::net::SendFlags::NOSIGNAL,
                )?)
            });
            match sent {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return Poll::Ready(other),
            }
        }
    }
}

fn mismatch(what: &str) -> io::Error {
    io::Error::other(format!("sendfile: {what}"))
}

impl AsyncRead for SendfileStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match bufs
            .iter()
            .enumerate()
            .find_map(|(i, b)| placeholder_offset(b).map(|at| (i, at)))
        {
            None => this.poll_plain(cx, bufs, false),
            Some((0, at)) => this.poll_sendfile(cx, &bufs[0], at),
            Some((i, _)) => this.poll_plain(cx, &bufs[..i], true),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[test]
    fn placeholders_are_recognised_by_address_only() {
        let p = placeholder(100);
        assert_eq!(placeholder_offset(&p), Some(0));
        assert_eq!(placeholder_offset(&p[10..]), Some(10));
        // The same bytes elsewhere are ordinary data.
        let zeros = vec![0u8; 100];
        assert_eq!(placeholder_offset(&zeros), None);
        assert_eq!(placeholder_offset(&p[..0]), None);
    }

    #[tokio::test]
    async fn head_then_file_spans_arrive_in_order() {
        let content: Vec<u8> = (0..3 * SPAN + 5).map(|i| (i % 253) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&content).unwrap();
        let file = Arc::new(f);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).await.unwrap();
            got
        });
        let (server, _) = listener.accept().await.unwrap();
        let (mut stream, pending) = SendfileStream::new(server);
        let a = pending.push(&file, 7, SPAN);
        let b = pending.push(&file, 2 * SPAN as u64, 100);
        // Written as hyper would: vectored, with partial progress.
        let mut bufs: Vec<Bytes> = vec![Bytes::from_static(b"HEAD"), a, b"mid".to_vec().into(), b];
        while !bufs.is_empty() {
            let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
            let mut n = stream.write_vectored(&slices).await.unwrap();
            assert!(n > 0);
            while n > 0 {
                let take = n.min(bufs[0].len());
                let _ = bufs[0].split_to(take);
                n -= take;
                if bufs[0].is_empty() {
                    bufs.remove(0);
                }
            }
        }
        stream.shutdown().await.unwrap();
        drop(stream);
        let mut want = b"HEAD".to_vec();
        want.extend_from_slice(&content[7..7 + SPAN]);
        want.extend_from_slice(b"mid");
        want.extend_from_slice(&content[2 * SPAN..2 * SPAN + 100]);
        let got = reader.await.unwrap();
        assert_eq!(got.len(), want.len());
        assert!(got == want);
        assert!(pending.lock().is_empty());
    }

    #[tokio::test]
    async fn a_placeholder_without_its_span_fails_instead_of_sending_zeros() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (mut stream, _pending) = SendfileStream::new(server);
        let err = stream.write(&placeholder(10)).await.unwrap_err();
        assert!(err.to_string().contains("sendfile"), "{err}");
    }

    #[tokio::test]
    async fn a_file_that_shrank_is_an_error() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(b"short").unwrap();
        let file = Arc::new(f);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let (mut stream, pending) = SendfileStream::new(server);
        let p = pending.push(&file, 100, 10);
        let err = stream.write(&p).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}

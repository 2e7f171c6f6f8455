//! Response bodies: nothing, a few bytes in memory, or file content streamed in bounded chunks.
//!
//! A file body is a queue of [`Segment`]s: literal bytes (multipart part headers) and file
//! slices. A whole file is one slice, a single range is one slice, and `multipart/byteranges`
//! alternates part headers and slices, so every part is read from the file only when hyper
//! asks for it and memory stays flat whatever the file size or the number of parts.
//!
//! Reads are positional on a shared descriptor, one chunk of at most [`CHUNK`] bytes at a
//! time, into a buffer that is reused as soon as hyper has written the previous chunk. Each
//! chunk is first tried with `preadv2(RWF_NOWAIT)` right on the async thread: data in the page
//! cache (the common case for a busy file server) costs one copy and no thread hop, and the
//! kernel answers `EAGAIN` instead of blocking when the data would need disk I/O. Only then
//! does the read go to tokio's blocking pool.
//!
//! On plain-text HTTP/1.x connections a stream can instead hand out file spans of up to
//! [`SPAN`] bytes to be sent with `sendfile(2)` (`zerocopy.rs`): no read and no copy at all.
//! It does so only for spans whose first and last pages are in the page cache, so that
//! sendfile does not stall the async thread on the disk; other spans take the read path.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use tokio::task::JoinHandle;

use crate::access_log;
use crate::zerocopy::{Pending, SPAN};

/// Largest read, and so the largest frame handed to hyper. Big enough that a 1 MiB answer
/// takes few trips to the blocking pool, small enough that many slow clients cost little
/// memory: hyper buffers about one chunk per connection while the next one is read.
pub(crate) const CHUNK: usize = 128 * 1024;

/// A response body.
#[derive(Debug)]
pub struct Body {
    kind: Kind,
    /// The access-log record written when the body is dropped, with the bytes sent.
    log: Option<Box<Logged>>,
}

/// An access-log record and the count of bytes handed to the connection.
#[derive(Debug)]
struct Logged {
    record: access_log::Record,
    /// Bytes of all frames handed out.
    sent: u64,
    /// Bytes of the last frame handed out: if the body is dropped before its end (the
    /// client went away), that frame is taken as not sent.
    last: u64,
}

#[derive(Debug)]
enum Kind {
    Empty,
    Bytes(Option<Bytes>),
    File(FileStream),
    Stream(ByteStream),
}

/// A boxed stream of body chunks.
pub(crate) type Chunks = Pin<Box<dyn futures_util::Stream<Item = io::Result<Bytes>> + Send>>;

/// Content from a stream of known length (an object store's ranged GETs): exactly
/// `remaining` bytes, or an error that cuts the connection.
struct ByteStream {
    chunks: Chunks,
    remaining: u64,
}

impl std::fmt::Debug for ByteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteStream")
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl ByteStream {
    /// The next chunk; a stream that ends early or runs long is an error (the
    /// Content-Length already sent cannot be honoured otherwise).
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        match ready!(self.chunks.as_mut().poll_next(cx)) {
            Some(Ok(data)) if data.len() as u64 > self.remaining => {
                self.remaining = 0;
                Poll::Ready(Some(Err(io::Error::other(
                    "the content is longer than announced",
                ))))
            }
            Some(Ok(data)) => {
                self.remaining -= data.len() as u64;
                Poll::Ready(Some(Ok(data)))
            }
            Some(Err(e)) => Poll::Ready(Some(Err(e))),
            None => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the content ended before its announced length",
            )))),
        }
    }
}

impl Body {
    /// No content.
    pub(crate) fn empty() -> Self {
        Self::of(Kind::Empty)
    }

    fn of(kind: Kind) -> Self {
        Self { kind, log: None }
    }

    /// Writes `record` to the access log when the body is done (sent to the end, or
    /// dropped), with the bytes sent.
    pub(crate) fn log_when_done(&mut self, record: access_log::Record) {
        self.log = Some(Box::new(Logged {
            record,
            sent: 0,
            last: 0,
        }));
    }

    /// Content already in memory.
    pub(crate) fn bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Self::empty();
        }
        Self::of(Kind::Bytes(Some(bytes)))
    }

    /// Lets a file body send page-cached spans with `sendfile(2)` through `pending`.
    pub(crate) fn use_sendfile(&mut self, pending: Pending) {
        if let Kind::File(stream) = &mut self.kind {
            stream.use_sendfile(pending);
        }
    }

    /// Content from `chunks`, which must yield exactly `len` bytes.
    pub(crate) fn stream(chunks: Chunks, len: u64) -> Self {
        if len == 0 {
            return Self::empty();
        }
        Self::of(Kind::Stream(ByteStream {
            chunks,
            remaining: len,
        }))
    }

    /// Content streamed from a file.
    pub(crate) fn file(stream: FileStream) -> Self {
        if stream.remaining == 0 {
            return Self::empty();
        }
        Self::of(Kind::File(stream))
    }
}

/// One piece of a file body.
#[derive(Debug)]
pub(crate) enum Segment {
    /// Bytes sent as they are (multipart part headers and the closing delimiter).
    Bytes(Bytes),
    /// A half-open byte range of the file.
    Slice(Range<u64>),
}

impl Segment {
    pub(crate) fn len(&self) -> u64 {
        match self {
            Self::Bytes(b) => b.len() as u64,
            Self::Slice(r) => r.end - r.start,
        }
    }
}

/// File content: segments still to send, and the read in progress.
#[derive(Debug)]
pub(crate) struct FileStream {
    /// Shared so that a blocking read can own a handle while the stream lives on.
    file: Arc<File>,
    /// What is left to send, in order. Slices shrink from the front as chunks are read.
    segments: VecDeque<Segment>,
    /// Total bytes left, for an exact `size_hint` (which hyper turns into Content-Length).
    remaining: u64,
    /// The read buffer, reclaimed from the previous chunk when hyper has dropped it.
    buf: BytesMut,
    /// The chunk being read on the blocking pool: hands back the buffer and the bytes read.
    reading: Option<JoinHandle<io::Result<(BytesMut, Bytes)>>>,
    /// Cleared when the file system does not support `RWF_NOWAIT`, so we stop trying.
    try_nowait: bool,
    /// The connection's sendfile queue, when the response may use it.
    sendfile: Option<Pending>,
}

impl FileStream {
    /// A stream of `segments` of `file`.
    pub(crate) fn new(file: File, segments: Vec<Segment>) -> Self {
        let remaining = segments.iter().map(Segment::len).sum();
        Self {
            file: Arc::new(file),
            segments: segments.into_iter().filter(|s| s.len() > 0).collect(),
            remaining,
            buf: BytesMut::new(),
            reading: None,
            try_nowait: true,
            sendfile: None,
        }
    }

    /// Sends page-cached file spans with `sendfile(2)` through `pending` (plain-text HTTP/1.x
    /// connections only: see `zerocopy.rs`).
    pub(crate) fn use_sendfile(&mut self, pending: Pending) {
        self.sendfile = Some(pending);
    }

    /// Reads the first chunk now, on the calling thread. The local storage calls this on the
    /// blocking pool when [`FileStream::wants_prefetch`] says the chunk is not in the page
    /// cache (a cached one the async side reads or sends without blocking), before the body
    /// is handed to hyper; the cache is not probed again here.
    pub(crate) fn prefetch(&mut self) -> io::Result<()> {
        let Some(Segment::Slice(range)) = self.segments.front_mut() else {
            return Ok(());
        };
        let (offset, n) = take_chunk(range);
        if range.is_empty() {
            self.segments.pop_front();
        }
        let data = read_chunk(&self.file, &mut self.buf, offset, n)?;
        self.segments.push_front(Segment::Bytes(data));
        Ok(())
    }

    /// Whether [`FileStream::prefetch`] would read anything: the stream starts with a file
    /// slice whose first chunk is not in the page cache. Does not block.
    pub(crate) fn wants_prefetch(&self) -> bool {
        let Some(Segment::Slice(range)) = self.segments.front() else {
            return false;
        };
        let (offset, n) = peek_chunk(range);
        !(self.try_nowait && matches!(is_cached(&self.file, offset, n), Ok(true)))
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            if let Some(reading) = &mut self.reading {
                let result = ready!(Pin::new(reading).poll(cx));
                self.reading = None;
                let (buf, data) = match result {
                    Ok(Ok(read)) => read,
                    Ok(Err(e)) => return Poll::Ready(Some(Err(e))),
                    Err(join) => return Poll::Ready(Some(Err(io::Error::other(join)))),
                };
                self.buf = buf;
                self.remaining -= data.len() as u64;
                return Poll::Ready(Some(Ok(data)));
            }
            match self.segments.front_mut() {
                None => return Poll::Ready(None),
                Some(Segment::Bytes(_)) => {
                    let Some(Segment::Bytes(data)) = self.segments.pop_front() else {
                        unreachable!("front was Bytes");
                    };
                    self.remaining -= data.len() as u64;
                    return Poll::Ready(Some(Ok(data)));
                }
                Some(Segment::Slice(range)) => {
                    if let Some(pending) = &self.sendfile
                        && self.try_nowait
                    {
                        let n = (range.end - range.start).min(SPAN as u64);
                        // n <= SPAN, which fits in usize.
                        let n = usize::try_from(n).unwrap_or(SPAN);
                        match is_cached(&self.file, range.start, n) {
                            Ok(true) => {
                                let placeholder = pending.push(&self.file, range.start, n);
                                range.start += n as u64;
                                if range.is_empty() {
                                    self.segments.pop_front();
                                }
                                self.remaining -= n as u64;
                                return Poll::Ready(Some(Ok(placeholder)));
                            }
                            Ok(false) => {}
                            Err(_) => self.try_nowait = false,
                        }
                    }
                    if self.try_nowait {
                        let (offset, n) = peek_chunk(range);
                        match read_cached(&self.file, &mut self.buf, offset, n) {
                            Ok(Some(data)) => {
                                range.start += data.len() as u64;
                                if range.is_empty() {
                                    self.segments.pop_front();
                                }
                                self.remaining -= data.len() as u64;
                                return Poll::Ready(Some(Ok(data)));
                            }
                            Ok(None) => {}
                            Err(_) => self.try_nowait = false,
                        }
                    }
                    let (offset, n) = take_chunk(range);
                    if range.is_empty() {
                        self.segments.pop_front();
                    }
                    let file = Arc::clone(&self.file);
                    let mut buf = std::mem::take(&mut self.buf);
                    self.reading = Some(tokio::task::spawn_blocking(move || {
                        let data = read_chunk(&file, &mut buf, offset, n)?;
                        Ok((buf, data))
                    }));
                }
            }
        }
    }
}

/// The next chunk of `range`: (offset, length of at most [`CHUNK`]).
fn peek_chunk(range: &Range<u64>) -> (u64, usize) {
    let n = (range.end - range.start).min(CHUNK as u64);
    // n <= CHUNK, which fits in usize.
    (range.start, usize::try_from(n).unwrap_or(CHUNK))
}

/// Takes the next chunk off the front of `range`: returns (offset, length).
fn take_chunk(range: &mut Range<u64>) -> (u64, usize) {
    let (offset, n) = peek_chunk(range);
    range.start += n as u64;
    (offset, n)
}

/// Reads what of `offset..offset + n` is in the page cache, without blocking:
/// `Ok(Some(bytes))` with at least one byte, `Ok(None)` if nothing could be read at once
/// (not cached, or end of file: the blocking path reports that), `Err` if the file system
/// does not support `RWF_NOWAIT` at all.
fn read_cached(
    file: &File,
    buf: &mut BytesMut,
    offset: u64,
    n: usize,
) -> io::Result<Option<Bytes>> {
    buf.clear();
    buf.reserve(n);
    buf.resize(n, 0);
    let mut slices = [io::IoSliceMut::new(&mut buf[..])];
    match rustix::io::preadv2(
        file,
        &mut slices,
        offset,
        rustix::io::ReadWriteFlags::NOWAIT,
    ) {
        Ok(0) => Ok(None),
        Ok(read) => {
            buf.truncate(read);
            Ok(Some(buf.split().freeze()))
        }
        Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether the first and last pages of `offset..offset + n` (`n > 0`) are in the page cache,
/// probed with one-byte `RWF_NOWAIT` reads; `Err` if the file system cannot tell. Pages in
/// between are assumed cached too (readahead and eviction work on whole runs of pages); if
/// one is not, sendfile blocks for that read, as nginx's does.
fn is_cached(file: &File, offset: u64, n: usize) -> io::Result<bool> {
    let mut byte = [0u8; 1];
    for at in [offset, offset + n as u64 - 1] {
        let mut slices = [io::IoSliceMut::new(&mut byte)];
        match rustix::io::preadv2(file, &mut slices, at, rustix::io::ReadWriteFlags::NOWAIT) {
            Ok(1) => {}
            Ok(_) | Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Reads exactly `n` bytes at `offset` into `buf` (reusing its allocation when no one else
/// holds it) and splits them off as `Bytes`. A file that shrank since it was opened is an
/// `UnexpectedEof` error: the Content-Length already sent cannot be honoured, so the
/// connection must be cut rather than the body padded.
fn read_chunk(file: &File, buf: &mut BytesMut, offset: u64, n: usize) -> io::Result<Bytes> {
    buf.clear();
    buf.reserve(n);
    buf.resize(n, 0);
    file.read_exact_at(&mut buf[..], offset)?;
    Ok(buf.split().freeze())
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        let next = match &mut this.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Bytes(bytes) => Poll::Ready(bytes.take().map(Ok)),
            Kind::File(stream) => stream.poll_next(cx),
            Kind::Stream(stream) => stream.poll_next(cx),
        };
        if let (Poll::Ready(Some(Ok(data))), Some(log)) = (&next, &mut this.log) {
            log.last = data.len() as u64;
            log.sent += log.last;
        }
        next.map(|next| next.map(|chunk| chunk.map(Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Bytes(bytes) => bytes.is_none(),
            Kind::File(stream) => stream.remaining == 0 && stream.reading.is_none(),
            Kind::Stream(stream) => stream.remaining == 0,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Bytes(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Kind::File(stream) => SizeHint::with_exact(stream.remaining),
            Kind::Stream(stream) => SizeHint::with_exact(stream.remaining),
        }
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Some(log) = self.log.take() {
            let done = http_body::Body::is_end_stream(self);
            let sent = if done { log.sent } else { log.sent - log.last };
            log.record.emit(sent);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use http_body_util::BodyExt;

    use super::*;

    fn file_with(content: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(content).unwrap();
        f
    }

    async fn collect(body: Body) -> Vec<u8> {
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn streams_segments_in_order_across_chunks() {
        let content: Vec<u8> = (0..3 * CHUNK + 17).map(|i| (i % 251) as u8).collect();
        let segments = vec![
            Segment::Bytes(Bytes::from_static(b"<head>")),
            Segment::Slice(1..(2 * CHUNK as u64 + 5)),
            Segment::Bytes(Bytes::from_static(b"<mid>")),
            Segment::Slice(0..0),
            Segment::Slice(content.len() as u64 - 3..content.len() as u64),
        ];
        let mut want = b"<head>".to_vec();
        want.extend_from_slice(&content[1..2 * CHUNK + 5]);
        want.extend_from_slice(b"<mid>");
        want.extend_from_slice(&content[content.len() - 3..]);

        let stream = FileStream::new(file_with(&content), segments);
        assert_eq!(stream.remaining, want.len() as u64);
        let body = Body::file(stream);
        assert_eq!(
            http_body::Body::size_hint(&body).exact(),
            Some(want.len() as u64)
        );
        assert_eq!(collect(body).await, want);
    }

    #[tokio::test]
    async fn prefetch_keeps_the_content_identical() {
        let content: Vec<u8> = (0..CHUNK + 100).map(|i| (i % 13) as u8).collect();
        let mut stream = FileStream::new(
            file_with(&content),
            vec![Segment::Slice(0..content.len() as u64)],
        );
        stream.prefetch().unwrap();
        assert_eq!(collect(Body::file(stream)).await, content);
    }

    #[tokio::test]
    async fn a_file_that_shrank_is_an_error_not_padding() {
        let stream = FileStream::new(file_with(b"short"), vec![Segment::Slice(0..100)]);
        let err = Body::file(stream).collect().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}

#[cfg(test)]
mod nowait_tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn cached_reads_return_the_right_bytes() {
        let content: Vec<u8> = (0..CHUNK + 10).map(|i| (i % 7) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&content).unwrap();
        let mut buf = BytesMut::new();
        match read_cached(&f, &mut buf, 5, CHUNK) {
            // Just written, so in the page cache.
            Ok(Some(data)) => assert_eq!(&data[..], &content[5..5 + data.len()]),
            Ok(None) => {}
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP), "{e}"),
        }
        // Past the end: nothing, and the blocking path reports the short file.
        assert!(matches!(
            read_cached(&f, &mut buf, 1 << 30, 10),
            Ok(None) | Err(_)
        ));
    }
}

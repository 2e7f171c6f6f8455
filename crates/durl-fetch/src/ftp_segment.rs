//! Reading FTP data connections: one segment of a split download ([`fetch`]), and the
//! checks both a segment and a single stream make against `SIZE` at the end of a transfer.
//!
//! A segment has its own control connection: login, `SIZE` and `MDTM` (the same version as
//! the one being fetched, as `If-Range` proves it for HTTP), `REST <start>` + `RETR`, then
//! exactly the segment's bytes. FTP cannot ask for a range's end, so once the segment has
//! arrived the data connection is closed, and the control connection with it; the server
//! sees an aborted transfer (RFC 959 §3.3: closing the data connection ends it).

use bytes::{Bytes, BytesMut};
use suppaftp::FtpResult;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::Error;
use crate::events::RestartReason;
use crate::ftp::{CHUNK, REST_REFUSED, Target, connect, probe, timed};
use crate::segments::{Slot, Split};

/// Fetches the rest of `slot` over a new control connection.
pub(crate) async fn fetch(
    split: &Split<'_>,
    target: &Target,
    slot: &Slot,
    tx: &mpsc::Sender<(u64, Bytes)>,
) -> Result<Option<RestartReason>, Error> {
    let req = split.req;
    let stall = req.stall_timeout;
    let len = split.state.length.expect("split downloads need a length");
    let mut session = connect(target, req).await?;
    // RFC 3659 §4 (SIZE) and §3 (MDTM) on every connection: a file replaced while the
    // segments run is noticed before any of its bytes are written.
    let remote = probe(target, req, &mut session.ftp).await?;
    if remote.size != Some(len) || remote.mdtm != split.state.validators.last_modified {
        return Ok(Some(RestartReason::RemoteChanged));
    }
    let start = slot.remaining().start;
    if start > 0 {
        // RFC 3659 §5: suppaftp sends `REST` right before `RETR`, after `EPSV`/`PASV`, as
        // §5.3 requires. Never fails: a refusal is the RETR's error.
        let _ = session.ftp.resume_transfer(start as usize).await;
    }
    let retr = session.ftp.retr_as_stream(&target.path);
    let mut stream = match timed(target, stall, "RETR", retr).await {
        Ok(stream) => stream,
        Err(Error::Ftp { code, .. }) if start > 0 && REST_REFUSED.contains(&code) => {
            return Ok(Some(RestartReason::ResumeRefused));
        }
        Err(e) => return Err(e),
    };
    let mut at = start;
    let chunk_size = chunk_size(split.limiter.is_some());
    loop {
        // The slot's end moves down when another connection takes over half of it.
        let room = slot
            .remaining()
            .end
            .saturating_sub(at)
            .min(chunk_size as u64) as usize;
        if room == 0 {
            break;
        }
        let (chunk, read) = fill(target, stall, &mut stream, room).await;
        if chunk.is_empty() {
            read?;
            return Err(ended_early(target, stall, stream.finish(), len, at).await);
        }
        let more = split.deliver(&mut at, chunk, slot, tx).await;
        read?;
        if !more {
            break;
        }
    }
    if slot.remaining().is_empty() && at == len {
        nothing_follows(target, stall, &mut stream, len).await?;
    }
    // Dropping the stream closes the data connection: the segment is complete, or the
    // download is over.
    drop(stream);
    Ok(None)
}

/// How much one chunk from the data connection holds: [`CHUNK`], or less under a rate limit
/// so that the limit paces the transfer smoothly rather than in bursts.
pub(crate) fn chunk_size(limited: bool) -> usize {
    if limited { 16 << 10 } else { CHUNK }
}

/// Reads from the data connection until `room` bytes have arrived or it ends (the stall
/// timeout applies to every read). The bytes become one chunk for the writer without being
/// copied; an empty chunk means the connection ended. A read that fails still hands over
/// the bytes that arrived before it, so that a retry does not fetch them again.
pub(crate) async fn fill(
    target: &Target,
    stall: std::time::Duration,
    stream: &mut (impl AsyncRead + Unpin),
    room: usize,
) -> (Bytes, Result<(), Error>) {
    let mut buf = BytesMut::with_capacity(room);
    while buf.len() < room {
        let mut limited = (&mut *stream).take((room - buf.len()) as u64);
        let failed = match tokio::time::timeout(stall, limited.read_buf(&mut buf)).await {
            Ok(Ok(0)) => break,
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => target.connection_error(e),
            Err(_) => target.stalled(stall),
        };
        return (buf.freeze(), Err(failed));
    }
    (buf.freeze(), Ok(()))
}

/// One read from the data connection, with the stall timeout.
pub(crate) async fn read(
    target: &Target,
    stall: std::time::Duration,
    stream: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
) -> Result<usize, Error> {
    match tokio::time::timeout(stall, stream.read(buf)).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(target.connection_error(e)),
        Err(_) => Err(target.stalled(stall)),
    }
}

/// After the last byte `SIZE` announced: the data connection must end there. A byte more
/// means `SIZE` lied (or the file grew), and the bytes already written do not make up the
/// file: an error, never a completed download.
pub(crate) async fn nothing_follows(
    target: &Target,
    stall: std::time::Duration,
    stream: &mut (impl AsyncRead + Unpin),
    size: u64,
) -> Result<(), Error> {
    let mut probe = [0u8; 1];
    match read(target, stall, stream, &mut probe).await? {
        0 => Ok(()),
        _ => Err(Error::SizeMismatch {
            url: target.shown.clone(),
            size,
            detail: "the server sent more bytes".into(),
        }),
    }
}

/// The error for a data connection that ended at `received`, before `size`: a cut
/// (retryable, resumed from the durable offset) unless the server calls the transfer
/// complete (226, awaited by `finish`), which means `SIZE` lied or the file shrank.
pub(crate) async fn ended_early(
    target: &Target,
    stall: std::time::Duration,
    finish: impl Future<Output = FtpResult<()>>,
    size: u64,
    received: u64,
) -> Error {
    match tokio::time::timeout(stall, finish).await {
        Ok(Ok(())) => Error::SizeMismatch {
            url: target.shown.clone(),
            size,
            detail: format!("the server completed the transfer at byte {received}"),
        },
        _ => Error::ShortBody {
            url: target.shown.clone(),
            received,
            expected: size,
        },
    }
}

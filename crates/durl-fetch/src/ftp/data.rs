//! Reading an FTP data connection: chunks with the stall timeout, and the checks a transfer
//! makes against `SIZE` at its end.

use bytes::{Bytes, BytesMut};
use suppaftp::FtpResult;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::target::{CHUNK, Target};
use crate::Error;

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

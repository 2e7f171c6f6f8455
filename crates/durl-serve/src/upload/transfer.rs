//! Receiving upload data (PATCH, or POST with Creation With Upload): the body streamed to
//! the data file in the frames hyper hands us (bounded by its read buffer, never the whole
//! body), with durable checkpoints.
//!
//! * Without `Upload-Checksum`, what arrives is kept: a checkpoint (fdatasync, then the
//!   record, `store.rs`) every [`CHECKPOINT_BYTES`] or [`CHECKPOINT_INTERVAL`], and one at
//!   the end of the body, including a body cut short (Core Protocol › PATCH: "The Server
//!   SHOULD always attempt to store as much of the received data as possible").
//! * With `Upload-Checksum` the chunk is all or nothing (Checksum: on a mismatch "the
//!   uploaded chunk MUST be discarded, and the upload and its offset MUST NOT be updated"):
//!   no checkpoint until the whole body is in and verified.
//!
//! The transfer runs in a task of its own, so a connection torn down mid-body (the handler's
//! future dropped) still reaches the final checkpoint.

use std::io::SeekFrom;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use tokio::io::{AsyncSeekExt as _, AsyncWriteExt as _};
use tokio::sync::{OwnedMutexGuard, OwnedSemaphorePermit};

use super::blocking;
use super::error::UploadError;
use super::protocol::{Checksum, Hasher};
use super::store::{Info, Store, Upload};

/// Bytes received between two checkpoints at most.
pub(crate) const CHECKPOINT_BYTES: u64 = 4 << 20;

/// Time between two checkpoints at most, while data keeps arriving.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// One transfer into one upload.
#[derive(Debug)]
pub(crate) struct Job {
    /// The store holding the upload.
    pub(crate) store: Arc<Store>,
    /// The upload written to.
    pub(crate) upload: Arc<Upload>,
    /// The durable offset the data is appended at.
    pub(crate) start: u64,
    /// The upload's length once this request is done (it may announce a deferred one).
    pub(crate) length: Option<u64>,
    /// Most bytes this body may carry (up to the length or the size limit).
    pub(crate) limit: u64,
    /// The request's Content-Length, when it has one: fewer bytes means the body was cut.
    pub(crate) expected: Option<u64>,
    /// The chunk's `Upload-Checksum`.
    pub(crate) checksum: Option<Checksum>,
    /// The upload's transfer lock, held until the job ends.
    pub(crate) guard: OwnedMutexGuard<()>,
    /// The transfer slot, held until the job ends.
    pub(crate) permit: OwnedSemaphorePermit,
}

/// Receives `body` into the job's upload; the durable record afterwards. A body cut short
/// is [`UploadError::Cut`] after what arrived was kept (without a checksum).
pub(crate) async fn receive<B>(job: Job, body: B) -> Result<Info, UploadError>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    match tokio::spawn(run(job, body)).await {
        Ok(result) => result,
        Err(join) => Err(UploadError::Io(std::io::Error::other(join))),
    }
}

async fn run<B>(job: Job, mut body: B) -> Result<Info, UploadError>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    let Job {
        store,
        upload,
        start,
        length,
        limit,
        expected,
        checksum,
        guard: _guard,
        permit: _permit,
    } = job;
    let file = blocking({
        let (store, upload) = (Arc::clone(&store), Arc::clone(&upload));
        move || store.open_data(&upload)
    })
    .await?;
    let mut file = tokio::fs::File::from_std(file);
    file.seek(SeekFrom::Start(start)).await?;
    let mut hasher = checksum.as_ref().map(|c| Hasher::new(c.algorithm));
    // Bytes of this body written, and how many of them are durable.
    let (mut received, mut durable) = (0u64, 0u64);
    let mut last_checkpoint = Instant::now();
    let (mut cut, mut overflow) = (false, false);
    loop {
        let data = match body.frame().await {
            None => break,
            Some(Err(e)) => {
                tracing::debug!(upload = %upload.id, error = %e, received, "upload body cut");
                cut = true;
                break;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue, // trailers: nothing we use
            },
        };
        let len = data.len() as u64;
        if received.saturating_add(len) > limit {
            overflow = true;
            break;
        }
        if let Some(hasher) = &mut hasher {
            hasher.update(&data);
        }
        file.write_all(&data).await?;
        received += len;
        if hasher.is_none()
            && (received - durable >= CHECKPOINT_BYTES
                || last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL)
        {
            file.flush().await?;
            file.sync_data().await?;
            let offset = start + received;
            blocking({
                let (store, upload) = (Arc::clone(&store), Arc::clone(&upload));
                move || store.checkpoint(&upload, offset, length)
            })
            .await?;
            durable = received;
            last_checkpoint = Instant::now();
        }
    }
    file.flush().await?;
    if expected.is_some_and(|n| received < n) {
        // The body ended early without an error (the connection went away).
        cut = true;
    }
    if overflow || (cut && checksum.is_some()) {
        // Nothing after the last checkpoint counts.
        file.set_len(start + durable).await?;
        return Err(if overflow {
            UploadError::TooLarge
        } else {
            UploadError::Cut
        });
    }
    if let (Some(checksum), Some(hasher)) = (&checksum, hasher)
        && hasher.finish() != checksum.digest
    {
        file.set_len(start).await?;
        return Err(UploadError::ChecksumMismatch);
    }
    let mut info = upload.info();
    if received > durable || length != info.length {
        file.sync_data().await?;
        let offset = start + received;
        info = blocking({
            let (store, upload) = (Arc::clone(&store), Arc::clone(&upload));
            move || store.checkpoint(&upload, offset, length)
        })
        .await?;
    }
    drop(file);
    if info.done.is_none() && info.length == Some(info.offset) {
        info = blocking({
            let (store, upload) = (Arc::clone(&store), Arc::clone(&upload));
            move || store.finish(&upload)
        })
        .await?;
    }
    if cut {
        return Err(UploadError::Cut);
    }
    Ok(info)
}

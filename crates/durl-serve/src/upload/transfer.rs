//! Receiving upload data (PATCH, or POST with Creation With Upload) on three threads that
//! overlap: the body's frames go through a short queue to a writer thread, which hashes
//! them and writes them in batches of up to [`WRITE_BATCH`] (one vectored write each); every
//! [`CHECKPOINT_BYTES`] or [`CHECKPOINT_INTERVAL`] it asks a sync thread to make the bytes
//! written so far durable, and goes on writing meanwhile (requests that pile up while a sync
//! runs become one). Memory stays bounded by the queue and hyper's read buffer, never the
//! whole body.
//!
//! * Without `Upload-Checksum`, what arrives is kept: after each sync (fdatasync of the bytes
//!   written before it began) the record is replaced (`store.rs`), and at the end of the
//!   body, including a body cut short, a last checkpoint (Core Protocol › PATCH: "The Server
//!   SHOULD always attempt to store as much of the received data as possible").
//! * With `Upload-Checksum` the chunk is all or nothing (Checksum: on a mismatch "the
//!   uploaded chunk MUST be discarded, and the upload and its offset MUST NOT be updated"):
//!   the data is synced on the same schedule (so that the sync at the end has little left
//!   to do) but the record only changes once the whole body is in and verified.
//!
//! The transfer runs in a task of its own, so a connection torn down mid-body (the handler's
//! future dropped) still reaches the final checkpoint.

use std::fs::File;
use std::io::{self, IoSlice, Seek as _, SeekFrom, Write as _};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedMutexGuard, mpsc};

use super::error::UploadError;

use super::pace::{Next, Pace};
use super::protocol::{Checksum, Hasher};
use super::store::{Info, Store, Upload, blocking};

/// Bytes written between two sync requests (and, without a checksum, checkpoints).
pub(crate) const CHECKPOINT_BYTES: u64 = 1 << 20;

/// Time between two sync requests at most, while data keeps arriving.
pub(crate) const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Most bytes the writer gathers from the queue into one write.
const WRITE_BATCH: usize = 1 << 20;

/// Most frames in one write (below every system's `IOV_MAX`).
const MAX_SLICES: usize = 256;

/// Frames received but not yet written, at most (hyper's frames are at most its read
/// buffer, so this bounds the memory of one transfer to a few MiB).
const QUEUE: usize = 32;

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
    /// The transfer slot (global and the client's share), held until the job ends.
    pub(crate) permit: super::backend::TransferSlot,
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
    let writer = Writer {
        store: Arc::clone(&store),
        upload: Arc::clone(&upload),
        start,
        length,
        file,
        hasher: checksum.as_ref().map(|c| Hasher::new(c.algorithm)),
    };
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    let writing = tokio::task::spawn_blocking(move || writer.run(rx));
    let mut received = 0u64;
    let (mut cut, mut overflow, mut slow) = (false, false, false);
    // The rate floor (pace.rs): a body slower than `min_rate` over a window is cut (408), so
    // a trickling client cannot hold its transfer slot at a byte every few seconds.
    let mut pace = Pace::new(store.settings.min_rate, store.settings.rate_window);
    loop {
        let data = match pace.next(&mut body).await {
            Next::Data(data) => data,
            Next::End => break,
            Next::Cut => {
                tracing::debug!(upload = %upload.id, received, "upload body cut");
                cut = true;
                break;
            }
            Next::Slow => {
                tracing::debug!(upload = %upload.id, received, "upload body below the rate floor");
                (cut, slow) = (true, true);
                break;
            }
        };
        let len = data.len() as u64;
        if received.saturating_add(len) > limit {
            overflow = true;
            break;
        }
        received += len;
        if tx.send(data).await.is_err() {
            break; // the writer failed: its error is below
        }
    }
    drop(tx);
    let written = match writing.await {
        Ok(result) => result?,
        Err(join) => return Err(UploadError::Io(std::io::Error::other(join))),
    };
    // Out of space: like a body cut short (what arrived is kept), answered 507.
    let full = written.no_space;
    cut |= full;
    if expected.is_some_and(|n| received < n) {
        // The body ended early without an error (the connection went away).
        cut = true;
    }
    let end = End {
        checksum,
        cut,
        overflow,
    };
    let concluded = blocking(move || written.conclude(&store, &upload, end)).await?;
    match concluded {
        // What arrived is kept (as for any cut body); the answer says why it was cut.
        Ok(_) | Err(UploadError::Cut) if full => Err(UploadError::InsufficientStorage),
        Ok(_) | Err(UploadError::Cut) if slow => Err(UploadError::TooSlow),
        other => other,
    }
}

/// The writer thread's side of a transfer.
struct Writer {
    store: Arc<Store>,
    upload: Arc<Upload>,
    start: u64,
    length: Option<u64>,
    file: File,
    /// Present when the body has an `Upload-Checksum`: nothing is recorded before the end.
    hasher: Option<Hasher>,
}

/// What the writer did, for the end of the transfer.
struct Written {
    start: u64,
    length: Option<u64>,
    file: File,
    /// Bytes of this body written.
    received: u64,
    /// How many of them the record counts.
    recorded: u64,
    hasher: Option<Hasher>,
    /// The writer stopped because the next bytes could not be promised disk space.
    no_space: bool,
}

/// How the body ended.
struct End {
    checksum: Option<Checksum>,
    cut: bool,
    overflow: bool,
}

impl Writer {
    /// Writes what comes from `rx` until it closes, having the bytes synced (and
    /// checkpointed) on the way by a [`Syncer`]. Blocks: runs on a thread of the blocking
    /// pool.
    fn run(mut self, mut rx: mpsc::Receiver<Bytes>) -> io::Result<Written> {
        self.file.seek(SeekFrom::Start(self.start))?;
        let syncer = Syncer {
            store: Arc::clone(&self.store),
            upload: Arc::clone(&self.upload),
            start: self.start,
            length: self.length,
            file: self.file.try_clone()?,
            record: self.hasher.is_none(),
        }
        .spawn()?;
        let (mut received, mut requested) = (0u64, 0u64);
        let mut last_request = Instant::now();
        let mut batch = Vec::with_capacity(MAX_SLICES);
        let (mut failed, mut no_space) = (None, false);
        while let Some(first) = rx.blocking_recv() {
            let mut size = first.len();
            batch.push(first);
            while size < WRITE_BATCH && batch.len() < MAX_SLICES {
                let Ok(more) = rx.try_recv() else { break };
                size += more.len();
                batch.push(more);
            }
            // The space for these bytes is promised first (space.rs): a body that would
            // eat into the reserve stops here, what was written before it is kept.
            match self.store.before_write(&self.upload, size as u64) {
                Ok(true) => {}
                Ok(false) => {
                    no_space = true;
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
            if let Some(hasher) = &mut self.hasher {
                batch.iter().for_each(|b| hasher.update(b));
            }
            let wrote = write_all(&mut self.file, &batch);
            self.store.written(&self.upload, size as u64);
            if let Err(e) = wrote {
                failed = Some(e);
                break;
            }
            batch.clear();
            received += size as u64;
            if received - requested >= CHECKPOINT_BYTES
                || last_request.elapsed() >= CHECKPOINT_INTERVAL
            {
                if syncer.ask.send(received).is_err() {
                    break; // the sync failed: its error is below
                }
                requested = received;
                last_request = Instant::now();
            }
        }
        let recorded = syncer.finish()?;
        if let Some(e) = failed {
            return Err(e);
        }
        Ok(Written {
            start: self.start,
            length: self.length,
            file: self.file,
            received,
            recorded,
            hasher: self.hasher,
            no_space,
        })
    }
}

/// Makes written bytes durable on a thread of its own, so that the writer never waits for
/// the disk: fdatasync, then (without a checksum) the record, for the bytes the writer had
/// written when it asked (the durability rule of `store.rs`).
struct Syncer {
    store: Arc<Store>,
    upload: Arc<Upload>,
    start: u64,
    length: Option<u64>,
    /// The data file (a second handle).
    file: File,
    /// Whether a sync is followed by a checkpoint.
    record: bool,
}

/// A running [`Syncer`].
struct Syncing {
    /// "Bytes of the body written so far": each a request to sync them.
    ask: std_mpsc::Sender<u64>,
    thread: std::thread::JoinHandle<io::Result<u64>>,
}

impl Syncer {
    fn spawn(self) -> io::Result<Syncing> {
        let (ask, asked) = std_mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("durl-upload-sync".into())
            .spawn(move || self.run(&asked))?;
        Ok(Syncing { ask, thread })
    }

    /// Serves requests until the writer hangs up; the bytes recorded.
    fn run(self, asked: &std_mpsc::Receiver<u64>) -> io::Result<u64> {
        let mut recorded = 0;
        while let Ok(mut written) = asked.recv() {
            // Requests that came in during the last sync: the latest covers them all.
            written = asked.try_iter().last().unwrap_or(written);
            self.file.sync_data()?;
            if self.record {
                let offset = self.start + written;
                self.store.checkpoint(&self.upload, offset, self.length)?;
                recorded = written;
            }
        }
        Ok(recorded)
    }
}

impl Syncing {
    /// Waits for the sync under way, if any; the bytes recorded.
    fn finish(self) -> io::Result<u64> {
        drop(self.ask);
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => Err(io::Error::other("the upload sync thread panicked")),
        }
    }
}

impl Written {
    /// The end of a transfer: the final checkpoint, or cutting back what does not count;
    /// the move to the final name once complete. Blocks.
    fn conclude(
        self,
        store: &Store,
        upload: &Upload,
        end: End,
    ) -> io::Result<Result<Info, UploadError>> {
        let start = self.start;
        if end.overflow || (end.cut && end.checksum.is_some()) {
            // Nothing after the last checkpoint counts.
            self.file.set_len(start + self.recorded)?;
            return Ok(Err(if end.overflow {
                UploadError::TooLarge
            } else {
                UploadError::Cut
            }));
        }
        if let (Some(checksum), Some(hasher)) = (&end.checksum, self.hasher)
            && hasher.finish() != checksum.digest
        {
            self.file.set_len(start)?;
            return Ok(Err(UploadError::ChecksumMismatch));
        }
        let mut info = upload.info();
        if self.received > self.recorded || self.length != info.length {
            self.file.sync_data()?;
            info = store.checkpoint(upload, start + self.received, self.length)?;
        }
        drop(self.file);
        if info.done.is_none() && info.length == Some(info.offset) {
            match store.finish(upload) {
                Ok(finished) => info = finished,
                Err(e) => return Ok(Err(e)),
            }
        }
        Ok(if end.cut {
            Err(UploadError::Cut)
        } else {
            Ok(info)
        })
    }
}

/// Writes all of `bufs` with vectored writes.
fn write_all(file: &mut File, bufs: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_written_whole_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut file = File::create(&path).unwrap();
        let bufs: Vec<Bytes> = (0..300u32)
            .map(|i| Bytes::from(vec![(i % 251) as u8; 1 + (i as usize * 37) % 5000]))
            .collect();
        write_all(&mut file, &bufs[..MAX_SLICES]).unwrap();
        write_all(&mut file, &bufs[MAX_SLICES..]).unwrap();
        drop(file);
        assert_eq!(std::fs::read(&path).unwrap(), bufs.concat());
    }

    fn store(base: &std::path::Path) -> Arc<Store> {
        let root = base.join("www");
        std::fs::create_dir(&root).unwrap();
        let settings = crate::config::UploadSettings {
            dir: Some(base.join("up")),
            ..Default::default()
        };
        Arc::new(Store::open(&std::fs::canonicalize(root).unwrap(), settings).unwrap())
    }

    #[test]
    fn the_syncer_records_the_bytes_written_when_asked_and_never_under_a_checksum() {
        let base = tempfile::tempdir().unwrap();
        let store = store(base.path());
        for record in [true, false] {
            let upload = store
                .create(Some(100), String::new(), None, Default::default())
                .unwrap();
            let mut file = store.open_data(&upload).unwrap();
            file.write_all(&[7; 60]).unwrap();
            let syncing = Syncer {
                store: Arc::clone(&store),
                upload: Arc::clone(&upload),
                start: 0,
                length: Some(100),
                file: file.try_clone().unwrap(),
                record,
            }
            .spawn()
            .unwrap();
            for written in [10, 40, 60] {
                syncing.ask.send(written).unwrap();
            }
            // Written after the last request: never counted by it.
            file.write_all(&[8; 20]).unwrap();
            let recorded = syncing.finish().unwrap();
            let want = if record { 60 } else { 0 };
            assert_eq!((recorded, upload.info().offset), (want, want), "{record}");
        }
    }
}

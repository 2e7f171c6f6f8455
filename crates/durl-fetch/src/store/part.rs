//! The part file (`<out>.durl-part`) and its checkpoints.
//!
//! One writer thread owns the writes: the download hands it chunks (positional writes, so
//! several connections can share it later) through a bounded channel, which gives
//! back-pressure and lets reading the socket overlap with writing the disk. A checkpoint is an
//! operation in the same queue, so it covers exactly the writes queued before it: the writer
//! fsyncs the data (`sync_data`) on a helper thread while later writes go on, and only then
//! replaces the state file. So the state file never claims a byte that is not durable, and
//! the network path never waits for the disk.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::Error;
use crate::download::ranges::RangeSet;
use crate::store::journal::State;

/// What a part file gives back after a failed write to make room for its state on a full
/// disk: the end of its last written range, rounded down to a block boundary.
const GIVE_BACK: u64 = 64 << 10;

/// Chunks queued between the download and the writer thread. Chunks are at most a few
/// hundred KiB, so this bounds the memory in flight to a few tens of MiB.
const QUEUE: usize = 16;

/// A request to the writer thread, handled in order.
enum Op {
    /// Write `data` at `offset`.
    Write { offset: u64, data: Bytes },
    /// Make every write queued so far durable, then store `state`. Without `reply` it runs
    /// in the background (skipped into the next one if a checkpoint is still running); with
    /// `reply` it completes before the reply.
    Checkpoint {
        state: State,
        reply: Option<oneshot::Sender<io::Result<()>>>,
    },
    /// Reply once every earlier write and checkpoint has finished.
    Barrier { reply: oneshot::Sender<()> },
}

/// What the writer thread reports back.
#[derive(Debug, Default)]
struct Shared {
    failed: AtomicBool,
    /// The first failure; every caller gets a copy of it (its OS error included).
    error: Mutex<Option<io::Error>>,
    /// The last state stored by a completed checkpoint.
    durable: Mutex<Option<State>>,
    /// The ranges written without error (held from the start, and each write that
    /// succeeded): what a checkpoint after a failed write can still claim, once synced.
    written: Mutex<RangeSet>,
}

impl Shared {
    fn fail(&self, e: io::Error) {
        let mut slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
        self.failed.store(true, Ordering::Release);
    }

    /// A copy of the first failure: the same OS error for every caller, never a vague
    /// "an earlier write failed" after the first.
    fn error(&self) -> io::Error {
        let slot = self.error.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(e) => match e.raw_os_error() {
                Some(code) => io::Error::from_raw_os_error(code),
                None => io::Error::new(e.kind(), e.to_string()),
            },
            None => io::Error::other("the writer stopped"),
        }
    }

    fn set_written(&self, have: RangeSet) {
        *self.written.lock().unwrap_or_else(|p| p.into_inner()) = have;
    }
}

/// The locked part file, its writer thread, and the state that describes it.
#[derive(Debug)]
pub(crate) struct PartFile {
    path: PathBuf,
    state_path: PathBuf,
    file: Arc<File>,
    tx: Option<mpsc::Sender<Op>>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// The bytes handed to the writer so far.
    have: RangeSet,
    /// The state to record at the next checkpoint (its `durable` is filled in then).
    template: Option<State>,
    last_checkpoint: Instant,
    /// `have.total()` when the last checkpoint was queued.
    checkpoint_total: u64,
    interval: Duration,
    interval_bytes: u64,
}

impl PartFile {
    /// Opens (creating if needed) and locks the part file. Another process holding the lock
    /// gives [`Error::Locked`].
    pub(crate) fn open_locked(
        path: &Path,
        state_path: &Path,
        dest: &Path,
        interval: Duration,
        interval_bytes: u64,
    ) -> Result<PartFile, Error> {
        // Never through a link or into a device or FIFO planted under the part file's name
        // (a directory others can write is enough for that).
        let file = crate::store::durable::open_regular(path)
            .map_err(Error::io("cannot open", path))?
            .map_err(|found| Error::NotRegularFile {
                path: path.to_owned(),
                found,
            })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Locked {
                    path: dest.to_owned(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io("cannot lock", path)(e));
            }
        }
        let file = Arc::new(file);
        let shared = Arc::new(Shared::default());
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("durl-writer".into())
            .spawn({
                let file = file.clone();
                let shared = shared.clone();
                let state_path = state_path.to_owned();
                move || writer(rx, &file, &shared, &state_path)
            })
            .map_err(Error::io("cannot start the writer for", path))?;
        Ok(PartFile {
            path: path.to_owned(),
            state_path: state_path.to_owned(),
            file,
            tx: Some(tx),
            thread: Some(thread),
            shared,
            have: RangeSet::new(),
            template: None,
            last_checkpoint: Instant::now(),
            checkpoint_total: 0,
            interval,
            interval_bytes,
        })
    }

    /// The part file's current length on disk.
    pub(crate) fn disk_len(&self) -> Result<u64, Error> {
        self.file
            .metadata()
            .map(|m| m.len())
            .map_err(Error::io("cannot read", &self.path))
    }

    /// How many leading bytes have been written (where a single stream continues).
    pub(crate) fn written(&self) -> u64 {
        self.have.prefix_end()
    }

    /// Every byte range written so far (durable or not yet).
    pub(crate) fn have(&self) -> &RangeSet {
        &self.have
    }

    /// The current state (validators, length; `have` as of the last checkpoint).
    pub(crate) fn state(&self) -> Option<State> {
        let mut state = self.template.clone()?;
        state.have = self.durable_set();
        Some(state)
    }

    fn durable_set(&self) -> RangeSet {
        self.shared
            .durable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|s| s.have.clone())
            .unwrap_or_default()
    }

    fn io_error(&self, op: &'static str) -> Error {
        Error::io(op, &self.path)(self.shared.error())
    }

    async fn send(&self, op: Op) -> Result<(), Error> {
        let tx = self.tx.as_ref().expect("writer runs until finish()");
        if tx.send(op).await.is_err() {
            return Err(self.io_error("cannot write"));
        }
        Ok(())
    }

    /// Waits until the writer has finished everything queued so far.
    async fn barrier(&self) -> Result<(), Error> {
        let (reply, done) = oneshot::channel();
        self.send(Op::Barrier { reply }).await?;
        let _ = done.await;
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(self.io_error("cannot write"));
        }
        Ok(())
    }

    /// Starts from `state`: keeps its durable ranges (bytes after the last one were never
    /// recorded and are dropped) and records the state. An empty `have` starts afresh.
    pub(crate) async fn begin(&mut self, state: State) -> Result<(), Error> {
        self.barrier().await?;
        // Record the new state before touching the data: the state never claims bytes the
        // file does not hold, whichever of the two steps a crash interrupts. A state that
        // knows nothing (no byte, no length, no version) need not exist at all, so a
        // restart only removes an older one. Once an answer told the length and version,
        // the state is written before the first body byte: a partial always has its state,
        // even when the disk fills before the first checkpoint.
        if state.have.is_empty() && state.length.is_none() && state.version.is_empty() {
            crate::store::durable::remove(&self.state_path)
                .map_err(Error::io("cannot remove", &self.state_path))?;
            crate::store::mark::clear_first(&self.path);
        } else if state.have.is_empty() && std::fs::symlink_metadata(&self.state_path).is_err() {
            // A fresh download's first state claims no byte: a crash that loses it costs
            // nothing, so it needs no fsync (three per file, which a list of small files
            // felt), and it goes on the part file itself where the file system allows (no
            // state file created and deleted per file: `mark::set_first`). One that replaces
            // an older state (a restart) stays durable: the older one must never come back
            // claiming bytes.
            if !crate::store::mark::set_first(&self.path, &state) {
                state
                    .store_unsynced(&self.state_path)
                    .map_err(Error::io("cannot write", &self.state_path))?;
            }
        } else {
            state
                .store(&self.state_path)
                .map_err(Error::io("cannot write", &self.state_path))?;
        }
        self.file
            .set_len(state.have.end())
            .map_err(Error::io("cannot truncate", &self.path))?;
        self.have = state.have.clone();
        self.shared.set_written(state.have.clone());
        self.checkpoint_total = state.have.total();
        self.last_checkpoint = Instant::now();
        *self
            .shared
            .durable
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(state.clone());
        self.template = Some(state);
        Ok(())
    }

    /// Makes the existing file `existing` (already checked against the server) the part
    /// file: the state claiming its bytes is written first, then the file is renamed over the
    /// (empty, locked) part file and locked in its place. A crash in between leaves
    /// `existing` untouched and a state the next run refuses (its part file is too short).
    pub(crate) async fn adopt(&mut self, existing: &Path, state: State) -> Result<(), Error> {
        self.barrier().await?;
        state
            .store(&self.state_path)
            .map_err(Error::io("cannot write", &self.state_path))?;
        crate::store::durable::rename(existing, &self.path)
            .map_err(Error::io("cannot rename", existing))?;
        let mut adopted = Self::open_locked(
            &self.path,
            &self.state_path,
            existing,
            self.interval,
            self.interval_bytes,
        )?;
        adopted.have = state.have.clone();
        adopted.shared.set_written(state.have.clone());
        adopted.checkpoint_total = state.have.total();
        *adopted
            .shared
            .durable
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(state.clone());
        adopted.template = Some(state);
        std::mem::replace(self, adopted).stop();
        Ok(())
    }

    /// The bytes `range` of the part file as written so far (every queued write first
    /// reaches the file).
    pub(crate) async fn read_at(&self, range: std::ops::Range<u64>) -> Result<Bytes, Error> {
        self.barrier().await?;
        let mut buf = vec![0; (range.end - range.start) as usize];
        self.file
            .read_exact_at(&mut buf, range.start)
            .map_err(Error::io("cannot read", &self.path))?;
        Ok(Bytes::from(buf))
    }

    /// Records the remote length once it becomes known (from a 206 or 416 after a body of
    /// unknown length). It reaches the state file with the next checkpoint.
    pub(crate) fn set_length(&mut self, length: Option<u64>) {
        if let Some(state) = &mut self.template {
            state.length = length;
        }
    }

    /// Records more of the version (a digest learnt from a later answer). It reaches the
    /// state file with the next checkpoint.
    pub(crate) fn set_version(&mut self, version: crate::version::Version) {
        if let Some(state) = &mut self.template {
            state.version = version;
        }
    }

    /// Writes `data` at `offset`.
    pub(crate) async fn write(&mut self, offset: u64, data: Bytes) -> Result<(), Error> {
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(self.io_error("cannot write"));
        }
        let end = offset + data.len() as u64;
        self.send(Op::Write { offset, data }).await?;
        self.have.insert(offset..end);
        Ok(())
    }

    /// Queues a checkpoint if one is due.
    pub(crate) async fn maybe_checkpoint(&mut self) -> Result<(), Error> {
        let total = self.have.total();
        let due = total - self.checkpoint_total >= self.interval_bytes
            || self.last_checkpoint.elapsed() >= self.interval;
        if due
            && total > self.checkpoint_total
            && let Some(mut state) = self.template.clone()
        {
            state.have = self.have.clone();
            self.checkpoint_total = total;
            self.last_checkpoint = Instant::now();
            self.send(Op::Checkpoint { state, reply: None }).await?;
        }
        Ok(())
    }

    /// Makes everything written so far durable and recorded (used when an attempt ends,
    /// on cancellation and before the final rename). Returns the durable byte count. After a
    /// failed write, what was written before it is synced and recorded (on a full disk after
    /// giving back the last [`GIVE_BACK`] bytes to make room for the state), so the next run
    /// continues from there; the failure itself is reported by the write that met it.
    pub(crate) async fn checkpoint_now(&mut self) -> Result<u64, Error> {
        if let Some(mut state) = self.template.clone()
            && self.durable_set() != self.have
        {
            state.have = self.have.clone();
            let (reply, done) = oneshot::channel();
            self.send(Op::Checkpoint {
                state,
                reply: Some(reply),
            })
            .await?;
            match done.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(Error::io("cannot checkpoint", &self.path)(e)),
                Err(_) => return Err(self.io_error("cannot checkpoint")),
            }
            if self.shared.failed.load(Ordering::Acquire) {
                // Salvaged: only what the state now records is held.
                self.have = self.durable_set();
            }
            self.checkpoint_total = self.have.total();
        } else {
            self.barrier().await?;
        }
        Ok(self.durable_set().total())
    }

    /// Waits for the writer, cuts the file to `length`, fsyncs the finished data and gives
    /// back the file handle (still locked).
    pub(crate) async fn finish(mut self, length: Option<u64>) -> Result<Arc<File>, Error> {
        if let Err(e) = self.barrier().await {
            // A write failed after the whole body was queued: what was written before it
            // is still recorded for the next run.
            let _ = self.checkpoint_now().await;
            return Err(e);
        }
        let file = self.file.clone();
        self.stop();
        if let Some(len) = length {
            // Bytes past the end can only be a stale tail of an older, longer version.
            file.set_len(len)
                .map_err(Error::io("cannot truncate", &self.path))?;
        }
        file.sync_all()
            .map_err(Error::io("cannot sync", &self.path))?;
        Ok(file)
    }

    /// Closes the queue and joins the writer thread.
    fn stop(&mut self) {
        self.tx = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The writer thread: performs the queued operations in order until the queue closes.
fn writer(mut rx: mpsc::Receiver<Op>, file: &Arc<File>, shared: &Shared, state_path: &Path) {
    let mut syncing: Option<JoinHandle<io::Result<State>>> = None;
    let mut pending: Option<State> = None;
    let collect = |handle: JoinHandle<io::Result<State>>| match handle
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("checkpoint panicked")))
    {
        Ok(state) => {
            *shared.durable.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
        }
        Err(e) => shared.fail(e),
    };
    let start = |state: State| {
        let file = file.clone();
        let path = state_path.to_owned();
        std::thread::spawn(move || {
            file.sync_data()?;
            state.store(&path)?;
            Ok(state)
        })
    };
    while let Some(op) = rx.blocking_recv() {
        // A background checkpoint that finished is collected, and a waiting one started.
        if syncing.as_ref().is_some_and(JoinHandle::is_finished) {
            collect(syncing.take().expect("checked"));
            if let Some(state) = pending.take() {
                syncing = Some(start(state));
            }
        }
        match op {
            Op::Write { offset, data } => {
                if shared.failed.load(Ordering::Acquire) {
                    continue;
                }
                match file.write_all_at(&data, offset) {
                    Ok(()) => shared
                        .written
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(offset..offset + data.len() as u64),
                    Err(e) => shared.fail(e),
                }
            }
            Op::Checkpoint { state, reply: None } => {
                if shared.failed.load(Ordering::Acquire) {
                    continue;
                }
                if syncing.is_some() {
                    // Runs when the current one is done; a newer one replaces it.
                    pending = Some(state);
                } else {
                    syncing = Some(start(state));
                }
            }
            Op::Checkpoint {
                state,
                reply: Some(reply),
            } => {
                if let Some(handle) = syncing.take() {
                    collect(handle);
                }
                pending = None;
                let result = if shared.failed.load(Ordering::Acquire) {
                    salvage(file, shared, state_path, state)
                } else {
                    collect(start(state));
                    if shared.failed.load(Ordering::Acquire) {
                        Err(shared.error())
                    } else {
                        Ok(())
                    }
                };
                let _ = reply.send(result);
            }
            Op::Barrier { reply } => {
                if let Some(handle) = syncing.take() {
                    collect(handle);
                }
                if let Some(state) = pending.take() {
                    collect(start(state));
                }
                let _ = reply.send(());
            }
        }
    }
    if let Some(handle) = syncing.take() {
        collect(handle);
    }
}

/// After a failed write: syncs the bytes written before it and records them in the state, so
/// that the next run continues from there instead of from byte 0. On a full disk, where even
/// the small state file finds no room, the end of the last written range is given back first.
fn salvage(file: &File, shared: &Shared, state_path: &Path, mut state: State) -> io::Result<()> {
    let mut have = shared
        .written
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    file.sync_data()?;
    state.have = have.clone();
    let stored = match state.store(state_path) {
        Err(e) if is_full(&e) => {
            have = give_back(file, &have)?;
            state.have = have.clone();
            state.store(state_path)
        }
        other => other,
    };
    stored?;
    shared.set_written(have);
    *shared.durable.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
    Ok(())
}

/// No space left (ENOSPC) or over quota (EDQUOT).
fn is_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// Frees the blocks of the last [`GIVE_BACK`] bytes of the written data, and of anything
/// after them (the part of a write that failed half-way, which no state claims), and returns
/// the ranges still held.
fn give_back(file: &File, have: &RangeSet) -> io::Result<RangeSet> {
    let Some(last) = have.ranges().last().cloned() else {
        return Ok(have.clone());
    };
    let cut = last.end.saturating_sub(GIVE_BACK) / 4096 * 4096;
    let cut = cut.max(last.start);
    file.set_len(cut)?;
    file.sync_data()?;
    let mut kept = RangeSet::new();
    for r in have.ranges() {
        let end = r.end.min(cut);
        if end > r.start {
            kept.insert(r.start..end);
        }
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn giving_back_frees_the_end_of_the_last_range_and_what_follows_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        std::fs::write(&path, vec![7u8; 300_000]).unwrap();
        let file = File::options().read(true).write(true).open(&path).unwrap();
        let mut have = RangeSet::new();
        have.insert(0..100_000);
        have.insert(150_000..300_000);
        let kept = give_back(&file, &have).unwrap();
        // 300000 - 65536 = 234464, down to a 4 KiB boundary: 233472.
        assert_eq!(kept.ranges(), &[0..100_000, 150_000..233_472]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 233_472);
        // A last range shorter than what is given back is dropped whole, never the one before.
        let mut short = RangeSet::new();
        short.insert(0..100_000);
        short.insert(200_000..233_472);
        let kept = give_back(&file, &short).unwrap();
        assert_eq!(kept.ranges(), std::slice::from_ref(&(0..100_000)));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 200_000);
        // Data past the last range (a write that failed half-way, claimed by no state) goes
        // too: a full disk gets its blocks back (it kept the state from being written).
        let mut inner = RangeSet::new();
        inner.insert(0..150_000);
        // 150000 - 65536 = 84464, down to a 4 KiB boundary: 81920.
        assert_eq!(
            give_back(&file, &inner).unwrap().ranges(),
            std::slice::from_ref(&(0..81_920))
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 81_920);
    }
}

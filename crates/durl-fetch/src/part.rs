//! The part file (`<out>.durl-part`) and its checkpoints.
//!
//! One owner writes the part file sequentially through a large buffer. A checkpoint captures
//! the written offset, fsyncs the data (`sync_data`) on a blocking thread while the download
//! goes on, and only then records that offset in the state file. So the state file never
//! claims a byte that is not durable, and the network path never waits for the disk.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::Error;
use crate::journal::State;

const WRITE_BUFFER: usize = 1 << 20;

/// The locked part file plus the state that describes it.
#[derive(Debug)]
pub(crate) struct PartFile {
    path: PathBuf,
    state_path: PathBuf,
    out: BufWriter<File>,
    /// Bytes `0..written` have been handed to `out` (some may still sit in its buffer).
    written: u64,
    /// What the state file on disk says (its `durable` is fsync'd).
    state: Option<State>,
    in_flight: Option<JoinHandle<io::Result<State>>>,
    last_checkpoint: Instant,
    checkpoint_written: u64,
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
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(Error::io("cannot open", path))?;
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
        Ok(PartFile {
            path: path.to_owned(),
            state_path: state_path.to_owned(),
            out: BufWriter::with_capacity(WRITE_BUFFER, file),
            written: 0,
            state: None,
            in_flight: None,
            last_checkpoint: Instant::now(),
            checkpoint_written: 0,
            interval,
            interval_bytes,
        })
    }

    /// The part file's current length on disk.
    pub(crate) fn disk_len(&self) -> Result<u64, Error> {
        self.out
            .get_ref()
            .metadata()
            .map(|m| m.len())
            .map_err(Error::io("cannot read", &self.path))
    }

    /// Bytes written so far (the next write goes here).
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The state last made durable, if any.
    pub(crate) fn state(&self) -> Option<&State> {
        self.state.as_ref()
    }

    /// Starts from `state`: keeps exactly its durable bytes (anything after them was never
    /// recorded and is dropped) and records the state. `state.durable == 0` starts afresh.
    pub(crate) async fn begin(&mut self, state: State) -> Result<(), Error> {
        self.settle().await?;
        // Record the new state before touching the data: the state never claims bytes the
        // file does not hold, whichever of the two steps a crash interrupts.
        state
            .store(&self.state_path)
            .map_err(Error::io("cannot write", &self.state_path))?;
        self.out
            .flush()
            .map_err(Error::io("cannot write", &self.path))?;
        let file = self.out.get_mut();
        file.set_len(state.durable)
            .map_err(Error::io("cannot truncate", &self.path))?;
        file.seek(SeekFrom::Start(state.durable))
            .map_err(Error::io("cannot seek", &self.path))?;
        self.written = state.durable;
        self.checkpoint_written = state.durable;
        self.last_checkpoint = Instant::now();
        self.state = Some(state);
        Ok(())
    }

    /// Makes the existing file `existing` (already checked against the server) the part
    /// file: the state claiming its bytes is written first, then the file is renamed over the
    /// (empty, locked) part file and locked in its place. A crash in between leaves
    /// `existing` untouched and a state the next run refuses (its part file is too short).
    pub(crate) async fn adopt(&mut self, existing: &Path, state: State) -> Result<(), Error> {
        self.settle().await?;
        state
            .store(&self.state_path)
            .map_err(Error::io("cannot write", &self.state_path))?;
        crate::durable::rename(existing, &self.path)
            .map_err(Error::io("cannot rename", existing))?;
        let mut fresh = Self::open_locked(
            &self.path,
            &self.state_path,
            existing,
            self.interval,
            self.interval_bytes,
        )?;
        fresh.state = Some(state.clone());
        fresh.written = state.durable;
        fresh.checkpoint_written = state.durable;
        fresh
            .out
            .get_mut()
            .seek(SeekFrom::Start(state.durable))
            .map_err(Error::io("cannot seek", &self.path))?;
        *self = fresh;
        Ok(())
    }

    /// Records the remote length once it becomes known (from a 206 or 416 after a body of
    /// unknown length). It reaches the state file with the next checkpoint.
    pub(crate) fn set_length(&mut self, length: Option<u64>) {
        if let Some(state) = &mut self.state {
            state.length = length;
        }
    }

    /// Appends bytes at [`written`](Self::written).
    pub(crate) fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.out
            .write_all(bytes)
            .map_err(Error::io("cannot write", &self.path))?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Starts a checkpoint in the background if one is due and none is running; collects a
    /// finished one.
    pub(crate) fn maybe_checkpoint(&mut self) -> Result<(), Error> {
        if let Some(handle) = &self.in_flight {
            if !handle.is_finished() {
                return Ok(());
            }
            let handle = self.in_flight.take().expect("checked above");
            let state = finished(handle, &self.state_path)?;
            self.state = Some(state);
        }
        let due = self.written - self.checkpoint_written >= self.interval_bytes
            || self.last_checkpoint.elapsed() >= self.interval;
        if due && self.written > self.checkpoint_written {
            self.start_checkpoint()?;
        }
        Ok(())
    }

    fn start_checkpoint(&mut self) -> Result<(), Error> {
        let Some(mut state) = self.state.clone() else {
            return Ok(());
        };
        self.out
            .flush()
            .map_err(Error::io("cannot write", &self.path))?;
        // Everything up to `written` is in the kernel now; sync_data makes it durable.
        state.durable = self.written;
        let file = self
            .out
            .get_ref()
            .try_clone()
            .map_err(Error::io("cannot write", &self.path))?;
        let state_path = self.state_path.clone();
        self.checkpoint_written = self.written;
        self.last_checkpoint = Instant::now();
        self.in_flight = Some(tokio::task::spawn_blocking(move || {
            file.sync_data()?;
            state.store(&state_path)?;
            Ok(state)
        }));
        Ok(())
    }

    /// Waits for a running checkpoint, if any.
    async fn settle(&mut self) -> Result<(), Error> {
        if let Some(handle) = self.in_flight.take() {
            let joined = handle.await;
            let state = joined
                .unwrap_or_else(|e| Err(io::Error::other(e)))
                .map_err(Error::io("cannot checkpoint", &self.path))?;
            self.state = Some(state);
        }
        Ok(())
    }

    /// Makes everything written so far durable and recorded (used when an attempt ends,
    /// on cancellation and before the final rename). Returns the durable byte count.
    pub(crate) async fn checkpoint_now(&mut self) -> Result<u64, Error> {
        self.settle().await?;
        if self
            .state
            .as_ref()
            .is_some_and(|s| s.durable < self.written)
        {
            self.start_checkpoint()?;
            self.settle().await?;
        }
        Ok(self.state.as_ref().map_or(0, |s| s.durable))
    }

    /// Fsyncs the finished data and gives back the file handle (still locked).
    pub(crate) async fn finish(mut self) -> Result<File, Error> {
        self.settle().await?;
        let path = self.path.clone();
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io("cannot write", &path)(e.into_error()))?;
        file.sync_all().map_err(Error::io("cannot sync", &path))?;
        Ok(file)
    }
}

fn finished(handle: JoinHandle<io::Result<State>>, path: &Path) -> Result<State, Error> {
    // The task has finished, so this does not block.
    let joined = futures_util::FutureExt::now_or_never(handle).expect("task is finished");
    joined
        .unwrap_or_else(|e| Err(io::Error::other(e)))
        .map_err(Error::io("cannot checkpoint", path))
}

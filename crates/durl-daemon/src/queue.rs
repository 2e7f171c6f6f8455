//! The download queue: the in-memory view of every download, kept in step with the
//! [`Store`], and the scheduler that runs up to `max-concurrent-downloads` of them through
//! the engine (`runner.rs`).
//!
//! Every change (add, pause, unpause, remove, reorder, options) is made under one write gate:
//! change the memory, commit the same change to the database, then answer. Reads
//! (`tellStatus` and friends) take only the short state lock and never wait for a commit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::RpcError;
use crate::options::{DownloadOptions, GlobalOptions};
pub use crate::runner::QueueSettings;
use crate::runner::{self, Live, Owner, StopWhy};
use crate::store::{Batch, Failure, Record, Status, Store, StoreError};

/// A lifecycle notification, sent to WebSocket clients as `aria2.<method>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notice {
    /// `onDownloadStart`, `onDownloadPause`, `onDownloadStop`, `onDownloadComplete`,
    /// `onDownloadError`.
    pub method: &'static str,
    /// The download.
    pub gid: u64,
}

/// What `tellStatus` and the lists show of one download.
#[derive(Debug, Clone)]
pub struct View {
    /// The record as in memory (status may be `Active`).
    pub record: Record,
    /// Bytes held now.
    pub completed: u64,
    /// Total length, if known.
    pub total: Option<u64>,
    /// Bytes per second over the last second.
    pub speed: u64,
    /// Connections fetching now.
    pub connections: usize,
    /// The destination file, if chosen.
    pub path: Option<PathBuf>,
    /// The directory the file goes to.
    pub dir: PathBuf,
}

pub(crate) struct Entry {
    pub(crate) record: Record,
    pub(crate) live: Option<Live>,
}

pub(crate) struct State {
    pub(crate) entries: HashMap<u64, Entry>,
    /// Downloads not stopped, in queue order (active ones included).
    pub(crate) order: Vec<u64>,
    /// Stopped downloads, oldest first.
    pub(crate) stopped: Vec<u64>,
    pub(crate) global: GlobalOptions,
    pub(crate) stopped_seq: u64,
    /// Downloads with an engine task running.
    pub(crate) running: usize,
    /// Shutting down: nothing new starts.
    pub(crate) closing: bool,
    /// Stopped results purged while their engine task was still winding down: no longer
    /// listed, and forgotten (memory and database) when the task ends.
    pub(crate) purged: std::collections::HashSet<u64>,
}

/// The queue. Cheap to clone.
#[derive(Clone)]
pub struct Queue {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    gate: tokio::sync::Mutex<()>,
    store: Store,
    pub(crate) settings: QueueSettings,
    events: broadcast::Sender<Notice>,
    pub(crate) tasks: TaskTracker,
    /// Cancelled when `aria2.shutdown` asks the daemon to stop.
    pub(crate) stop_requested: CancellationToken,
}

/// `changePosition`'s `how`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whence {
    /// `POS_SET`: from the front.
    Set,
    /// `POS_CUR`: from where it is.
    Cur,
    /// `POS_END`: from the end.
    End,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A fresh GID: 64 random bits, never 0 and never one in use.
fn new_gid(state: &State) -> u64 {
    loop {
        let gid: u64 = rand::random();
        if gid != 0 && !state.entries.contains_key(&gid) {
            return gid;
        }
    }
}

impl Queue {
    /// Loads the queue from `store`, with the global options `global`.
    ///
    /// # Errors
    /// The database cannot be read.
    pub fn open(
        store: Store,
        settings: QueueSettings,
        global: GlobalOptions,
    ) -> Result<Queue, StoreError> {
        let loaded = store.load()?;
        let mut entries = HashMap::new();
        let mut order = Vec::new();
        let mut stopped = Vec::new();
        for record in loaded.records {
            if record.status.is_stopped() {
                stopped.push((record.position, record.gid));
            } else {
                order.push((record.position, record.gid));
            }
            entries.insert(record.gid, Entry { record, live: None });
        }
        order.sort_unstable();
        stopped.sort_unstable();
        let (events, _) = broadcast::channel(1024);
        let queue = Queue {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    entries,
                    order: order.into_iter().map(|(_, g)| g).collect(),
                    stopped: stopped.into_iter().map(|(_, g)| g).collect(),
                    global,
                    stopped_seq: loaded.stopped_seq,
                    running: 0,
                    closing: false,
                    purged: std::collections::HashSet::new(),
                }),
                gate: tokio::sync::Mutex::new(()),
                store,
                settings,
                events,
                tasks: TaskTracker::new(),
                stop_requested: CancellationToken::new(),
            }),
        };
        Ok(queue)
    }

    /// Starts the downloads that should run, and the once-a-second speed sampling.
    pub fn start(&self) {
        self.schedule();
        let weak = Arc::downgrade(&self.shared);
        self.shared.tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(shared) = weak.upgrade() else { return };
                let state = lock(&shared.state);
                if state.closing {
                    return;
                }
                for entry in state.entries.values() {
                    if let Some(live) = &entry.live {
                        live.progress.sample_speed();
                    }
                }
            }
        });
    }

    /// Notifications, for one subscriber.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.shared.events.subscribe()
    }

    /// Resolves when `aria2.shutdown` was called.
    pub fn stop_requested(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.shared.stop_requested.clone().cancelled_owned()
    }

    /// Asks the daemon to stop (as `aria2.shutdown` does).
    pub fn request_stop(&self) {
        self.shared.stop_requested.cancel();
    }

    pub(crate) fn notify(&self, method: &'static str, gid: u64) {
        let _ = self.shared.events.send(Notice { method, gid });
    }

    /// Commits `batch`, mapping a failure to an RPC error.
    async fn commit(&self, batch: Batch) -> Result<(), RpcError> {
        self.shared.store.write(batch).await.map_err(|e| {
            tracing::error!("{e}");
            RpcError::Store(e.to_string())
        })
    }

    /// The default directory, or a download's `dir` resolved against it.
    pub fn dir_of(&self, options: &DownloadOptions) -> PathBuf {
        self.shared.settings.dir_of(options)
    }

    /// The daemon's default directory.
    pub fn default_dir(&self) -> &Path {
        &self.shared.settings.dir
    }

    /// `aria2.addUri`: queues a download at `position` (default: the end) and returns its
    /// GID once it is durable.
    ///
    /// # Errors
    /// No URI, a bad URI or option, or a database failure.
    pub async fn add(
        &self,
        uris: Vec<String>,
        options: &Map<String, Value>,
        position: Option<usize>,
    ) -> Result<u64, RpcError> {
        if uris.is_empty() {
            return Err(RpcError::Params("no URI given".into()));
        }
        for uri in &uris {
            durl_fetch::GetRequest::new(uri).map_err(|e| RpcError::Params(e.to_string()))?;
        }
        let _gate = self.shared.gate.lock().await;
        let batch;
        let gid;
        let paused;
        {
            let mut state = lock(&self.shared.state);
            let mut opts = DownloadOptions {
                max_download_limit: state.global.max_download_limit,
                ..DownloadOptions::default()
            };
            paused = opts.apply(options)?.pause;
            gid = new_gid(&state);
            let record = Record {
                gid,
                uris,
                options: opts,
                status: if paused {
                    Status::Paused
                } else {
                    Status::Waiting
                },
                position: 0,
                path: None,
                started: false,
                total_length: None,
                completed_length: 0,
                error: None,
            };
            state.entries.insert(gid, Entry { record, live: None });
            let at = waiting_index_to_order(&state, position);
            state.order.insert(at, gid);
            let mut put = renumber(&mut state);
            if !put.iter().any(|r| r.gid == gid) {
                put.push(state.entries[&gid].record.clone());
            }
            batch = Batch {
                put,
                ..Batch::default()
            };
        }
        self.commit(batch).await?;
        drop(_gate);
        self.schedule();
        Ok(gid)
    }

    /// `aria2.pause`/`forcePause`: holds a waiting or active download; an active one stops
    /// after a final checkpoint.
    ///
    /// # Errors
    /// Unknown GID, a stopped download, or a database failure.
    pub async fn pause(&self, gid: u64) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        let batch = {
            let mut state = lock(&self.shared.state);
            let entry = live_entry(&mut state, gid)?;
            if entry.record.status == Status::Paused {
                return Err(RpcError::Failed(format!(
                    "GID {gid:016x} cannot be paused now"
                )));
            }
            entry.record.status = Status::Paused;
            if let Some(live) = &entry.live {
                live.stop(StopWhy::Pause);
            }
            Batch {
                put: vec![entry.record.clone()],
                ..Batch::default()
            }
        };
        self.commit(batch).await?;
        self.notify("onDownloadPause", gid);
        Ok(())
    }

    /// `aria2.pauseAll`: pauses every active and waiting download.
    ///
    /// # Errors
    /// A database failure.
    pub async fn pause_all(&self) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        let (batch, gids) = {
            let mut state = lock(&self.shared.state);
            let mut put = Vec::new();
            let mut gids = Vec::new();
            let order = state.order.clone();
            for gid in order {
                let Some(entry) = state.entries.get_mut(&gid) else {
                    continue;
                };
                if entry.record.status == Status::Paused {
                    continue;
                }
                entry.record.status = Status::Paused;
                if let Some(live) = &entry.live {
                    live.stop(StopWhy::Pause);
                }
                put.push(entry.record.clone());
                gids.push(gid);
            }
            (
                Batch {
                    put,
                    ..Batch::default()
                },
                gids,
            )
        };
        self.commit(batch).await?;
        for gid in gids {
            self.notify("onDownloadPause", gid);
        }
        Ok(())
    }

    /// `aria2.unpause`: a paused download waits again.
    ///
    /// # Errors
    /// Unknown GID, a download that is not paused, or a database failure.
    pub async fn unpause(&self, gid: u64) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        let batch = {
            let mut state = lock(&self.shared.state);
            let entry = live_entry(&mut state, gid)?;
            if entry.record.status != Status::Paused {
                return Err(RpcError::Failed(format!(
                    "GID {gid:016x} cannot be unpaused now"
                )));
            }
            entry.record.status = Status::Waiting;
            Batch {
                put: vec![entry.record.clone()],
                ..Batch::default()
            }
        };
        self.commit(batch).await?;
        drop(_gate);
        self.schedule();
        Ok(())
    }

    /// `aria2.unpauseAll`.
    ///
    /// # Errors
    /// A database failure.
    pub async fn unpause_all(&self) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        let batch = {
            let mut state = lock(&self.shared.state);
            let mut put = Vec::new();
            let order = state.order.clone();
            for gid in order {
                if let Some(entry) = state.entries.get_mut(&gid)
                    && entry.record.status == Status::Paused
                {
                    entry.record.status = Status::Waiting;
                    put.push(entry.record.clone());
                }
            }
            Batch {
                put,
                ..Batch::default()
            }
        };
        self.commit(batch).await?;
        drop(_gate);
        self.schedule();
        Ok(())
    }

    /// `aria2.remove`/`forceRemove`: stops the download (its partial data stays on disk, as
    /// with aria2) and lists it as `removed`.
    ///
    /// # Errors
    /// Unknown GID, a stopped download, or a database failure.
    pub async fn remove(&self, gid: u64) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        let batch = {
            let mut state = lock(&self.shared.state);
            let entry = live_entry(&mut state, gid)?;
            entry.record.status = Status::Removed;
            if let Some(live) = &entry.live {
                live.stop(StopWhy::Remove);
            }
            stop_entry(&mut state, gid)
        };
        self.commit(batch).await?;
        drop(_gate);
        self.notify("onDownloadStop", gid);
        self.schedule();
        Ok(())
    }

    /// `aria2.changePosition`: moves a waiting download; returns its new position.
    ///
    /// # Errors
    /// Unknown or not waiting GID, or a database failure.
    pub async fn change_position(
        &self,
        gid: u64,
        pos: i64,
        how: Whence,
    ) -> Result<usize, RpcError> {
        let _gate = self.shared.gate.lock().await;
        let (batch, new_pos) = {
            let mut state = lock(&self.shared.state);
            let waiting = waiting_gids(&state);
            let Some(cur) = waiting.iter().position(|&g| g == gid) else {
                return Err(RpcError::Failed(format!(
                    "GID {gid:016x} is not in the waiting queue"
                )));
            };
            let len = waiting.len() as i64;
            let target = match how {
                Whence::Set => pos,
                Whence::Cur => cur as i64 + pos,
                Whence::End => len - 1 + pos,
            }
            .clamp(0, len - 1) as usize;
            let mut reordered = waiting.clone();
            reordered.remove(cur);
            reordered.insert(target, gid);
            // Active downloads keep their places; the waiting ones take theirs in the new
            // order.
            let mut next = reordered.into_iter();
            for slot in state.order.clone().iter().enumerate() {
                let (i, g) = slot;
                if waiting.contains(g)
                    && let Some(n) = next.next()
                {
                    state.order[i] = n;
                }
            }
            (
                Batch {
                    put: renumber(&mut state),
                    ..Batch::default()
                },
                target,
            )
        };
        self.commit(batch).await?;
        drop(_gate);
        self.schedule();
        Ok(new_pos)
    }

    /// `aria2.changeOption`: new options for a download; an active one restarts from its
    /// checkpoint to apply them.
    ///
    /// # Errors
    /// Unknown or stopped GID, a bad option, or a database failure.
    pub async fn change_option(
        &self,
        gid: u64,
        options: &Map<String, Value>,
    ) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        let batch = {
            let mut state = lock(&self.shared.state);
            let entry = live_entry(&mut state, gid)?;
            let mut next = entry.record.options.clone();
            next.apply(options)?;
            if next != entry.record.options {
                entry.record.options = next;
                if let Some(live) = &entry.live {
                    live.stop(StopWhy::Restart);
                }
            }
            Batch {
                put: vec![entry.record.clone()],
                ..Batch::default()
            }
        };
        self.commit(batch).await
    }

    /// `aria2.changeGlobalOption` (until the daemon stops, as with aria2).
    ///
    /// # Errors
    /// A bad option.
    pub async fn change_global(&self, options: &Map<String, Value>) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        {
            let mut state = lock(&self.shared.state);
            let mut next = state.global;
            next.apply(options)?;
            let share_changed = next.max_overall_download_limit
                != state.global.max_overall_download_limit
                || next.max_concurrent_downloads != state.global.max_concurrent_downloads;
            state.global = next;
            if share_changed {
                rebalance(&state);
            }
        }
        drop(_gate);
        self.schedule();
        Ok(())
    }

    /// `aria2.purgeDownloadResult`: forgets every stopped download.
    ///
    /// # Errors
    /// A database failure.
    pub async fn purge(&self) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        let batch = {
            let mut state = lock(&self.shared.state);
            let gids = std::mem::take(&mut state.stopped);
            let mut delete = Vec::new();
            for gid in gids {
                if state.entries.get(&gid).is_some_and(|e| e.live.is_some()) {
                    // Still winding down: unlisted now, forgotten when its task ends.
                    state.purged.insert(gid);
                } else {
                    state.entries.remove(&gid);
                }
                delete.push(gid);
            }
            Batch {
                delete,
                ..Batch::default()
            }
        };
        self.commit(batch).await
    }

    /// `aria2.removeDownloadResult`: forgets one stopped download.
    ///
    /// # Errors
    /// Unknown GID, a download not stopped, or a database failure.
    pub async fn remove_result(&self, gid: u64) -> Result<(), RpcError> {
        let _gate = self.shared.gate.lock().await;
        let batch = {
            let mut state = lock(&self.shared.state);
            let Some(at) = state.stopped.iter().position(|&g| g == gid) else {
                return Err(RpcError::Failed(format!(
                    "could not remove download result of GID#{gid:016x}"
                )));
            };
            state.stopped.remove(at);
            if state.entries.get(&gid).is_some_and(|e| e.live.is_some()) {
                // Still winding down: unlisted now, forgotten when its task ends.
                state.purged.insert(gid);
            } else {
                state.entries.remove(&gid);
            }
            Batch {
                delete: vec![gid],
                ..Batch::default()
            }
        };
        self.commit(batch).await
    }

    /// One download.
    pub fn view(&self, gid: u64) -> Option<View> {
        let state = lock(&self.shared.state);
        if state.purged.contains(&gid) {
            return None;
        }
        state.entries.get(&gid).map(|e| self.view_of(e))
    }

    fn view_of(&self, entry: &Entry) -> View {
        let record = entry.record.clone();
        let dir = self.dir_of(&record.options);
        match &entry.live {
            Some(live) => {
                let p = &live.progress;
                let total = p.total.load(Ordering::Relaxed);
                View {
                    completed: p.completed.load(Ordering::Relaxed),
                    total: (total != u64::MAX).then_some(total).or(record.total_length),
                    speed: p.speed.load(Ordering::Relaxed),
                    connections: p.connections.load(Ordering::Relaxed),
                    path: p.path().or_else(|| record.path.clone()),
                    dir,
                    record,
                }
            }
            None => View {
                completed: record.completed_length,
                total: record.total_length,
                speed: 0,
                connections: 0,
                path: record.path.clone(),
                dir,
                record,
            },
        }
    }

    /// `tellActive`.
    pub fn active(&self) -> Vec<View> {
        let state = lock(&self.shared.state);
        state
            .order
            .iter()
            .filter_map(|g| state.entries.get(g))
            .filter(|e| e.record.status == Status::Active)
            .map(|e| self.view_of(e))
            .collect()
    }

    /// `tellWaiting` (waiting and paused, in queue order).
    pub fn waiting(&self) -> Vec<View> {
        let state = lock(&self.shared.state);
        waiting_gids(&state)
            .iter()
            .filter_map(|g| state.entries.get(g))
            .map(|e| self.view_of(e))
            .collect()
    }

    /// `tellStopped`, oldest first.
    pub fn stopped(&self) -> Vec<View> {
        let state = lock(&self.shared.state);
        state
            .stopped
            .iter()
            .filter_map(|g| state.entries.get(g))
            .map(|e| self.view_of(e))
            .collect()
    }

    /// The global options now.
    pub fn global(&self) -> GlobalOptions {
        lock(&self.shared.state).global
    }

    /// `getGlobalStat`: (download speed, active, waiting, stopped).
    pub fn stat(&self) -> (u64, usize, usize, usize) {
        let state = lock(&self.shared.state);
        let mut speed = 0;
        let mut active = 0;
        for gid in &state.order {
            if let Some(e) = state.entries.get(gid)
                && e.record.status == Status::Active
            {
                active += 1;
                if let Some(live) = &e.live {
                    speed += live.progress.speed.load(Ordering::Relaxed);
                }
            }
        }
        (
            speed,
            active,
            state.order.len() - active,
            state.stopped.len(),
        )
    }

    /// Starts waiting downloads while fewer than `max-concurrent-downloads` run.
    pub(crate) fn schedule(&self) {
        let mut state = lock(&self.shared.state);
        if state.closing {
            return;
        }
        let mut started = Vec::new();
        let order = state.order.clone();
        for gid in order {
            if state.running >= state.global.max_concurrent_downloads {
                break;
            }
            let Some(entry) = state.entries.get(&gid) else {
                continue;
            };
            if entry.record.status != Status::Waiting || entry.live.is_some() {
                continue;
            }
            state.running += 1;
            started.push(gid);
        }
        let limit = overall_share(&state);
        for &gid in &started {
            let Some(entry) = state.entries.get_mut(&gid) else {
                continue;
            };
            entry.record.status = Status::Active;
            let live = runner::launch(
                self,
                &self.shared.tasks,
                &self.shared.settings,
                &entry.record,
                limit,
            );
            entry.live = Some(live);
        }
        drop(state);
        for gid in started {
            self.notify("onDownloadStart", gid);
        }
    }

    /// Records what the engine chose for a running download (its path), durably.
    pub(crate) async fn record_started(&self, gid: u64, path: PathBuf, total: Option<u64>) {
        let _gate = self.shared.gate.lock().await;
        let batch = {
            let mut state = lock(&self.shared.state);
            if state.purged.contains(&gid) {
                // Purged while this report was on its way: writing the record again would
                // bring it back after a restart.
                return;
            }
            let Some(entry) = state.entries.get_mut(&gid) else {
                return;
            };
            if entry.record.started && entry.record.path.as_ref() == Some(&path) {
                return;
            }
            entry.record.started = true;
            entry.record.path = Some(path);
            entry.record.total_length = total.or(entry.record.total_length);
            Batch {
                put: vec![entry.record.clone()],
                ..Batch::default()
            }
        };
        let _ = self.commit(batch).await;
    }

    /// The engine finished a download's run.
    pub(crate) async fn finished(
        &self,
        gid: u64,
        result: Result<durl_fetch::Outcome, durl_fetch::Error>,
    ) {
        let _gate = self.shared.gate.lock().await;
        let forgotten = {
            let mut state = lock(&self.shared.state);
            let purged = state.purged.remove(&gid);
            if purged {
                // Its result was purged while it wound down: nothing more to record.
                state.running = state.running.saturating_sub(1);
                state.entries.remove(&gid);
            }
            purged
        };
        if forgotten {
            let _ = self
                .commit(Batch {
                    delete: vec![gid],
                    ..Batch::default()
                })
                .await;
            drop(_gate);
            self.schedule();
            return;
        }
        let (batch, notice) = {
            let mut state = lock(&self.shared.state);
            state.running = state.running.saturating_sub(1);
            let closing = state.closing;
            let Some(entry) = state.entries.get_mut(&gid) else {
                return;
            };
            let Some(live) = entry.live.take() else {
                return;
            };
            let why = live.why();
            let p = &live.progress;
            entry.record.completed_length = p.completed.load(Ordering::Relaxed);
            let total = p.total.load(Ordering::Relaxed);
            if total != u64::MAX {
                entry.record.total_length = Some(total);
            }
            if let Some(path) = p.path() {
                entry.record.path = Some(path);
            }
            let mut notice = None;
            let mut stop = false;
            match result {
                Ok(outcome) if entry.record.status != Status::Removed => {
                    entry.record.status = Status::Complete;
                    entry.record.path = Some(outcome.path);
                    entry.record.total_length = Some(outcome.bytes);
                    entry.record.completed_length = outcome.bytes;
                    notice = Some("onDownloadComplete");
                    stop = true;
                }
                Ok(_) => {}
                Err(e) if e.kind() == durl_fetch::ErrorKind::Interrupted && why.is_some() => {
                    if why == Some(StopWhy::Restart) && entry.record.status == Status::Active {
                        entry.record.status = Status::Waiting;
                    }
                }
                Err(e) => {
                    if entry.record.status != Status::Removed && !closing {
                        entry.record.status = Status::Error;
                        entry.record.error = Some(Failure {
                            code: runner::aria2_error_code(&e),
                            message: runner::error_line(&e),
                        });
                        notice = Some("onDownloadError");
                        stop = true;
                    } else if closing && entry.record.status == Status::Active {
                        entry.record.status = Status::Waiting;
                    }
                }
            }
            if !stop && !entry.record.status.is_stopped() && entry.record.status == Status::Active {
                entry.record.status = Status::Waiting;
            }
            let record = entry.record.clone();
            let batch = if stop {
                stop_entry(&mut state, gid)
            } else {
                Batch {
                    put: vec![record],
                    ..Batch::default()
                }
            };
            (batch, notice)
        };
        let _ = self.commit(batch).await;
        drop(_gate);
        if let Some(method) = notice {
            self.notify(method, gid);
        }
        self.schedule();
    }

    /// Stops every running download with a final checkpoint and waits for them; their
    /// records stay `waiting`, so the next start continues them.
    pub async fn close(&self) {
        {
            let mut state = lock(&self.shared.state);
            state.closing = true;
            for entry in state.entries.values() {
                if let Some(live) = &entry.live {
                    live.stop(StopWhy::Shutdown);
                }
            }
        }
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }
}

/// A download that is not stopped, or the aria2 error for it.
fn live_entry(state: &mut State, gid: u64) -> Result<&mut Entry, RpcError> {
    match state.entries.get_mut(&gid) {
        Some(e) if !e.record.status.is_stopped() => Ok(e),
        Some(_) => Err(RpcError::Failed(format!(
            "Active Download not found for GID#{gid:016x}"
        ))),
        None => Err(RpcError::NotFound(gid)),
    }
}

/// Moves `gid` from the queue to the stopped list with the next sequence number.
fn stop_entry(state: &mut State, gid: u64) -> Batch {
    state.order.retain(|&g| g != gid);
    state.stopped_seq += 1;
    let seq = state.stopped_seq;
    state.stopped.push(gid);
    let mut put = Vec::new();
    if let Some(entry) = state.entries.get_mut(&gid) {
        entry.record.position = seq;
        put.push(entry.record.clone());
    }
    Batch {
        put,
        stopped_seq: Some(seq),
        ..Batch::default()
    }
}

/// Waiting and paused downloads in queue order.
fn waiting_gids(state: &State) -> Vec<u64> {
    state
        .order
        .iter()
        .copied()
        .filter(|g| {
            state
                .entries
                .get(g)
                .is_some_and(|e| matches!(e.record.status, Status::Waiting | Status::Paused))
        })
        .collect()
}

/// The index in `order` for a new download at waiting-queue `position` (`None`: the end).
fn waiting_index_to_order(state: &State, position: Option<usize>) -> usize {
    let Some(position) = position else {
        return state.order.len();
    };
    let waiting = waiting_gids(state);
    match waiting.get(position) {
        Some(g) => state
            .order
            .iter()
            .position(|x| x == g)
            .unwrap_or(state.order.len()),
        None => state.order.len(),
    }
}

/// Gives the queue positions 0, 1, 2… in order; returns the records whose position changed.
fn renumber(state: &mut State) -> Vec<Record> {
    let mut changed = Vec::new();
    let order = state.order.clone();
    for (i, gid) in order.into_iter().enumerate() {
        if let Some(e) = state.entries.get_mut(&gid)
            && e.record.position != i as u64
        {
            e.record.position = i as u64;
            changed.push(e.record.clone());
        }
    }
    changed
}

/// Each running download's share of `max-overall-download-limit`: an equal part per
/// `max-concurrent-downloads` slot. A fixed divisor, so that a download starting or ending
/// does not restart the others (each restart would change the count again).
fn overall_share(state: &State) -> Option<u64> {
    state
        .global
        .max_overall_download_limit
        .map(|all| (all / state.global.max_concurrent_downloads.max(1) as u64).max(1))
}

/// Restarts (from their checkpoints) the running downloads whose rate limit changed.
fn rebalance(state: &State) {
    let share = overall_share(state);
    for entry in state.entries.values() {
        if let Some(live) = &entry.live {
            let want = runner::effective_limit(entry.record.options.max_download_limit, share);
            if want != live.limit && live.why().is_none() {
                live.stop(StopWhy::Restart);
            }
        }
    }
}

/// The queue hears from the downloads it launched.
impl Owner for Queue {
    async fn started(&self, gid: u64, path: PathBuf, total: Option<u64>) {
        self.record_started(gid, path, total).await;
    }

    async fn finished(&self, gid: u64, result: Result<durl_fetch::Outcome, durl_fetch::Error>) {
        Queue::finished(self, gid, result).await;
    }
}

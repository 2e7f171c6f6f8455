//! One download's run through the engine: its [`durl_fetch::GetRequest`], the progress the
//! engine reports, and how it stops (pause, remove, restart with new limits, shutdown: all
//! by cancelling the request's token, after which the engine checkpoints and returns
//! [`durl_fetch::ErrorKind::Interrupted`]).

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use durl_fetch::header::{HeaderMap, HeaderName, HeaderValue};
use durl_fetch::{CancellationToken, ErrorKind, Event, GetRequest, Reporter};
use tokio_util::task::TaskTracker;

use crate::options::DownloadOptions;
use crate::store::Record;

/// How the queue runs downloads: settings that do not change while it runs.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Where files go when a download names no `dir`.
    pub dir: PathBuf,
    /// The engine's checkpoint interval.
    pub checkpoint_interval: Duration,
    /// Connections open in all (a download asking for more gets fewer).
    pub max_connections: usize,
    /// Connections a download may open to its host.
    pub max_per_host: usize,
    /// The engine's retries per download.
    pub retries: u32,
}

impl QueueSettings {
    /// The default directory, or a download's `dir` resolved against it.
    pub fn dir_of(&self, options: &DownloadOptions) -> PathBuf {
        match &options.dir {
            Some(d) => self.dir.join(d),
            None => self.dir.clone(),
        }
    }
}

/// Whoever launched a download (the queue): hears when the engine names the file and when
/// the run ends. A trait, so that this module does not name the queue that uses it.
pub(crate) trait Owner: Clone + Send + Sync + 'static {
    /// The engine chose the download's path (and knows its length, if the server said).
    fn started(
        &self,
        gid: u64,
        path: PathBuf,
        total: Option<u64>,
    ) -> impl Future<Output = ()> + Send;

    /// The run ended.
    fn finished(
        &self,
        gid: u64,
        result: Result<durl_fetch::Outcome, durl_fetch::Error>,
    ) -> impl Future<Output = ()> + Send;
}

/// Why a running download was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopWhy {
    /// `pause`: it stays paused.
    Pause,
    /// `remove`: it is listed as removed.
    Remove,
    /// New options or rate share: it starts again from its checkpoint at once.
    Restart,
    /// The daemon stops: it continues at the next start.
    Shutdown,
}

impl StopWhy {
    fn code(self) -> u8 {
        match self {
            StopWhy::Pause => 1,
            StopWhy::Remove => 2,
            StopWhy::Restart => 3,
            StopWhy::Shutdown => 4,
        }
    }

    fn from_code(c: u8) -> Option<StopWhy> {
        match c {
            1 => Some(StopWhy::Pause),
            2 => Some(StopWhy::Remove),
            3 => Some(StopWhy::Restart),
            4 => Some(StopWhy::Shutdown),
            _ => None,
        }
    }
}

/// What the engine reported so far.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    pub(crate) completed: AtomicU64,
    /// `u64::MAX` while unknown.
    pub(crate) total: AtomicU64,
    pub(crate) speed: AtomicU64,
    pub(crate) connections: AtomicUsize,
    last_sample: AtomicU64,
    path: Mutex<Option<PathBuf>>,
}

impl Progress {
    pub(crate) fn path(&self) -> Option<PathBuf> {
        self.path.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Called once a second: the speed is the bytes since the last call.
    pub(crate) fn sample_speed(&self) {
        let now = self.completed.load(Ordering::Relaxed);
        let before = self.last_sample.swap(now, Ordering::Relaxed);
        self.speed
            .store(now.saturating_sub(before), Ordering::Relaxed);
    }
}

/// A running download.
#[derive(Debug)]
pub(crate) struct Live {
    cancel: CancellationToken,
    why: AtomicU8,
    pub(crate) progress: Arc<Progress>,
    /// The rate limit it runs with.
    pub(crate) limit: Option<u64>,
}

impl Live {
    /// Asks the engine to stop (the first reason given wins).
    pub(crate) fn stop(&self, why: StopWhy) {
        let _ = self
            .why
            .compare_exchange(0, why.code(), Ordering::SeqCst, Ordering::SeqCst);
        self.cancel.cancel();
    }

    pub(crate) fn why(&self) -> Option<StopWhy> {
        StopWhy::from_code(self.why.load(Ordering::SeqCst))
    }
}

/// The tighter of a download's own limit and its share of the overall limit.
pub(crate) fn effective_limit(own: Option<u64>, share: Option<u64>) -> Option<u64> {
    match (own, share) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

struct DownloadReporter<O: Owner> {
    owner: O,
    tasks: TaskTracker,
    gid: u64,
    progress: Arc<Progress>,
}

impl<O: Owner> Reporter for DownloadReporter<O> {
    fn report(&self, event: Event<'_>) {
        let p = &self.progress;
        match event {
            Event::Started {
                path,
                total,
                resumed_from,
            } => {
                p.completed.store(resumed_from, Ordering::Relaxed);
                p.last_sample.store(resumed_from, Ordering::Relaxed);
                p.total.store(total.unwrap_or(u64::MAX), Ordering::Relaxed);
                *p.path.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_owned());
                let owner = self.owner.clone();
                let (gid, path) = (self.gid, path.to_owned());
                self.tasks.spawn(async move {
                    owner.started(gid, path, total).await;
                });
            }
            Event::Progress { bytes } => {
                p.completed.fetch_add(bytes, Ordering::Relaxed);
            }
            Event::Restarted { .. } => {
                p.completed.store(0, Ordering::Relaxed);
                p.last_sample.store(0, Ordering::Relaxed);
            }
            Event::Connections { active } => p.connections.store(active, Ordering::Relaxed),
            Event::Finished { bytes, .. } => {
                p.completed.store(bytes, Ordering::Relaxed);
                p.total.store(bytes, Ordering::Relaxed);
            }
            _ => {}
        }
    }
}

/// The engine request for `record`.
fn request(
    settings: &QueueSettings,
    record: &Record,
    limit: Option<u64>,
    cancel: CancellationToken,
) -> Result<GetRequest, Box<durl_fetch::Error>> {
    let o = &record.options;
    let dir = settings.dir_of(o);
    let mut req = GetRequest::new(&record.uris[0])?
        .mirrors(&record.uris[1..])
        .map_err(Box::new)?;
    req = match (&record.path, &o.out) {
        (Some(path), _) => req.output(path),
        (None, Some(out)) => req.output(dir.join(out)),
        (None, None) => req.dir(&dir),
    };
    let connections = usize::from(o.connections.unwrap_or(1))
        .min(settings.max_per_host)
        .min(settings.max_connections);
    let mut headers = HeaderMap::new();
    for line in &o.headers {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                HeaderName::try_from(name.trim()),
                HeaderValue::try_from(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }
    let checksum = o.checksum.as_deref().and_then(|c| c.parse().ok());
    Ok(req
        .connections(connections)
        .limit_rate(limit)
        .checksum(checksum)
        .headers(headers)
        .retries(settings.retries)
        .checkpoint_interval(settings.checkpoint_interval, u64::MAX)
        // A run killed between the engine's final rename and the database update left the
        // complete file: the next run checks it against the server and adopts it.
        .continue_existing(record.started)
        .cancel_token(cancel))
}

/// Starts the engine on `record` in a task of the queue; the task reports back through
/// [`Owner::finished`].
pub(crate) fn launch<O: Owner>(
    owner: &O,
    tasks: &TaskTracker,
    settings: &QueueSettings,
    record: &Record,
    share: Option<u64>,
) -> Live {
    let cancel = CancellationToken::new();
    let limit = effective_limit(record.options.max_download_limit, share);
    let progress = Arc::new(Progress {
        total: AtomicU64::new(record.total_length.unwrap_or(u64::MAX)),
        completed: AtomicU64::new(record.completed_length),
        last_sample: AtomicU64::new(record.completed_length),
        ..Progress::default()
    });
    let live = Live {
        cancel: cancel.clone(),
        why: AtomicU8::new(0),
        progress: Arc::clone(&progress),
        limit,
    };
    let req = request(settings, record, limit, cancel);
    let gid = record.gid;
    let dir = settings.dir_of(&record.options);
    let owner = owner.clone();
    let reporter_tasks = tasks.clone();
    tasks.spawn(async move {
        let reporter = DownloadReporter {
            owner: owner.clone(),
            tasks: reporter_tasks,
            gid,
            progress,
        };
        let result = match req {
            Ok(req) => {
                // aria2 creates the directory it is given; a failure shows as the engine's
                // own I/O error naming the file.
                let _ = tokio::fs::create_dir_all(&dir).await;
                durl_fetch::get(&req, &reporter).await
            }
            Err(e) => Err(*e),
        };
        owner.finished(gid, result).await;
    });
    live
}

/// aria2's exit-status number for an engine error (aria2c(1), "EXIT STATUS").
pub(crate) fn aria2_error_code(e: &durl_fetch::Error) -> u32 {
    match e.kind() {
        ErrorKind::Usage => 28,
        ErrorKind::RemoteNotFound => 3,
        ErrorKind::Network => 6,
        ErrorKind::Protocol => 8,
        ErrorKind::Io => 17,
        ErrorKind::Exists => 13,
        ErrorKind::Locked => 11,
        ErrorKind::Checksum => 32,
        ErrorKind::LoginRefused | ErrorKind::PermissionDenied => 24,
        ErrorKind::Http => 22,
        _ => 1,
    }
}

/// The error and its causes on one line.
pub(crate) fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tighter_limit_wins() {
        let table = [
            (None, None, None),
            (Some(5), None, Some(5)),
            (None, Some(7), Some(7)),
            (Some(5), Some(7), Some(5)),
            (Some(9), Some(7), Some(7)),
        ];
        for (own, share, want) in table {
            assert_eq!(effective_limit(own, share), want, "{own:?} {share:?}");
        }
    }
}

//! Split downloads: several connections fetch segments of one file at once.
//!
//! Used when the file's length is known and the server has a validator that `If-Range` can
//! carry (so every segment is proven to come from the same version). Each connection runs a
//! [`worker`] over its [`Slot`]: ranged requests with `If-Range`, strict `Content-Range`
//! checks, retries from its own position. The workers hand chunks to the coordinator through
//! a bounded channel (back-pressure); the coordinator alone writes the part file
//! (positional writes) and checkpoints it, recording the held ranges. When a worker finishes
//! it takes over the next waiting segment, or half of the largest one still running
//! ([`plan::split_point`]), so a slow connection never becomes the tail everybody waits for.
//!
//! The segments come from a [`Transport`]: HTTP (ranged requests with `If-Range`) or FTP
//! (one control connection per segment, `REST` + `RETR`); planning, stealing, the single
//! writer and the checkpoints are the same for every protocol.
//!
//! A segment answered with 200 (the server ignored the range), with another validator or
//! another length, stops the split download: nothing of it is written, and the caller
//! restarts cleanly from byte 0. What a segment's answer adds to the version (a
//! `Repr-Digest` the first answer lacked) is recorded for every later segment and the state,
//! as on a single-stream resume; an answer that contradicts it (another digest) is another
//! version too.

use std::collections::VecDeque;
use std::ops::Range;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc;

use crate::download::commit::{disagrees, overlong};
use crate::download::mirrors::Sources;
use crate::download::plan;
use crate::download::transport::{Ask, Body, Learnt, Opened, Transport};
use crate::events::{Event, Reporter, RestartReason};
use crate::store::journal::State;
use crate::store::rate::RateLimiter;
use crate::store::retry;
use crate::{Error, GetRequest};

/// No segment is split into halves shorter than this.
pub(crate) const MIN_SPLIT: u64 = 1 << 20;

/// Chunks in flight between the workers and the coordinator.
const QUEUE: usize = 16;

/// One segment being fetched: the next byte wanted and where the segment ends. The
/// coordinator may move `end` down to give the rest to another connection.
#[derive(Debug)]
pub(crate) struct Slot {
    pos: AtomicU64,
    end: AtomicU64,
}

impl Slot {
    fn new(range: &Range<u64>) -> Arc<Slot> {
        Arc::new(Slot {
            pos: AtomicU64::new(range.start),
            end: AtomicU64::new(range.end),
        })
    }

    pub(crate) fn remaining(&self) -> Range<u64> {
        self.pos.load(Ordering::Acquire)..self.end.load(Ordering::Acquire)
    }
}

/// How a split download ended, short of an error.
pub(crate) enum SplitEnd {
    /// Every byte is written.
    Complete,
    /// The server broke the split (200, other validator or length): start again from 0.
    Restart(RestartReason),
}

/// What a worker reports when it stops.
enum WorkerEnd {
    Done,
    Restart(RestartReason),
    Failed(Error),
}

/// Everything the workers share.
pub(crate) struct Split<'a, T> {
    pub(crate) req: &'a GetRequest,
    pub(crate) transport: &'a T,
    pub(crate) reporter: &'a dyn Reporter,
    /// The state of the version being fetched (length and `Version`); a segment's answer
    /// may add to the version ([`Transport::learn`]).
    pub(crate) state: Mutex<State>,
    /// Set when a segment added to the version: the coordinator records it in the part file.
    pub(crate) learnt: AtomicBool,
    /// `--limit-rate`, shared by every connection.
    pub(crate) limiter: Option<&'a RateLimiter>,
    /// The URL and its mirrors; each request picks the next.
    pub(crate) sources: &'a Sources,
}

type WorkerFuture<'s> = Pin<Box<dyn Future<Output = WorkerEnd> + Send + 's>>;

impl<T: Transport> Split<'_, T> {
    /// The state of the version being fetched, as known now.
    fn state(&self) -> State {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records in `part` what the segments learnt about the version, if anything.
    fn record_learnt(&self, part: &mut crate::store::part::PartFile) {
        if self.learnt.swap(false, Ordering::AcqRel) {
            part.set_version(self.state().version);
        }
    }

    /// Fetches every byte of the file not in `part`'s held ranges. `first` is a response
    /// already received whose body starts at the given byte, used for the first segment.
    pub(crate) async fn run(
        &self,
        part: &mut crate::store::part::PartFile,
        fetched: &mut u64,
        first: Option<(T::Body, Range<u64>)>,
    ) -> Result<SplitEnd, Error> {
        let len = self.state().length.expect("split downloads need a length");
        let missing = part.have().missing(len);
        let mut waiting: VecDeque<Range<u64>> =
            plan::plan(&missing, self.req.connections, MIN_SPLIT).into();
        let mut slots: Vec<Arc<Slot>> = Vec::new();
        let (tx, mut rx) = mpsc::channel::<(u64, Bytes)>(QUEUE);
        let mut workers: FuturesUnordered<WorkerFuture<'_>> = FuturesUnordered::new();

        let mut first = first;
        while slots.len() < self.req.connections {
            let Some(range) = waiting.pop_front() else {
                break;
            };
            let slot = Slot::new(&range);
            // The first response serves the segment it starts in.
            let initial = match &first {
                Some((_, body)) if body.start == range.start => first.take(),
                _ => None,
            };
            slots.push(slot.clone());
            workers.push(Box::pin(self.worker(slot, initial, tx.clone())));
        }
        drop(first);
        self.connections_changed(workers.len());
        let mut failed: Option<Error> = None;

        loop {
            if workers.is_empty() {
                while let Ok((offset, data)) = rx.try_recv() {
                    self.write(part, fetched, offset, data).await?;
                }
                break;
            }
            tokio::select! {
                Some((offset, data)) = rx.recv() => {
                    self.write(part, fetched, offset, data).await?;
                }
                Some(end) = workers.next() => match end {
                    WorkerEnd::Done => {
                        // Take a waiting segment, or half of the largest running one.
                        let next = if failed.is_some() {
                            None
                        } else {
                            waiting.pop_front().or_else(|| steal(&slots))
                        };
                        if let Some(range) = next {
                            let slot = Slot::new(&range);
                            slots.push(slot.clone());
                            workers.push(Box::pin(self.worker(slot, None, tx.clone())));
                        }
                        self.connections_changed(workers.len());
                    }
                    WorkerEnd::Restart(reason) => return Ok(SplitEnd::Restart(reason)),
                    // The other connections finish their segments (saving what they
                    // fetch); no new work starts; then the error is returned.
                    WorkerEnd::Failed(e) => {
                        failed.get_or_insert(e);
                        self.connections_changed(workers.len());
                    }
                },
            }
        }
        self.record_learnt(part);
        if let Some(e) = failed {
            return Err(e);
        }
        if part.have().covers(len) {
            Ok(SplitEnd::Complete)
        } else {
            // Unreachable unless a worker ended early without saying why.
            Err(Error::ShortBody {
                url: self.req.url.clone(),
                received: part.have().total(),
                expected: len,
            })
        }
    }

    fn connections_changed(&self, active: usize) {
        self.reporter.report(Event::Connections { active });
    }

    async fn write(
        &self,
        part: &mut crate::store::part::PartFile,
        fetched: &mut u64,
        offset: u64,
        data: Bytes,
    ) -> Result<(), Error> {
        let n = data.len() as u64;
        self.record_learnt(part);
        part.write(offset, data).await?;
        *fetched += n;
        self.reporter.report(Event::Progress { bytes: n });
        part.maybe_checkpoint().await
    }

    /// One connection's loop over its slot: request, check, stream; retry from its own
    /// position with back-off; stop when the slot is done.
    async fn worker(
        &self,
        slot: Arc<Slot>,
        mut initial: Option<(T::Body, Range<u64>)>,
        tx: mpsc::Sender<(u64, Bytes)>,
    ) -> WorkerEnd {
        let mut budget = retry::Budget::default();
        loop {
            let before = slot.remaining().start;
            if slot.remaining().is_empty() {
                return WorkerEnd::Done;
            }
            let url = self.sources.pick(true);
            let result = match initial.take() {
                Some((body, range)) => self.stream(body, range, &url, &slot, &tx).await,
                None => self.fetch(&url, &slot, &tx).await,
            };
            let e = match result {
                Ok(None) => {
                    self.sources.succeeded(&url);
                    continue;
                }
                Ok(Some(reason)) => return WorkerEnd::Restart(reason),
                Err(e) => e,
            };
            if e.is_retryable()
                && let Some(reason) = self.sources.failed(&url)
            {
                self.reporter
                    .report(Event::MirrorDropped { url: &url, reason });
            }
            let progressed = slot.remaining().start > before;
            match budget.failed(self.req, self.reporter, e, progressed) {
                Ok(wait) => tokio::time::sleep(wait).await,
                Err(e) => return WorkerEnd::Failed(e),
            }
        }
    }

    /// Opens the rest of the slot at `source` and streams it.
    async fn fetch(
        &self,
        source: &url::Url,
        slot: &Slot,
        tx: &mpsc::Sender<(u64, Bytes)>,
    ) -> Result<Option<RestartReason>, Error> {
        let want = slot.remaining();
        let state = self.state();
        let ask = Ask {
            start: want.start,
            end: Some(want.end),
            version: Some(&state),
        };
        let len = state.length.unwrap_or(want.end);
        match self.transport.open(source, ask).await? {
            Opened::Body {
                remote,
                from,
                end,
                body,
            } => {
                if self.learn(&remote.version) {
                    return self.changed(source);
                }
                let announced = from..end.unwrap_or(len);
                self.stream(body, announced, source, slot, tx).await
            }
            // RFC 9110 §13.1.5: the whole file instead of a segment means the file changed
            // (or the server ignores ranges): its bytes are never mixed with the segments.
            Opened::Whole {
                same_version: true, ..
            } => Ok(Some(RestartReason::RangeIgnored)),
            Opened::Whole { .. } | Opened::Changed => self.changed(source),
            // A segment always ends before the file does.
            Opened::Complete { .. } => Ok(Some(RestartReason::RangeNotSatisfiable)),
            // Another source resumes: the worker asks it next.
            Opened::Restart(RestartReason::ResumeRefused)
                if self.sources.refuses_resume(source) =>
            {
                Ok(None)
            }
            Opened::Restart(reason) => Ok(Some(reason)),
        }
    }

    /// Takes in what an answer adds to the version (checked against the version as known
    /// now, which another segment may have added to since this request was sent); true when
    /// the answer contradicts it.
    fn learn(&self, seen: &crate::version::Version) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match self.transport.learn(&state.version, seen) {
            Learnt::Nothing => false,
            Learnt::More(version) => {
                state.version = version;
                self.learnt.store(true, Ordering::Release);
                false
            }
            Learnt::Conflict => true,
        }
    }

    /// `source` answered with another version: a mirror is dropped (the worker retries
    /// elsewhere); the last source means the remote file changed.
    fn changed(&self, source: &url::Url) -> Result<Option<RestartReason>, Error> {
        if self.sources.is_dropped(source) {
            return Err(disagrees(source));
        }
        if self.sources.disagrees(source) {
            self.reporter.report(Event::MirrorDropped {
                url: source,
                reason: crate::DropReason::Disagrees,
            });
            return Err(disagrees(source));
        }
        Ok(Some(RestartReason::RemoteChanged))
    }

    /// Streams a body that holds the bytes `announced` into the slot, up to the slot's end
    /// (which may move down while it runs). A body longer than announced is a protocol
    /// error: nothing past the announced end is ever written.
    async fn stream(
        &self,
        mut body: T::Body,
        announced: Range<u64>,
        source: &url::Url,
        slot: &Slot,
        tx: &mpsc::Sender<(u64, Bytes)>,
    ) -> Result<Option<RestartReason>, Error> {
        let mut at = announced.start;
        let mut ended = false;
        loop {
            let max = slot.remaining().end.saturating_sub(at);
            if max == 0 {
                break;
            }
            let Some(chunk) = body.next_chunk(max).await? else {
                ended = true;
                break;
            };
            if at + chunk.len() as u64 > announced.end {
                return Err(overlong(source, &announced));
            }
            if !self.deliver(&mut at, chunk, slot, tx).await {
                break;
            }
        }
        if slot.remaining().is_empty() {
            body.close(at).await?;
        } else if ended {
            return Err(Error::ShortBody {
                url: source.clone(),
                received: at,
                expected: slot.remaining().end,
            });
        }
        // Else the download is over (another connection failed or it was cancelled).
        Ok(None)
    }

    /// Hands what the slot still wants of `chunk` (which holds the bytes from `*at`) to the
    /// writer and moves the slot on; false once the slot wants nothing more (its end may have
    /// moved down while it ran) or the download is over.
    async fn deliver(
        &self,
        at: &mut u64,
        mut chunk: Bytes,
        slot: &Slot,
        tx: &mpsc::Sender<(u64, Bytes)>,
    ) -> bool {
        let Range { start: pos, end } = slot.remaining();
        let chunk_end = *at + chunk.len() as u64;
        if chunk_end <= pos {
            *at = chunk_end;
            return true;
        }
        if *at < pos {
            chunk = chunk.slice((pos - *at) as usize..);
            *at = pos;
        }
        if *at >= end {
            return false;
        }
        if *at + chunk.len() as u64 > end {
            chunk.truncate((end - *at) as usize);
        }
        let n = chunk.len() as u64;
        if let Some(limiter) = self.limiter {
            limiter.take(n).await;
        }
        if tx.send((*at, chunk)).await.is_err() {
            return false;
        }
        *at += n;
        slot.pos.store(*at, Ordering::Release);
        *at < end
    }
}

/// Gives half of the largest running segment to a new connection, if it is worth splitting.
fn steal(slots: &[Arc<Slot>]) -> Option<Range<u64>> {
    let largest = slots.iter().max_by_key(|s| {
        let r = s.remaining();
        r.end.saturating_sub(r.start)
    })?;
    let mid = plan::split_point(&largest.remaining(), MIN_SPLIT)?;
    let end = largest.end.swap(mid, Ordering::AcqRel);
    Some(mid..end)
}

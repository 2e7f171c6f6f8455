//! The attempts of one download, for every protocol: the retry/restart loop, one stream or
//! segments over several connections, and the commit. Each attempt asks its [`Transport`]
//! for the bytes from the first one missing (up to the next held range, so that a state
//! with holes is filled exactly), and the stream writes at its own running offset, never past
//! the end its transport announced.

use std::sync::Arc;

use bytes::Bytes;
use url::Url;

use crate::download::commit::{
    Done, MAX_RESTARTS, Outcome, Paths, commit, disagrees, discard_if_empty, interrupted, overlong,
};
use crate::download::mirrors::{DropReason, Sources};
use crate::download::prepare::{First, OVERLAP, Start};
use crate::download::split::{self, Split, SplitEnd};
use crate::download::transport::{Ask, Body, Learnt, Opened, Remote, Transport};
use crate::events::{Event, Reporter, RestartReason};
use crate::store::journal::{State, url_key};
use crate::store::part::PartFile;
use crate::store::rate::RateLimiter;
use crate::store::retry;
use crate::{Error, GetRequest};

/// How one attempt ended, short of an error.
enum Step<B> {
    /// All bytes are in the part file.
    Complete,
    /// One hole of the held ranges is filled; the next attempt asks for the next one.
    Filled,
    /// The partial must be dropped and the download started over.
    Restart(RestartReason),
    /// The source asked cannot serve this request (it refused to resume); the next attempt
    /// asks another.
    Elsewhere,
    /// Continue over several connections; the body starts at the given byte.
    Split(B, u64),
}

/// One download from its first attempt to its commit.
pub(crate) struct Attempts<'a, T: Transport> {
    req: &'a GetRequest,
    transport: &'a T,
    reporter: &'a dyn Reporter,
    paths: Paths,
    part: PartFile,
    resumed_from: u64,
    restarts: u32,
    warned_weak: bool,
    /// The URL and its mirrors.
    sources: Sources,
    /// The source of the last request (to charge a failure to).
    last_url: Url,
    /// Bytes written by this run.
    fetched: u64,
    /// Set when the server answered a segment with the whole file: no more splitting.
    no_split: bool,
    /// `--limit-rate`, shared by every connection.
    limiter: Option<Arc<RateLimiter>>,
}

impl<'a, T: Transport> Attempts<'a, T> {
    pub(crate) fn new(
        req: &'a GetRequest,
        transport: &'a T,
        reporter: &'a dyn Reporter,
        start: Start<T::Body>,
    ) -> (Attempts<'a, T>, First<T::Body>) {
        let attempts = Attempts {
            req,
            transport,
            reporter,
            paths: start.paths,
            part: start.part,
            resumed_from: start.resumed_from,
            restarts: 0,
            warned_weak: false,
            sources: Sources::new(&req.url, &req.mirrors),
            last_url: req.url.clone(),
            fetched: 0,
            no_split: false,
            limiter: req.rate_limiter(),
        };
        (attempts, start.first)
    }

    /// Runs attempts until the file is complete, a non-retryable error occurs, retries run
    /// out, or the request is cancelled; then commits. `first` is an answer already received
    /// (naming the file, or adopting an existing one) for the first attempt.
    pub(crate) async fn run(mut self, mut first: First<T::Body>) -> Result<Outcome, Error> {
        let mut budget = retry::Budget::default();
        loop {
            let before = self.part.have().total();
            let cancel = self.req.cancel.clone();
            let pending = first.take();
            let result = tokio::select! {
                r = self.step(pending) => Some(r),
                () = cancel.cancelled() => None,
            };
            let Some(result) = result else {
                return Err(interrupted(&mut self.part, &self.paths).await);
            };
            match result {
                Ok(Step::Complete) => break,
                Ok(Step::Filled | Step::Elsewhere) => {}
                Ok(Step::Restart(reason)) => self.restart(reason).await?,
                Ok(Step::Split(..)) => unreachable!("step() runs the split"),
                Err(e) => {
                    self.part.checkpoint_now().await?;
                    if e.is_retryable()
                        && let Some(reason) = self.sources.failed(&self.last_url)
                    {
                        self.reporter.report(Event::MirrorDropped {
                            url: &self.last_url,
                            reason,
                        });
                    }
                    let progressed = self.part.have().total() > before;
                    let wait = match budget.failed(self.req, self.reporter, e, progressed) {
                        Ok(wait) => wait,
                        Err(e) => {
                            // After a final failure with no byte on disk (a 404, say), nothing
                            // is left behind: never an error page under the output name.
                            discard_if_empty(&self.part, &self.paths)?;
                            return Err(e);
                        }
                    };
                    let slept = tokio::select! {
                        () = tokio::time::sleep(wait) => true,
                        () = cancel.cancelled() => false,
                    };
                    if !slept {
                        return Err(interrupted(&mut self.part, &self.paths).await);
                    }
                }
            }
        }
        let digest = self.part.state().and_then(|s| self.transport.digest(&s));
        let done = Done {
            resumed_from: self.resumed_from,
            fetched: self.fetched,
            digest,
        };
        commit(self.req, self.reporter, self.paths, self.part, done).await
    }

    /// Drops the partial and starts again from byte 0.
    async fn restart(&mut self, reason: RestartReason) -> Result<(), Error> {
        self.count_restart(reason)?;
        let fresh = State::fresh(&self.req.url);
        self.part.begin(fresh).await
    }

    /// Counts and reports a restart; too many in one run is an error.
    fn count_restart(&mut self, reason: RestartReason) -> Result<(), Error> {
        self.restarts += 1;
        if self.restarts > MAX_RESTARTS {
            let mut url = self.req.url.clone();
            let _ = url.set_password(None);
            return Err(Error::TooManyRestarts { url, reason });
        }
        self.reporter.report(Event::Restarted { reason });
        Ok(())
    }

    /// One attempt: a split download when the state allows one, else one request (which
    /// may turn into a split download once its answer shows the remote can).
    async fn step(&mut self, pending: First<T::Body>) -> Result<Step<T::Body>, Error> {
        if pending.is_none() && self.splittable() {
            let resumed_from = self.part.have().total();
            self.reporter.report(Event::Started {
                path: &self.paths.dest,
                total: self.part.state().and_then(|s| s.length),
                resumed_from,
            });
            return self.split(None).await;
        }
        match self.attempt(pending).await? {
            Step::Split(body, start) => self.split(Some((body, start))).await,
            step => Ok(step),
        }
    }

    /// Whether the rest of the file can be fetched as segments: its length is known and its
    /// version can be proven on every connection, bytes are missing, and either several
    /// connections are wanted or the held bytes have holes (left by an earlier split run).
    fn splittable(&self) -> bool {
        let Some(state) = self.part.state() else {
            return false;
        };
        let Some(len) = state.length else {
            return false;
        };
        if self.no_split || !self.transport.proves(&state) {
            return false;
        }
        let have = self.part.have();
        let missing: u64 = have.missing(len).iter().map(|r| r.end - r.start).sum();
        let holes = have.ranges().len() > 1 || (!have.is_empty() && have.prefix_end() == 0);
        missing > 0 && (holes || (self.req.connections > 1 && missing >= 2 * split::MIN_SPLIT))
    }

    async fn split(&mut self, first: Option<(T::Body, u64)>) -> Result<Step<T::Body>, Error> {
        let state = self
            .part
            .state()
            .expect("split after a state with a length");
        let length = state.length.expect("split after a state with a length");
        let split = Split {
            req: self.req,
            transport: self.transport,
            reporter: self.reporter,
            state: std::sync::Mutex::new(state),
            learnt: std::sync::atomic::AtomicBool::new(false),
            limiter: self.limiter.as_deref(),
            sources: &self.sources,
        };
        // A first body (the whole file from byte `start`) serves the segment it starts in.
        let first = first.map(|(body, start)| (body, start..length));
        let end = split.run(&mut self.part, &mut self.fetched, first).await;
        self.reporter.report(Event::Connections { active: 0 });
        match end? {
            SplitEnd::Complete => Ok(Step::Complete),
            SplitEnd::Restart(reason) => {
                if reason == RestartReason::RangeIgnored {
                    self.no_split = true;
                }
                Ok(Step::Restart(reason))
            }
        }
    }

    /// One request and its body: the first missing byte onwards, up to the next held range
    /// when the held bytes have holes (so exactly the holes are fetched, one per attempt).
    async fn attempt(&mut self, pending: First<T::Body>) -> Result<Step<T::Body>, Error> {
        let offset = self.part.written();
        let hole_end = self
            .part
            .have()
            .ranges()
            .iter()
            .find(|r| r.start > offset)
            .map(|r| r.start);
        let held = offset > 0 || hole_end.is_some();
        let state = self
            .part
            .state()
            .unwrap_or_else(|| State::fresh(&self.req.url));
        let mut check = None;
        let opened = match pending {
            Some(opened) => opened?,
            None => {
                // Without a strong validator nothing proves that the remote file is still the
                // one the held bytes came from: the bytes before the offset are asked for
                // too, in the same request, and compared before anything is written.
                let back = if held && !self.transport.proves(&state) {
                    offset.min(OVERLAP)
                } else {
                    0
                };
                if back > 0 {
                    let from = offset - back;
                    let expected = self.part.read_at(from..offset).await?;
                    check = Some(Overlap { from, expected });
                }
                let ask = Ask {
                    start: offset - back,
                    end: hole_end,
                    version: held.then_some(&state),
                };
                self.last_url = self.sources.pick(held);
                self.transport.open(&self.last_url, ask).await?
            }
        };
        self.sources.succeeded(&self.last_url);
        match opened {
            Opened::Body {
                remote,
                from,
                end,
                body,
            } if held => {
                match self.transport.learn(&state.version, &remote.version) {
                    Learnt::Nothing => {}
                    Learnt::More(version) => self.part.set_version(version),
                    Learnt::Conflict => return self.changed(),
                }
                self.part.set_length(remote.length);
                self.reporter.report(Event::Started {
                    path: &self.paths.dest,
                    total: remote.length,
                    resumed_from: offset,
                });
                // A body that starts earlier than asked is usable: the overlap is skipped.
                let piece = Piece {
                    from,
                    announced: end,
                    want: offset,
                    stop: hole_end.or(remote.length),
                    check,
                };
                self.stream(body, piece, &remote.url).await
            }
            Opened::Body {
                remote, end, body, ..
            } => self.fresh(remote, end, body).await,
            Opened::Whole {
                remote,
                same_version,
                body,
            } => {
                let reason = match (held, same_version) {
                    (false, _) => None,
                    (true, true) => Some(RestartReason::RangeIgnored),
                    (true, false) if self.drop_mirror() => return Err(disagrees(&remote.url)),
                    (true, false) => Some(RestartReason::RemoteChanged),
                };
                if let Some(reason) = reason {
                    self.count_restart(reason)?;
                }
                let end = remote.length;
                self.fresh(remote, end, body).await
            }
            Opened::Complete { length } => {
                self.part.set_length(Some(length));
                self.reporter.report(Event::Started {
                    path: &self.paths.dest,
                    total: Some(length),
                    resumed_from: offset,
                });
                Ok(Step::Complete)
            }
            Opened::Changed => self.changed(),
            Opened::Restart(RestartReason::ResumeRefused)
                if held && self.sources.refuses_resume(&self.last_url) =>
            {
                Ok(Step::Elsewhere)
            }
            Opened::Restart(reason) => Ok(Step::Restart(reason)),
        }
    }

    /// A body of the whole file from byte 0 (nothing held, or what was held is dropped):
    /// written from 0 under a fresh state with the remote's version, never appended; or
    /// split over several connections when the remote allows it.
    async fn fresh(
        &mut self,
        remote: Remote,
        end: Option<u64>,
        body: T::Body,
    ) -> Result<Step<T::Body>, Error> {
        let length = remote.length;
        let fresh = State {
            final_url: url_key(&remote.url),
            length,
            version: remote.version,
            ..State::fresh(&self.req.url)
        };
        if !self.transport.proves(&fresh) && !self.warned_weak {
            self.warned_weak = true;
            self.reporter.report(Event::NoStrongValidator);
        }
        let can_split = self.req.connections > 1
            && !self.no_split
            && remote.splittable
            && self.transport.proves(&fresh)
            && length.is_some_and(|l| l >= 2 * split::MIN_SPLIT);
        self.part.begin(fresh).await?;
        self.reporter.report(Event::Started {
            path: &self.paths.dest,
            total: length,
            resumed_from: 0,
        });
        if can_split {
            return Ok(Step::Split(body, 0));
        }
        let piece = Piece {
            from: 0,
            announced: end,
            want: 0,
            stop: length,
            check: None,
        };
        self.stream(body, piece, &remote.url).await
    }

    /// The last source answered with another version: drop it if it is a mirror (and
    /// retry elsewhere), else the remote file changed.
    fn changed(&self) -> Result<Step<T::Body>, Error> {
        if self.drop_mirror() {
            return Err(disagrees(&self.last_url));
        }
        Ok(Step::Restart(RestartReason::RemoteChanged))
    }

    /// The bytes before the resume point differ from the partial's: another version of the
    /// file (a mirror is dropped, the last source means a restart).
    fn overlap_differs(&self) -> Result<Step<T::Body>, Error> {
        if self.drop_mirror() {
            return Err(disagrees(&self.last_url));
        }
        Ok(Step::Restart(RestartReason::OverlapDiffers))
    }

    /// Drops the last source if another remains, saying so.
    fn drop_mirror(&self) -> bool {
        if self.sources.is_dropped(&self.last_url) {
            return true;
        }
        let dropped = self.sources.disagrees(&self.last_url);
        if dropped {
            self.reporter.report(Event::MirrorDropped {
                url: &self.last_url,
                reason: DropReason::Disagrees,
            });
        }
        dropped
    }

    /// Streams a body into the part file. The stream owns its offset: each chunk is written
    /// where its bytes belong (from `piece.from` on), whatever else the part file holds.
    async fn stream(
        &mut self,
        mut body: T::Body,
        piece: Piece,
        url: &Url,
    ) -> Result<Step<T::Body>, Error> {
        let mut at = piece.from;
        if piece.check.as_ref().is_some_and(|c| c.from < piece.from) {
            // The body starts after the bytes to compare (transports never answer so).
            return self.overlap_differs();
        }
        if piece.check.is_none() && piece.stop.is_some_and(|stop| stop <= piece.want) {
            // Nothing wanted (FTP: `RETR` from the end): the transport checks that nothing
            // follows.
            body.close(at).await?;
            return Ok(self.stopped());
        }
        loop {
            let max = piece.stop.map_or(u64::MAX, |stop| stop.saturating_sub(at));
            let Some(chunk) = body.next_chunk(max).await? else {
                break;
            };
            let chunk_start = at;
            at += chunk.len() as u64;
            if let Some(check) = &piece.check
                && !check.agrees(&chunk, chunk_start)
            {
                return self.overlap_differs();
            }
            if piece.announced.is_some_and(|end| at > end) {
                // Nothing past the announced end is written, nor anything after it.
                let range = piece.from..piece.announced.unwrap_or(at);
                return Err(overlong(url, &range));
            }
            let Some(bytes) = piece.cut(chunk, chunk_start) else {
                continue;
            };
            let n = bytes.len() as u64;
            let write_at = chunk_start.max(piece.want);
            if let Some(limiter) = &self.limiter {
                limiter.take(n).await;
            }
            self.part.write(write_at, bytes).await?;
            self.fetched += n;
            self.reporter.report(Event::Progress { bytes: n });
            self.part.maybe_checkpoint().await?;
            if piece.stop.is_some_and(|stop| write_at + n >= stop) {
                body.close(at).await?;
                return Ok(self.stopped());
            }
        }
        match piece.stop {
            Some(expected) if at < expected => Err(Error::ShortBody {
                url: url.clone(),
                received: at,
                expected,
            }),
            _ => {
                body.close(at).await?;
                Ok(Step::Complete)
            }
        }
    }

    /// The step after a stream reached the end it was asked to fill.
    fn stopped(&self) -> Step<T::Body> {
        let done = match self.part.state().and_then(|s| s.length) {
            Some(len) => self.part.have().covers(len),
            // Only the server can say where a file of unknown length ends (416 `bytes */N`).
            None => false,
        };
        if done { Step::Complete } else { Step::Filled }
    }
}

/// Where one body's bytes go.
struct Piece {
    /// The offset of the body's first byte.
    from: u64,
    /// Where the transport said the body ends (a 206's `Content-Range`, a 200's length,
    /// FTP's `SIZE`).
    announced: Option<u64>,
    /// The first byte wanted (bytes before it are already held).
    want: u64,
    /// Where to stop writing: the end of the hole being filled, or the file's length.
    stop: Option<u64>,
    /// Held bytes the body must repeat before `want` (a resume without a strong validator).
    check: Option<Overlap>,
}

/// The held bytes from `from` on, which a body must repeat exactly.
struct Overlap {
    from: u64,
    expected: Bytes,
}

impl Overlap {
    /// Whether `chunk` (which holds the bytes from `at`) agrees with the expected bytes
    /// where the two meet.
    fn agrees(&self, chunk: &[u8], at: u64) -> bool {
        let end = self.from + self.expected.len() as u64;
        let start = at.max(self.from);
        let stop = (at + chunk.len() as u64).min(end);
        if start >= stop {
            return true;
        }
        let got = &chunk[(start - at) as usize..(stop - at) as usize];
        got == &self.expected[(start - self.from) as usize..(stop - self.from) as usize]
    }
}

impl Piece {
    /// The part of `chunk` (which holds the bytes from `at`) between `want` and `stop`.
    fn cut(&self, mut chunk: Bytes, at: u64) -> Option<Bytes> {
        let end = at + chunk.len() as u64;
        if end <= self.want {
            return None;
        }
        if at < self.want {
            chunk = chunk.slice((self.want - at) as usize..);
        }
        let start = at.max(self.want);
        if let Some(stop) = self.stop {
            if start >= stop {
                return None;
            }
            chunk.truncate((stop - start).min(chunk.len() as u64) as usize);
        }
        (!chunk.is_empty()).then_some(chunk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlap_compares_only_where_a_chunk_meets_it() {
        let check = Overlap {
            from: 10,
            expected: Bytes::from_static(b"abcd"),
        };
        // (chunk, the offset of its first byte, agrees)
        let table: &[(&[u8], u64, bool)] = &[
            (b"xxxxxxxxxx", 0, true), // before the overlap
            (b"xxabcdyy", 8, true),   // around it
            (b"xxabXdyy", 8, false),  // one byte differs
            (b"cd", 12, true),        // its end
            (b"cX", 12, false),
            (b"xxxa", 7, true), // its start
            (b"xxxZ", 7, false),
            (b"zzzz", 14, true), // after it
            (b"", 11, true),
        ];
        for (chunk, at, want) in table {
            assert_eq!(check.agrees(chunk, *at), *want, "{chunk:?} at {at}");
        }
    }
}

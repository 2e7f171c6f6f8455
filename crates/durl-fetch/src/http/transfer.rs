//! One download from start to commit: recover, request, check, stream, retry, commit.

use std::sync::Arc;

use reqwest::{Client, Response};

use crate::download::commit::{
    MAX_RESTARTS, Outcome, Paths, commit, disagrees, discard_if_empty, interrupted, overlong,
};
use crate::download::mirrors::{DropReason, Sources};
use crate::download::split::{self, Split, SplitEnd};
use crate::events::{Event, Reporter, RestartReason};
use crate::http::transport::{HttpBody, HttpTransport};
use crate::http::validator::Validators;
use crate::http::{self, Asked, Held, RangeAsk, Verdict};
use crate::store::journal::{State, url_key};
use crate::store::part::PartFile;
use crate::store::rate::RateLimiter;
use crate::store::retry;
use crate::{Error, GetRequest};

/// How one attempt ended, short of an error.
enum Step {
    /// All bytes are in the part file.
    Complete,
    /// One hole of the held ranges is filled; the next attempt asks for the next one.
    Filled,
    /// The partial must be dropped and the download started over.
    Restart(RestartReason),
    /// Continue over several connections; the response's body starts at the given byte.
    Split(Response, u64),
}

pub(crate) struct Transfer<'a> {
    pub(crate) req: &'a GetRequest,
    pub(crate) client: Client,
    pub(crate) reporter: &'a dyn Reporter,
    pub(crate) paths: Paths,
    pub(crate) part: PartFile,
    pub(crate) resumed_from: u64,
    pub(crate) restarts: u32,
    pub(crate) warned_weak: bool,
    /// The URL and its mirrors.
    pub(crate) sources: Sources,
    /// The source of the last request (to charge a failure to).
    pub(crate) last_url: url::Url,
    /// Bytes written by this run.
    pub(crate) fetched: u64,
    /// Set when the server answered a segment with the whole file: no more splitting.
    pub(crate) no_split: bool,
    /// `--limit-rate`, shared by every connection.
    pub(crate) limiter: Option<Arc<RateLimiter>>,
}

impl Transfer<'_> {
    /// Runs attempts until the file is complete, a non-retryable error occurs, retries run
    /// out, or the request is cancelled; then commits. `first` is a response already
    /// received (from adopting an existing file) to use for the first attempt.
    pub(crate) async fn run(mut self, mut first: Option<Response>) -> Result<Outcome, Error> {
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
                return Err(self.interrupted().await);
            };
            match result {
                Ok(Step::Complete) => break,
                Ok(Step::Filled) => {}
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
                            self.discard_if_empty()?;
                            return Err(e);
                        }
                    };
                    let slept = tokio::select! {
                        () = tokio::time::sleep(wait) => true,
                        () = cancel.cancelled() => false,
                    };
                    if !slept {
                        return Err(self.interrupted().await);
                    }
                }
            }
        }
        self.commit().await
    }

    /// After a final failure with no byte on disk (a 404, say), leaves nothing behind: no
    /// empty part file, no state, and never an error page under the output name.
    fn discard_if_empty(&self) -> Result<(), Error> {
        discard_if_empty(&self.part, &self.paths)
    }

    async fn interrupted(&mut self) -> Error {
        interrupted(&mut self.part, &self.paths).await
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
            return Err(Error::TooManyRestarts {
                url: self.req.url.clone(),
                reason,
            });
        }
        self.reporter.report(Event::Restarted { reason });
        Ok(())
    }

    /// One attempt: a split download when the state allows one, else one request (which
    /// may turn into a split download once its answer shows the server can).
    async fn step(&mut self, pending: Option<Response>) -> Result<Step, Error> {
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
            Step::Split(resp, start) => self.split(Some((resp, start))).await,
            step => Ok(step),
        }
    }

    /// Whether the rest of the file can be fetched as segments: its length and a validator
    /// for `If-Range` are known, bytes are missing, and either several connections are
    /// wanted or the held bytes have holes (left by an earlier split run).
    fn splittable(&self) -> bool {
        let Some(state) = self.part.state() else {
            return false;
        };
        let Some(len) = state.length else {
            return false;
        };
        if self.no_split || state.validators.if_range.is_none() {
            return false;
        }
        let have = self.part.have();
        let missing: u64 = have.missing(len).iter().map(|r| r.end - r.start).sum();
        let holes = have.ranges().len() > 1 || (!have.is_empty() && have.prefix_end() == 0);
        missing > 0 && (holes || (self.req.connections > 1 && missing >= 2 * split::MIN_SPLIT))
    }

    async fn split(&mut self, first: Option<(Response, u64)>) -> Result<Step, Error> {
        let state = self
            .part
            .state()
            .expect("split after a state with a length");
        let length = state.length.expect("split after a state with a length");
        let transport = HttpTransport {
            client: &self.client,
            req: self.req,
        };
        let split = Split {
            req: self.req,
            transport: &transport,
            reporter: self.reporter,
            state,
            limiter: self.limiter.as_deref(),
            sources: &self.sources,
        };
        // A first response (a 200 from byte `start`) serves the segment it starts in.
        let first = first.map(|(resp, start)| {
            let body = HttpBody::new(resp, self.req.network.stall_timeout);
            (body, start..length)
        });
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
    async fn attempt(&mut self, pending: Option<Response>) -> Result<Step, Error> {
        let offset = self.part.written();
        let hole_end = self
            .part
            .have()
            .ranges()
            .iter()
            .find(|r| r.start > offset)
            .map(|r| r.start);
        let state = self
            .part
            .state()
            .unwrap_or_else(|| State::fresh(&self.req.url));
        let resp = match pending {
            Some(resp) => resp,
            None => {
                let if_range = state.validators.if_range.as_deref();
                let ask = match hole_end {
                    Some(end) => RangeAsk::Bounded {
                        range: offset..end,
                        if_range,
                    },
                    None if offset > 0 => RangeAsk::From {
                        start: offset,
                        if_range,
                    },
                    None => RangeAsk::None,
                };
                self.last_url = self.sources.pick();
                http::send(&self.client, self.req, &self.last_url, false, ask).await?
            }
        };
        let url = resp.url().clone();
        let seen = Validators::from_headers(resp.headers());
        self.sources.succeeded(&self.last_url);
        let asked = Asked {
            start: offset,
            ranged: offset > 0 || hole_end.is_some(),
            length: state.length,
        };
        match http::classify(&resp, asked, state.validators.same_version_as(&seen)) {
            Verdict::Partial { range, length } => {
                self.part.set_length(length);
                self.reporter.report(Event::Started {
                    path: &self.paths.dest,
                    total: length,
                    resumed_from: offset,
                });
                // A 206 that starts earlier than asked is usable: the overlap is skipped.
                let body = Body {
                    from: range.start,
                    announced: Some(range.end),
                    want: offset,
                    stop: hole_end.or(length),
                };
                self.stream(resp, body).await
            }
            Verdict::Whole { length, held } => {
                let reason = match held {
                    Held::Nothing => None,
                    Held::SameVersion => Some(RestartReason::RangeIgnored),
                    Held::OtherVersion if self.drop_mirror() => return Err(disagrees(&url)),
                    Held::OtherVersion => Some(RestartReason::RemoteChanged),
                };
                if let Some(reason) = reason {
                    self.count_restart(reason)?;
                }
                // RFC 9110 §15.3.1: a 200 carries the whole representation; write it from 0,
                // never append it.
                let fresh = State {
                    final_url: url_key(&url),
                    length,
                    validators: seen,
                    ..State::fresh(&self.req.url)
                };
                if fresh.validators.if_range.is_none() && !self.warned_weak {
                    self.warned_weak = true;
                    self.reporter.report(Event::NoStrongValidator);
                }
                let can_split = self.req.connections > 1
                    && !self.no_split
                    && fresh.validators.if_range.is_some()
                    && length.is_some_and(|l| l >= 2 * split::MIN_SPLIT)
                    && accepts_ranges(&resp);
                self.part.begin(fresh).await?;
                self.reporter.report(Event::Started {
                    path: &self.paths.dest,
                    total: length,
                    resumed_from: 0,
                });
                if can_split {
                    return Ok(Step::Split(resp, 0));
                }
                let body = Body {
                    from: 0,
                    announced: length,
                    want: 0,
                    stop: length,
                };
                self.stream(resp, body).await
            }
            Verdict::Complete { length } => {
                self.part.set_length(Some(length));
                self.reporter.report(Event::Started {
                    path: &self.paths.dest,
                    total: Some(length),
                    resumed_from: offset,
                });
                Ok(Step::Complete)
            }
            Verdict::Changed => self.changed(),
            Verdict::Restart(reason) => Ok(Step::Restart(reason)),
            Verdict::Invalid(detail) => Err(bad_range(&url, detail)),
            Verdict::Failed => Err(http::status_error(&resp)),
        }
    }

    /// The last source answered with another version: drop it if it is a mirror (and
    /// retry elsewhere), else the remote file changed.
    fn changed(&self) -> Result<Step, Error> {
        if self.drop_mirror() {
            return Err(disagrees(&self.last_url));
        }
        Ok(Step::Restart(RestartReason::RemoteChanged))
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
    /// where its bytes belong (from `body.from` on), whatever else the part file holds.
    async fn stream(&mut self, mut resp: Response, body: Body) -> Result<Step, Error> {
        let url = resp.url().clone();
        let mut at = body.from;
        if body.stop.is_some_and(|stop| stop <= body.want) {
            return Ok(self.stopped());
        }
        while let Some(chunk) =
            http::next_chunk(&mut resp, self.req.network.stall_timeout, &url).await?
        {
            let chunk_start = at;
            at += chunk.len() as u64;
            if body.announced.is_some_and(|end| at > end) {
                // Nothing past the announced end is written, nor anything after it.
                let range = body.from..body.announced.unwrap_or(at);
                return Err(overlong(&url, &range));
            }
            let Some(piece) = body.piece(chunk, chunk_start) else {
                continue;
            };
            let n = piece.len() as u64;
            let write_at = chunk_start.max(body.want);
            if let Some(limiter) = &self.limiter {
                limiter.take(n).await;
            }
            self.part.write(write_at, piece).await?;
            self.fetched += n;
            self.reporter.report(Event::Progress { bytes: n });
            self.part.maybe_checkpoint().await?;
            if body.stop.is_some_and(|stop| write_at + n >= stop) {
                return Ok(self.stopped());
            }
        }
        match body.stop {
            Some(expected) if at < expected => Err(Error::ShortBody {
                url,
                received: at,
                expected,
            }),
            _ => Ok(Step::Complete),
        }
    }

    /// The step after a stream reached the end it was asked to fill.
    fn stopped(&self) -> Step {
        let done = match self.part.state().and_then(|s| s.length) {
            Some(len) => self.part.have().covers(len),
            // Only the server can say where a file of unknown length ends (416 `bytes */N`).
            None => false,
        };
        if done { Step::Complete } else { Step::Filled }
    }

    /// Makes the finished file durable under its final name and removes the state.
    async fn commit(self) -> Result<Outcome, Error> {
        let Transfer {
            req,
            reporter,
            paths,
            part,
            resumed_from,
            fetched,
            ..
        } = self;
        commit(req, reporter, paths, part, resumed_from, fetched).await
    }
}

/// RFC 9110 §14.3: `Accept-Ranges: bytes` says the server takes byte ranges.
fn accepts_ranges(resp: &Response) -> bool {
    resp.headers()
        .get_all(reqwest::header::ACCEPT_RANGES)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|unit| unit.trim().eq_ignore_ascii_case("bytes"))
}

/// Where one body's bytes go.
struct Body {
    /// The offset of the body's first byte.
    from: u64,
    /// Where the transport said the body ends (a 206's `Content-Range`, a 200's length).
    announced: Option<u64>,
    /// The first byte wanted (bytes before it are already held).
    want: u64,
    /// Where to stop writing: the end of the hole being filled, or the file's length.
    stop: Option<u64>,
}

impl Body {
    /// The part of `chunk` (which holds the bytes from `at`) between `want` and `stop`.
    fn piece(&self, mut chunk: bytes::Bytes, at: u64) -> Option<bytes::Bytes> {
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

fn bad_range(url: &url::Url, detail: String) -> Error {
    Error::BadRange {
        url: url.clone(),
        detail,
    }
}

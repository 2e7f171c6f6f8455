//! One download from start to commit: recover, request, check, stream, retry, commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use reqwest::{Client, Response};

use crate::content_range::ContentRange;
use crate::durable;
use crate::events::{Event, Reporter, RestartReason};
use crate::http::{self, RangeAsk};
use crate::journal::{State, url_key};
use crate::part::PartFile;
use crate::rate::RateLimiter;
use crate::segments::{self, Split, SplitEnd};
use crate::sources::{DropReason, Sources};
use crate::validator::Validators;
use crate::verify::{self, Checksum};
use crate::{Error, GetRequest, retry};

/// How often the partial may be thrown away in one run before giving up (a server whose file
/// changes on every request would otherwise loop forever).
const MAX_RESTARTS: u32 = 3;

/// What a successful download did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// The final file.
    pub path: PathBuf,
    /// Its length.
    pub bytes: u64,
    /// Bytes that were already on disk when this run started.
    pub resumed_from: u64,
    /// Bytes written by this run.
    pub fetched: u64,
    /// True when the file was already complete and nothing was downloaded.
    pub already_complete: bool,
}

/// The paths that belong to one destination.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) dest: PathBuf,
    pub(crate) part: PathBuf,
    pub(crate) state: PathBuf,
}

impl Paths {
    pub(crate) fn new(dest: PathBuf) -> Paths {
        Paths {
            part: durable::sibling(&dest, ".durl-part"),
            state: durable::sibling(&dest, ".durl-state"),
            dest,
        }
    }

    /// Whether any of the three files exists (an earlier run left something).
    pub(crate) fn any_exists(&self) -> bool {
        self.dest.exists() || self.part.exists() || self.state.exists()
    }
}

/// How one attempt ended, short of an error.
enum Step {
    /// All bytes are in the part file.
    Complete,
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
        missing > 0 && (holes || (self.req.connections > 1 && missing >= 2 * segments::MIN_SPLIT))
    }

    async fn split(&mut self, first: Option<(Response, u64)>) -> Result<Step, Error> {
        let state = self
            .part
            .state()
            .expect("split after a state with a length");
        let split = Split {
            req: self.req,
            fetcher: segments::Fetcher::Http(&self.client),
            reporter: self.reporter,
            state,
            limiter: self.limiter.as_deref(),
            sources: &self.sources,
        };
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

    /// One request and its body.
    async fn attempt(&mut self, pending: Option<Response>) -> Result<Step, Error> {
        let offset = self.part.written();
        let state = self
            .part
            .state()
            .unwrap_or_else(|| State::fresh(&self.req.url));
        let resp = match pending {
            Some(resp) => resp,
            None => {
                let ask = if offset > 0 {
                    RangeAsk::From {
                        start: offset,
                        if_range: state.validators.if_range.as_deref(),
                    }
                } else {
                    RangeAsk::None
                };
                self.last_url = self.sources.pick();
                http::send(&self.client, self.req, &self.last_url, false, ask).await?
            }
        };
        let url = resp.url().clone();
        let seen = Validators::from_headers(resp.headers());
        self.sources.succeeded(&self.last_url);
        match resp.status().as_u16() {
            206 => {
                if offset == 0 {
                    return Err(bad_range(&url, "206 to a request without Range".into()));
                }
                let Some(ContentRange::Satisfied { range, complete }) = http::content_range(&resp)
                else {
                    return Err(bad_range(&url, "206 without a valid Content-Range".into()));
                };
                // RFC 9110 §13.1.5: the server honoured If-Range, but a server that ignores
                // If-Range would splice a new version onto old bytes; check ourselves too.
                if !state.validators.same_version_as(&seen)
                    || state.length.zip(complete).is_some_and(|(len, c)| len != c)
                {
                    return self.changed();
                }
                if range.start > offset || range.end <= offset {
                    return Err(bad_range(
                        &url,
                        format!(
                            "asked for bytes from {offset}, got {}-{}",
                            range.start,
                            range.end - 1
                        ),
                    ));
                }
                let length = state.length.or(complete);
                self.part.set_length(length);
                self.reporter.report(Event::Started {
                    path: &self.paths.dest,
                    total: length,
                    resumed_from: offset,
                });
                // A 206 that starts earlier than asked is usable: skip the overlap.
                self.stream(resp, offset - range.start, length).await
            }
            200 | 203 => {
                if offset > 0 {
                    let reason = if state.validators.same_version_as(&seen) {
                        RestartReason::RangeIgnored
                    } else if self.drop_mirror() {
                        return Err(disagrees(&url));
                    } else {
                        RestartReason::RemoteChanged
                    };
                    self.count_restart(reason)?;
                }
                // RFC 9110 §15.3.1: a 200 carries the whole representation; write it from 0,
                // never append it.
                let length = http::content_length(&resp);
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
                    && length.is_some_and(|l| l >= 2 * segments::MIN_SPLIT)
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
                self.stream(resp, 0, length).await
            }
            416 => {
                // RFC 9110 §15.5.17: Content-Range: bytes */LEN tells the current length.
                let complete = match http::content_range(&resp) {
                    Some(ContentRange::Unsatisfied { complete }) => complete,
                    _ => return Ok(Step::Restart(RestartReason::RangeNotSatisfiable)),
                };
                if !state.validators.same_version_as(&seen)
                    || state.length.is_some_and(|l| l != complete)
                {
                    return self.changed();
                }
                if offset == complete && offset > 0 {
                    self.part.set_length(Some(complete));
                    self.reporter.report(Event::Started {
                        path: &self.paths.dest,
                        total: Some(complete),
                        resumed_from: offset,
                    });
                    Ok(Step::Complete)
                } else if offset > complete {
                    Ok(Step::Restart(RestartReason::PartialTooLong))
                } else {
                    Ok(Step::Restart(RestartReason::RangeNotSatisfiable))
                }
            }
            _ => Err(http::status_error(&resp)),
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

    /// Streams a body into the part file, skipping `skip` leading bytes and stopping at
    /// `length` (a longer body is cut there).
    async fn stream(
        &mut self,
        mut resp: Response,
        mut skip: u64,
        length: Option<u64>,
    ) -> Result<Step, Error> {
        let url = resp.url().clone();
        if length == Some(self.part.written()) {
            return Ok(Step::Complete);
        }
        while let Some(mut chunk) =
            http::next_chunk(&mut resp, self.req.stall_timeout, &url).await?
        {
            if skip > 0 {
                let n = skip.min(chunk.len() as u64) as usize;
                chunk = chunk.slice(n..);
                skip -= n as u64;
            }
            if let Some(len) = length {
                let room = len - self.part.written();
                if chunk.len() as u64 > room {
                    chunk.truncate(room as usize);
                }
            }
            if chunk.is_empty() {
                continue;
            }
            let n = chunk.len() as u64;
            if let Some(limiter) = &self.limiter {
                limiter.take(n).await;
            }
            let at = self.part.written();
            self.part.write(at, chunk).await?;
            self.fetched += n;
            self.reporter.report(Event::Progress { bytes: n });
            self.part.maybe_checkpoint().await?;
            if length == Some(self.part.written()) {
                return Ok(Step::Complete);
            }
        }
        match length {
            Some(expected) if self.part.written() < expected => Err(Error::ShortBody {
                url,
                received: self.part.written(),
                expected,
            }),
            _ => Ok(Step::Complete),
        }
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

/// After a final failure with no byte on disk (a 404, say), leaves nothing behind: no
/// empty part file, no state, and never an error page under the output name.
pub(crate) fn discard_if_empty(part: &PartFile, paths: &Paths) -> Result<(), Error> {
    if part.have().is_empty() {
        durable::remove(&paths.part).map_err(Error::io("cannot remove", &paths.part))?;
        durable::remove(&paths.state).map_err(Error::io("cannot remove", &paths.state))?;
    }
    Ok(())
}

/// The error for a cancelled download, after a final checkpoint.
pub(crate) async fn interrupted(part: &mut PartFile, paths: &Paths) -> Error {
    match part.checkpoint_now().await {
        Ok(durable) => Error::Interrupted {
            path: paths.dest.clone(),
            durable,
        },
        Err(e) => e,
    }
}

/// Makes the finished part file durable under its final name and removes the state (shared
/// by HTTP and FTP downloads).
pub(crate) async fn commit(
    req: &GetRequest,
    reporter: &dyn Reporter,
    paths: Paths,
    mut part: PartFile,
    resumed_from: u64,
    fetched: u64,
) -> Result<Outcome, Error> {
    let bytes = part.written();
    if req.checksum.is_some() {
        // On a mismatch the state must describe the whole part file that is kept.
        part.checkpoint_now().await?;
    }
    let Paths {
        dest,
        part: part_path,
        state,
    } = paths;
    let part_state = part.state().unwrap_or_else(|| State::fresh(&req.url));
    let file = part.finish(Some(bytes)).await?;
    if let Some(checksum) = &req.checksum {
        verify(checksum, &part_path).await?;
    }
    let mut mark = part_state;
    mark.have = crate::ranges::RangeSet::prefix(bytes);
    mark.length = Some(bytes);
    // A FIFO or device made under the output's name during the download is not renamed over.
    if let Ok(m) = std::fs::metadata(&dest) {
        crate::get::refuse_irregular(&dest, &m)?;
    }
    durable::rename(&part_path, &dest).map_err(Error::io("cannot rename into", &dest))?;
    crate::mark::set(&dest, &mark);
    // The lock goes with the part file's handle, after the rename made it the final file.
    drop(file);
    durable::remove(&state).map_err(Error::io("cannot remove", &state))?;
    reporter.report(Event::Finished {
        path: &dest,
        bytes,
        already_complete: false,
    });
    Ok(Outcome {
        path: dest,
        bytes,
        resumed_from,
        fetched,
        already_complete: false,
    })
}

/// Checks `path` against `checksum` (reading it on a blocking thread).
pub(crate) async fn verify(checksum: &Checksum, path: &Path) -> Result<(), Error> {
    let algorithm = checksum.algorithm;
    let owned = path.to_owned();
    let actual = tokio::task::spawn_blocking(move || verify::digest_file(algorithm, &owned))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
        .map_err(Error::io("cannot read", path))?;
    if actual == checksum.expected {
        return Ok(());
    }
    Err(Error::ChecksumMismatch {
        expected: checksum.to_string(),
        actual: format!("{algorithm}={}", verify::hex(&actual)),
        kept: path.to_owned(),
    })
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

/// The (retryable) error for a dropped mirror's answer: the next attempt goes elsewhere.
pub(crate) fn disagrees(url: &url::Url) -> Error {
    bad_range(
        url,
        "another version of the file than the other sources".into(),
    )
}

fn bad_range(url: &url::Url, detail: String) -> Error {
    Error::BadRange {
        url: url.clone(),
        detail,
    }
}

/// The outcome for a file found complete without downloading.
pub(crate) fn already_complete(reporter: &dyn Reporter, dest: &Path, bytes: u64) -> Outcome {
    reporter.report(Event::Finished {
        path: dest,
        bytes,
        already_complete: true,
    });
    Outcome {
        path: dest.to_owned(),
        bytes,
        resumed_from: bytes,
        fetched: 0,
        already_complete: true,
    }
}

//! `ftp://` downloads, with the part file, state file, retries and commit of HTTP
//! ([`crate::http::transfer`]): login (RFC 959 §4.1.1 `USER`/`PASS`; the URL's user, else
//! [`GetRequest::login`], else `.netrc`, else `anonymous`), `TYPE I`, passive mode (RFC 2428
//! `EPSV` if `FEAT` offers it, else `PASV`), `SIZE` and `MDTM` (RFC 3659 §4, §3) as length
//! and validator (`MDTM` is the state's `last-modified`), then `REST <offset>` (RFC 3659 §5)
//! and `RETR` on one connection, or segments over several ([`crate::ftp::transport`]). A
//! partial whose `SIZE` or `MDTM` changed is discarded; without `REST` the download starts
//! again from 0; a transfer longer or shorter than `SIZE` is never completed.

use crate::download::commit::{self, Outcome, Paths, already_complete};
use crate::download::mirrors::Sources;
use crate::download::ranges::RangeSet;
use crate::download::split::{MIN_SPLIT, Split, SplitEnd};
use crate::events::{Event, Reporter, RestartReason};
use crate::http::filename;
use crate::http::validator::Validators;
use crate::request::Destination;
use crate::store::journal::{State, url_key};
use crate::store::part::PartFile;
use crate::store::rate::RateLimiter;
use crate::store::retry;
use crate::{Error, GetRequest};
use session::Control;

mod data;
pub(crate) mod put;
mod session;
mod target;
mod transport;

use session::{connect_for_get, probe};
use target::{REST_REFUSED, Remote, Target, timed};
use transport::FtpTransport;

/// How often the partial may be thrown away in one run (as for HTTP).
const MAX_RESTARTS: u32 = 3;

/// How one attempt ended, short of an error.
enum Step {
    Complete,
    Restart(RestartReason),
}

struct FtpGet<'a> {
    req: &'a GetRequest,
    reporter: &'a dyn Reporter,
    target: Target,
    paths: Paths,
    part: PartFile,
    resumed_from: u64,
    fetched: u64,
    restarts: u32,
    warned_weak: bool,
    /// Cleared once the server refused `REST`.
    rest: bool,
    limiter: Option<std::sync::Arc<RateLimiter>>,
}

/// Downloads an `ftp://` URL: one stream, or segments over `connections` control
/// connections.
pub(crate) async fn get(req: &GetRequest, reporter: &dyn Reporter) -> Result<Outcome, Error> {
    let target = Target::for_request(req)?;
    let dest = match &req.destination {
        Destination::File(path) => path.clone(),
        Destination::Dir(dir) => dir.join(filename::choose(None, &req.url)),
    };
    let paths = Paths::new(dest);
    match std::fs::metadata(&paths.dest) {
        Ok(m) if m.is_dir() => {
            return Err(Error::io("cannot write to directory", &paths.dest)(
                std::io::Error::from(std::io::ErrorKind::IsADirectory),
            ));
        }
        Ok(m) if !m.is_file() => commit::refuse_irregular(&paths.dest, &m)?,
        Ok(m) if !req.overwrite => {
            let len = m.len();
            // Our own finished download, and the server still has that SIZE and MDTM.
            if let Some(mark) = crate::store::mark::get(&paths.dest, &req.url, len)
                && mark.validators.last_modified.is_some()
                && let Ok(mut session) = connect_for_get(&target, req).await
                && let Ok(remote) = probe(&target, req, &mut session.ftp).await
                && remote.size == Some(len)
                && remote.mdtm == mark.validators.last_modified
            {
                let _ = session.ftp.quit().await;
                if !paths.part.exists() {
                    // A run killed between the rename and removing the state left it.
                    crate::store::durable::remove(&paths.state)
                        .map_err(Error::io("cannot remove", &paths.state))?;
                }
                if let Some(checksum) = &req.checksum {
                    commit::verify(checksum, &paths.dest).await?;
                }
                return Ok(already_complete(reporter, &paths.dest, len));
            }
            return Err(Error::OutputExists { path: paths.dest });
        }
        _ => {}
    }
    let mut part = PartFile::open_locked(
        &paths.part,
        &paths.state,
        &paths.dest,
        req.checkpoint_interval,
        req.checkpoint_bytes,
    )?;
    let loaded = State::load(&paths.state).map_err(Error::io("cannot read", &paths.state))?;
    let state = match loaded {
        Some(Ok(state))
            if state.url == url_key(&req.url) && state.have.end() <= part.disk_len()? =>
        {
            state
        }
        None => State::fresh(&req.url),
        Some(_) => {
            reporter.report(Event::Restarted {
                reason: RestartReason::StateUnusable,
            });
            State::fresh(&req.url)
        }
    };
    let resumed_from = state.durable();
    part.begin(state).await?;
    FtpGet {
        req,
        reporter,
        target,
        paths,
        part,
        resumed_from,
        fetched: 0,
        restarts: 0,
        warned_weak: false,
        rest: true,
        limiter: req.rate_limiter(),
    }
    .run()
    .await
}

impl FtpGet<'_> {
    /// The retry loop of [`crate::http::transfer`]: attempts until complete, a final error, or
    /// cancellation; then the commit.
    async fn run(mut self) -> Result<Outcome, Error> {
        let mut budget = retry::Budget::default();
        loop {
            let before = self.part.have().total();
            let cancel = self.req.cancel.clone();
            let result = tokio::select! {
                r = self.attempt() => Some(r),
                () = cancel.cancelled() => None,
            };
            let Some(result) = result else {
                return Err(commit::interrupted(&mut self.part, &self.paths).await);
            };
            match result {
                Ok(Step::Complete) => break,
                Ok(Step::Restart(reason)) => self.restart(reason).await?,
                Err(e) => {
                    self.part.checkpoint_now().await?;
                    let progressed = self.part.have().total() > before;
                    let wait = match budget.failed(self.req, self.reporter, e, progressed) {
                        Ok(wait) => wait,
                        Err(e) => {
                            commit::discard_if_empty(&self.part, &self.paths)?;
                            return Err(e);
                        }
                    };
                    let slept = tokio::select! {
                        () = tokio::time::sleep(wait) => true,
                        () = cancel.cancelled() => false,
                    };
                    if !slept {
                        return Err(commit::interrupted(&mut self.part, &self.paths).await);
                    }
                }
            }
        }
        commit::commit(
            self.req,
            self.reporter,
            self.paths,
            self.part,
            self.resumed_from,
            self.fetched,
        )
        .await
    }

    /// Drops the partial and starts again from byte 0 (counted, as for HTTP).
    async fn restart(&mut self, reason: RestartReason) -> Result<(), Error> {
        self.restarts += 1;
        if self.restarts > MAX_RESTARTS {
            return Err(Error::TooManyRestarts {
                url: self.target.shown.clone(),
                reason,
            });
        }
        self.reporter.report(Event::Restarted { reason });
        self.part.begin(State::fresh(&self.req.url)).await
    }

    /// One control connection: login, probe, check the partial; then either the segments
    /// (each on its own connection) or `REST` + `RETR` and one stream on this one.
    async fn attempt(&mut self) -> Result<Step, Error> {
        let mut session = connect_for_get(&self.target, self.req).await?;
        self.rest &= session.rest;
        let remote = probe(&self.target, self.req, &mut session.ftp).await?;
        if let Some(step) = self.check_partial(&remote).await? {
            return Ok(step);
        }
        if self.splittable() {
            let _ = tokio::time::timeout(self.req.network.stall_timeout, session.ftp.quit()).await;
            return self.split().await;
        }
        let step = self.transfer(&mut session.ftp, remote).await;
        if step.is_ok() {
            let _ = tokio::time::timeout(self.req.network.stall_timeout, session.ftp.quit()).await;
        }
        step
    }

    /// Keeps the partial if the server still has its version (same `SIZE` and `MDTM`) and
    /// resumes; else starts a fresh state with the server's.
    async fn check_partial(&mut self, remote: &Remote) -> Result<Option<Step>, Error> {
        if !self.part.have().is_empty() {
            let state = self
                .part
                .state()
                .unwrap_or_else(|| State::fresh(&self.req.url));
            if state.length != remote.size || state.validators.last_modified != remote.mdtm {
                return Ok(Some(Step::Restart(RestartReason::RemoteChanged)));
            }
            if !self.rest {
                return Ok(Some(Step::Restart(RestartReason::ResumeRefused)));
            }
            return Ok(None);
        }
        if remote.mdtm.is_none() && !self.warned_weak {
            self.warned_weak = true;
            self.reporter.report(Event::NoStrongValidator);
        }
        let fresh = State {
            length: remote.size,
            validators: Validators {
                last_modified: remote.mdtm.clone(),
                ..Validators::default()
            },
            ..State::fresh(&self.req.url)
        };
        self.part.begin(fresh).await?;
        Ok(None)
    }

    /// Whether the rest comes as segments: the length (`SIZE`) and a validator (`MDTM`) are
    /// known, the server resumes (`REST`), bytes are missing, and either several connections
    /// are wanted or the held bytes have holes (left by an earlier split run).
    fn splittable(&self) -> bool {
        let Some(state) = self.part.state() else {
            return false;
        };
        let (Some(len), Some(_)) = (state.length, &state.validators.last_modified) else {
            return false;
        };
        if !self.rest {
            return false;
        }
        let have = self.part.have();
        let missing: u64 = have.missing(len).iter().map(|r| r.end - r.start).sum();
        let holes = have.ranges().len() > 1 || (!have.is_empty() && have.prefix_end() == 0);
        missing > 0 && (holes || (self.req.connections > 1 && missing >= 2 * MIN_SPLIT))
    }

    /// The missing bytes as segments over up to `connections` control connections, through
    /// the planner, workers and single writer that HTTP uses ([`crate::download::split`]).
    async fn split(&mut self) -> Result<Step, Error> {
        let state = self
            .part
            .state()
            .expect("split after a state with a length");
        self.reporter.report(Event::Started {
            path: &self.paths.dest,
            total: state.length,
            resumed_from: self.part.have().total(),
        });
        let sources = Sources::new(&self.req.url, &[]);
        let transport = FtpTransport {
            target: &self.target,
            req: self.req,
            limited: self.limiter.is_some(),
        };
        let split = Split {
            req: self.req,
            transport: &transport,
            reporter: self.reporter,
            state,
            limiter: self.limiter.as_deref(),
            sources: &sources,
        };
        let end = split.run(&mut self.part, &mut self.fetched, None).await;
        self.reporter.report(Event::Connections { active: 0 });
        match end? {
            SplitEnd::Complete => Ok(Step::Complete),
            SplitEnd::Restart(reason) => {
                if reason == RestartReason::ResumeRefused {
                    self.rest = false;
                }
                Ok(Step::Restart(reason))
            }
        }
    }

    /// One stream from the first byte missing: `REST` + `RETR`, up to `SIZE`, then checks
    /// that the transfer ends there.
    async fn transfer(&mut self, ftp: &mut Control, remote: Remote) -> Result<Step, Error> {
        if self.part.have().ranges().len() > 1 {
            // A single stream continues up to the first hole; what lies beyond it goes.
            let mut state = self.part.state().expect("a partial has a state");
            state.have = RangeSet::prefix(state.have.prefix_end());
            self.part.begin(state).await?;
        }
        let offset = self.part.written();
        self.reporter.report(Event::Started {
            path: &self.paths.dest,
            total: remote.size,
            resumed_from: offset,
        });
        let stall = self.req.network.stall_timeout;
        if offset > 0 {
            // RFC 3659 §5: the offset goes out as `REST` right before `RETR`.
            let _ = ftp.resume_transfer(offset as usize).await;
        }
        let retr = ftp.retr_as_stream(&self.target.path);
        let mut stream = match timed(&self.target, stall, "RETR", retr).await {
            Ok(stream) => stream,
            Err(e) if offset > 0 && e.ftp_code().is_some_and(|c| REST_REFUSED.contains(&c)) => {
                self.rest = false;
                return Ok(Step::Restart(RestartReason::ResumeRefused));
            }
            Err(e) => return Err(e),
        };
        let chunk_size = data::chunk_size(self.limiter.is_some());
        loop {
            let room = remote.size.map_or(chunk_size, |len| {
                (len - self.part.written()).min(chunk_size as u64) as usize
            });
            if room == 0 {
                break;
            }
            let (chunk, read) = data::fill(&self.target, stall, &mut stream, room).await;
            if chunk.is_empty() {
                read?;
                break;
            }
            let n = chunk.len();
            if let Some(limiter) = &self.limiter {
                limiter.take(n as u64).await;
            }
            let at = self.part.written();
            self.part.write(at, chunk).await?;
            self.fetched += n as u64;
            self.reporter.report(Event::Progress { bytes: n as u64 });
            self.part.maybe_checkpoint().await?;
            read?;
        }
        let written = self.part.written();
        match remote.size {
            Some(size) if written < size => {
                let finish = stream.finish();
                Err(data::ended_early(&self.target, stall, finish, size, written).await)
            }
            // SIZE's length has arrived; the data connection must end there. The completion
            // reply adds nothing (a server may even answer 426 to a close right at the end).
            Some(size) => {
                data::nothing_follows(&self.target, stall, &mut stream, size).await?;
                let _ = tokio::time::timeout(stall, stream.finish()).await;
                Ok(Step::Complete)
            }
            // Without SIZE only the completion reply (226) tells a whole file from a cut.
            None => {
                timed(&self.target, stall, "RETR", stream.finish()).await?;
                Ok(Step::Complete)
            }
        }
    }
}

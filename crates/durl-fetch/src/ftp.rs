//! `ftp://` downloads, with the part file, state file, retries and commit of HTTP
//! ([`crate::transfer`]): login (RFC 959 §4.1.1 `USER`/`PASS`; the URL's user, else
//! [`GetRequest::login`], else `.netrc`, else `anonymous`), `TYPE I`, passive mode (RFC 2428
//! `EPSV` if `FEAT` offers it, else `PASV`), `SIZE` and `MDTM` (RFC 3659 §4, §3) as length
//! and validator (`MDTM` is the state's `last-modified`), then `REST <offset>` (RFC 3659 §5)
//! and `RETR` on one connection, or segments over several ([`crate::ftp_segment`]). A
//! partial whose `SIZE` or `MDTM` changed is discarded; without `REST` the download starts
//! again from 0; a transfer longer or shorter than `SIZE` is never completed.

use std::time::Duration;

use percent_encoding::percent_decode_str;
use suppaftp::FtpError;
use url::Url;

use crate::events::{Event, Reporter, RestartReason};
use crate::journal::{State, url_key};
use crate::part::PartFile;
use crate::ranges::RangeSet;
use crate::rate::RateLimiter;
use crate::request::Destination;
use crate::segments::{Fetcher, MIN_SPLIT, Split, SplitEnd};
use crate::sources::Sources;
use crate::transfer::{self, Outcome, Paths, already_complete};
use crate::validator::Validators;
use crate::{Error, GetRequest, filename, ftp_segment, retry};
use session::{Control, Link, Session};

pub(crate) mod put;
mod session;
mod tls;

/// How often the partial may be thrown away in one run (as for HTTP).
const MAX_RESTARTS: u32 = 3;
/// The read buffer for the data connection.
pub(crate) const CHUNK: usize = 256 << 10;
/// Replies to `REST` (or to `RETR` after it) that mean "no resuming here": syntax error,
/// not implemented, parameter not implemented, and RFC 3659 §5.5's invalid REST parameter.
pub(crate) const REST_REFUSED: [u16; 5] = [500, 501, 502, 504, 554];

/// Where and as whom to log in, from the URL.
pub(crate) struct Target {
    host: String,
    port: u16,
    user: String,
    password: String,
    /// The file's path relative to the login directory (RFC 1738 §3.2.2), decoded.
    pub(crate) path: String,
    /// The URL without its password, for messages.
    pub(crate) shown: Url,
}

impl Target {
    fn parse(url: &Url) -> Result<Target, Error> {
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let mut shown = url.clone();
        let _ = shown.set_password(None);
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => String::new(),
        };
        let path = decode(url.path().strip_prefix('/').unwrap_or(url.path()));
        if host.is_empty() || path.is_empty() || path.ends_with('/') {
            return Err(Error::Setup {
                what: format!("{shown} does not name a file on a host"),
                source: None,
            });
        }
        let (user, password) = match url.username() {
            "" => ("anonymous".to_owned(), "durl@".to_owned()),
            user => (decode(user), decode(url.password().unwrap_or(""))),
        };
        Ok(Target {
            host,
            port: url.port().unwrap_or(21),
            user,
            password,
            path,
            shown,
        })
    }

    /// [`Target::parse`], with the login completed in this order: the URL's user and
    /// password, then [`GetRequest::login`], then the `.netrc` entry for the host, then
    /// `anonymous`.
    pub(crate) fn for_request(req: &GetRequest) -> Result<Target, Error> {
        let mut target = Target::parse(&req.url)?;
        let entries = req
            .netrc
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .map(|text| crate::netrc::parse(&text))
            .unwrap_or_default();
        let from_url = (!req.url.username().is_empty()).then(|| target.user.clone());
        let url_password = req.url.password().map(|_| target.password.clone());
        let given = (req.login.user.clone(), req.login.password.clone());
        if let Some((user, password)) =
            crate::netrc::choose((from_url, url_password), given, &entries, &target.host)
        {
            target.user = user;
            target.password = password;
        }
        Ok(target)
    }

    pub(crate) fn connection_error(&self, source: std::io::Error) -> Error {
        Error::FtpConnection {
            url: self.shown.clone(),
            source,
        }
    }

    /// The typed error for a failed FTP command.
    fn error(&self, command: &'static str, e: FtpError) -> Error {
        match e {
            FtpError::UnexpectedResponse(resp) => Error::Ftp {
                url: self.shown.clone(),
                command,
                code: u16::try_from(resp.status.code()).unwrap_or(0),
                reply: reply_text(&resp.body).into(),
            },
            FtpError::ConnectionError(io) => self.connection_error(io),
            other => self.connection_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{command}: {other}"),
            )),
        }
    }

    pub(crate) fn stalled(&self, timeout: Duration) -> Error {
        Error::Stalled {
            url: self.shown.clone(),
            timeout,
        }
    }
}

/// A reply's text without its code.
fn reply_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim().get(3..).unwrap_or_default();
    text.trim_start_matches(['-', ' ']).trim().to_owned()
}

/// Runs one control-connection step with the stall timeout.
pub(crate) async fn timed<T>(
    target: &Target,
    timeout: Duration,
    command: &'static str,
    f: impl Future<Output = Result<T, FtpError>>,
) -> Result<T, Error> {
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => r.map_err(|e| target.error(command, e)),
        Err(_) => Err(target.stalled(timeout)),
    }
}

/// What the server says about the file.
pub(crate) struct Remote {
    pub(crate) size: Option<u64>,
    pub(crate) mdtm: Option<String>,
}

/// Connects and logs in for a download (explicit FTPS with [`GetRequest::ftp_tls`]).
pub(crate) async fn connect(target: &Target, req: &GetRequest) -> Result<Session, Error> {
    let tls = match req.ftp_tls {
        true => Some(tls::client_config(&req.root_certificates, req.insecure)?),
        false => None,
    };
    let link = Link {
        connect_timeout: req.connect_timeout,
        stall_timeout: req.stall_timeout,
        tls,
    };
    session::connect(target, &link).await
}

/// `SIZE` and `MDTM`. A missing file is an error here; a server that does not implement
/// them leaves them unknown.
pub(crate) async fn probe(
    target: &Target,
    req: &GetRequest,
    ftp: &mut Control,
) -> Result<Remote, Error> {
    let stall = req.stall_timeout;
    let optional = |r: Result<_, Error>| match r {
        Ok(v) => Ok(Some(v)),
        Err(Error::Ftp {
            code: 500 | 501 | 502 | 504,
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    };
    let size = optional(timed(target, stall, "SIZE", ftp.size(&target.path)).await)?;
    let mdtm = match timed(target, stall, "MDTM", ftp.mdtm(&target.path)).await {
        Ok(t) => Some(t.to_string()),
        Err(e) if e.is_retryable() => return Err(e),
        Err(_) => None,
    };
    Ok(Remote {
        size: size.map(|s| s as u64),
        mdtm,
    })
}

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
    limiter: Option<RateLimiter>,
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
        Ok(m) if !m.is_file() => crate::get::refuse_irregular(&paths.dest, &m)?,
        Ok(m) if !req.overwrite => {
            let len = m.len();
            // Our own finished download, and the server still has that SIZE and MDTM.
            if let Some(mark) = crate::mark::get(&paths.dest, &req.url, len)
                && mark.validators.last_modified.is_some()
                && let Ok(mut session) = connect(&target, req).await
                && let Ok(remote) = probe(&target, req, &mut session.ftp).await
                && remote.size == Some(len)
                && remote.mdtm == mark.validators.last_modified
            {
                let _ = session.ftp.quit().await;
                if !paths.part.exists() {
                    // A run killed between the rename and removing the state left it.
                    crate::durable::remove(&paths.state)
                        .map_err(Error::io("cannot remove", &paths.state))?;
                }
                if let Some(checksum) = &req.checksum {
                    transfer::verify(checksum, &paths.dest).await?;
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
        limiter: req.limit_rate.map(RateLimiter::new),
    }
    .run()
    .await
}

impl FtpGet<'_> {
    /// The retry loop of [`crate::transfer`]: attempts until complete, a final error, or
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
                return Err(transfer::interrupted(&mut self.part, &self.paths).await);
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
                            transfer::discard_if_empty(&self.part, &self.paths)?;
                            return Err(e);
                        }
                    };
                    let slept = tokio::select! {
                        () = tokio::time::sleep(wait) => true,
                        () = cancel.cancelled() => false,
                    };
                    if !slept {
                        return Err(transfer::interrupted(&mut self.part, &self.paths).await);
                    }
                }
            }
        }
        transfer::commit(
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
        let mut session = connect(&self.target, self.req).await?;
        self.rest &= session.rest;
        let remote = probe(&self.target, self.req, &mut session.ftp).await?;
        if let Some(step) = self.check_partial(&remote).await? {
            return Ok(step);
        }
        if self.splittable() {
            let _ = tokio::time::timeout(self.req.stall_timeout, session.ftp.quit()).await;
            return self.split().await;
        }
        let step = self.transfer(&mut session.ftp, remote).await;
        if step.is_ok() {
            let _ = tokio::time::timeout(self.req.stall_timeout, session.ftp.quit()).await;
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
    /// the planner, workers and single writer that HTTP uses ([`crate::segments`]).
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
        let split = Split {
            req: self.req,
            fetcher: Fetcher::Ftp(&self.target),
            reporter: self.reporter,
            state,
            limiter: self.limiter.as_ref(),
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
        let stall = self.req.stall_timeout;
        if offset > 0 {
            // RFC 3659 §5: the offset goes out as `REST` right before `RETR`.
            let _ = ftp.resume_transfer(offset as usize).await;
        }
        let retr = ftp.retr_as_stream(&self.target.path);
        let mut stream = match timed(&self.target, stall, "RETR", retr).await {
            Ok(stream) => stream,
            Err(Error::Ftp { code, .. }) if offset > 0 && REST_REFUSED.contains(&code) => {
                self.rest = false;
                return Ok(Step::Restart(RestartReason::ResumeRefused));
            }
            Err(e) => return Err(e),
        };
        let chunk_size = ftp_segment::chunk_size(self.limiter.is_some());
        loop {
            let room = remote.size.map_or(chunk_size, |len| {
                (len - self.part.written()).min(chunk_size as u64) as usize
            });
            if room == 0 {
                break;
            }
            let (chunk, read) = ftp_segment::fill(&self.target, stall, &mut stream, room).await;
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
                Err(ftp_segment::ended_early(&self.target, stall, finish, size, written).await)
            }
            // SIZE's length has arrived; the data connection must end there. The completion
            // reply adds nothing (a server may even answer 426 to a close right at the end).
            Some(size) => {
                ftp_segment::nothing_follows(&self.target, stall, &mut stream, size).await?;
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

//! `ftp://` downloads over one connection, with the part file, state file, retries and commit
//! of HTTP ([`crate::transfer`]): login (the URL's user, else `anonymous`), `TYPE I`, passive
//! mode (`EPSV` if `FEAT` offers it, else `PASV`), `SIZE` and `MDTM` as length and validator
//! (`MDTM` is the state's `last-modified`), then `REST <offset>` + `RETR`. A partial whose
//! `SIZE` or `MDTM` changed is discarded; without `REST` the download starts again from 0.

use std::time::Duration;

use bytes::Bytes;
use percent_encoding::percent_decode_str;
use suppaftp::FtpError;
use tokio::io::AsyncReadExt;
use url::Url;

use crate::events::{Event, Reporter, RestartReason};
use crate::journal::{State, url_key};
use crate::part::PartFile;
use crate::rate::RateLimiter;
use crate::request::Destination;
use crate::transfer::{self, Outcome, Paths, already_complete};
use crate::validator::Validators;
use crate::{Error, GetRequest, filename, retry};
use session::{Control, Link, Session};

pub(crate) mod put;
mod session;
mod tls;

/// How often the partial may be thrown away in one run (as for HTTP).
const MAX_RESTARTS: u32 = 3;
/// The read buffer for the data connection.
const CHUNK: usize = 256 << 10;
/// Replies to `REST` (or to `RETR` after it) that mean "no resuming here": syntax error,
/// not implemented, parameter not implemented, and RFC 3659 §5.5's invalid REST parameter.
const REST_REFUSED: [u16; 5] = [500, 501, 502, 504, 554];

/// Where and as whom to log in, from the URL.
struct Target {
    host: String,
    port: u16,
    user: String,
    password: String,
    /// The file's path relative to the login directory (RFC 1738 §3.2.2), decoded.
    path: String,
    /// The URL without its password, for messages.
    shown: Url,
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

    fn connection_error(&self, source: std::io::Error) -> Error {
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

    fn stalled(&self, timeout: Duration) -> Error {
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
async fn timed<T>(
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
struct Remote {
    size: Option<u64>,
    mdtm: Option<String>,
}

/// Connects and logs in for a download (explicit FTPS with [`GetRequest::ftp_tls`]).
async fn connect(target: &Target, req: &GetRequest) -> Result<Session, Error> {
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
async fn probe(target: &Target, req: &GetRequest, ftp: &mut Control) -> Result<Remote, Error> {
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

/// Downloads an `ftp://` URL over one connection (`connections` is ignored).
pub(crate) async fn get(req: &GetRequest, reporter: &dyn Reporter) -> Result<Outcome, Error> {
    let target = Target::parse(&req.url)?;
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
    let mut state = state; // a single stream continues up to the first hole
    state.have = crate::ranges::RangeSet::prefix(state.have.prefix_end());
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

    /// One control connection: login, probe, check the partial, `REST` + `RETR`, stream.
    async fn attempt(&mut self) -> Result<Step, Error> {
        let mut session = connect(&self.target, self.req).await?;
        self.rest &= session.rest;
        let remote = probe(&self.target, self.req, &mut session.ftp).await?;
        let step = self.transfer(&mut session.ftp, remote).await;
        if step.is_ok() {
            let _ = tokio::time::timeout(self.req.stall_timeout, session.ftp.quit()).await;
        }
        step
    }

    async fn transfer(&mut self, ftp: &mut Control, remote: Remote) -> Result<Step, Error> {
        let offset = self.part.written();
        let state = self
            .part
            .state()
            .unwrap_or_else(|| State::fresh(&self.req.url));
        if offset > 0 {
            if state.length != remote.size || state.validators.last_modified != remote.mdtm {
                return Ok(Step::Restart(RestartReason::RemoteChanged));
            }
            if !self.rest {
                return Ok(Step::Restart(RestartReason::ResumeRefused));
            }
        } else {
            if remote.mdtm.is_none() && !self.warned_weak {
                self.warned_weak = true;
                self.reporter.report(Event::NoStrongValidator);
            }
            self.part
                .begin(State {
                    length: remote.size,
                    validators: Validators {
                        last_modified: remote.mdtm.clone(),
                        ..Validators::default()
                    },
                    ..State::fresh(&self.req.url)
                })
                .await?;
        }
        self.reporter.report(Event::Started {
            path: &self.paths.dest,
            total: remote.size,
            resumed_from: offset,
        });
        if remote.size == Some(offset) && offset > 0 {
            return Ok(Step::Complete);
        }
        let stall = self.req.stall_timeout;
        if offset > 0 {
            let _ = ftp.resume_transfer(offset as usize).await;
        }
        let retr = timed(
            &self.target,
            stall,
            "RETR",
            ftp.retr_as_stream(&self.target.path),
        )
        .await;
        let mut stream = match retr {
            Ok(stream) => stream,
            Err(Error::Ftp { code, .. }) if offset > 0 && REST_REFUSED.contains(&code) => {
                self.rest = false;
                return Ok(Step::Restart(RestartReason::ResumeRefused));
            }
            Err(e) => return Err(e),
        };
        let mut buf = vec![0u8; CHUNK];
        loop {
            let room = remote.size.map_or(CHUNK, |len| {
                (len - self.part.written()).min(CHUNK as u64) as usize
            });
            if room == 0 {
                break;
            }
            let n = match tokio::time::timeout(stall, stream.read(&mut buf[..room])).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(self.target.connection_error(e)),
                Err(_) => return Err(self.target.stalled(stall)),
            };
            if n == 0 {
                break;
            }
            if let Some(limiter) = &self.limiter {
                limiter.take(n as u64).await;
            }
            let at = self.part.written();
            self.part
                .write(at, Bytes::copy_from_slice(&buf[..n]))
                .await?;
            self.fetched += n as u64;
            self.reporter.report(Event::Progress { bytes: n as u64 });
            self.part.maybe_checkpoint().await?;
        }
        let written = self.part.written();
        match remote.size {
            Some(expected) if written < expected => {
                drop(stream);
                Err(Error::ShortBody {
                    url: self.target.shown.clone(),
                    received: written,
                    expected,
                })
            }
            // SIZE announced the length and it has arrived: the completion reply adds nothing
            // (a server may even answer 426 to a close right at the end).
            Some(_) => {
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

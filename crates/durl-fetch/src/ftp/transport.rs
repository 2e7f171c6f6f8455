//! FTP as a [`Transport`]: each body has its own control connection: login, `SIZE` and
//! `MDTM` (RFC 3659 §4, §3: the length and version of the file, checked against the version
//! held as `If-Range` proves it for HTTP), then `REST <start>` (RFC 3659 §5) + `RETR`. FTP
//! cannot ask for a range's end, so a body runs to the end of the file; the engine stops
//! reading once it has what it wanted, and closing the data connection ends the transfer
//! (RFC 959 §3.3: the server sees an aborted transfer).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use url::Url;

use super::data::{chunk_size, ended_early, fill, nothing_follows};
use super::session::{Session, Transfer};
use super::session::{connect_for_get, probe};
use super::target::{REST_REFUSED, Target, timed};
use crate::download::transport::{Ask, Body, Learnt, Opened, Remote, Transport};
use crate::events::RestartReason;
use crate::store::journal::State;
use crate::version::Version;
use crate::{Error, GetRequest};

/// The name of the [`Version`] value FTP mints: the `MDTM` reply (RFC 3659 §3), with the
/// length from `SIZE` beside it in the state.
const MDTM: &str = "mdtm";

/// Opens bodies of one FTP file, at its URL or a mirror.
pub(crate) struct FtpTransport<'a> {
    /// Each source: its URL, where it logs in, and whether it resumes.
    sources: Vec<FtpSource>,
    req: &'a GetRequest,
    /// Read in small chunks, so that a rate limit paces the transfer smoothly.
    limited: bool,
}

/// One server of the file (its URL or a mirror).
struct FtpSource {
    url: Url,
    target: Arc<Target>,
    /// Cleared once this server refused `REST`: from then on only whole transfers from it.
    rest: AtomicBool,
}

impl<'a> FtpTransport<'a> {
    /// The transport for `req`'s URL and mirrors (each an `ftp://` URL naming a file).
    pub(crate) fn new(req: &'a GetRequest) -> Result<FtpTransport<'a>, Error> {
        let sources = std::iter::once(&req.url)
            .chain(&req.mirrors)
            .map(|url| {
                Ok(FtpSource {
                    url: url.clone(),
                    target: Arc::new(Target::for_url(url, &req.url, &req.network)?),
                    rest: AtomicBool::new(true),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(FtpTransport {
            sources,
            req,
            limited: req.rate_limiter().is_some(),
        })
    }

    fn source(&self, url: &Url) -> &FtpSource {
        let found = self.sources.iter().find(|s| &s.url == url);
        found.unwrap_or(&self.sources[0])
    }
}

/// A data connection from `REST` on, with the control connection it belongs to.
pub(crate) struct FtpBody {
    target: Arc<Target>,
    stall: Duration,
    /// Kept logged in while the data connection runs.
    session: Session,
    /// Taken when the transfer is finished.
    stream: Option<Transfer>,
    /// The offset of the next byte the data connection delivers.
    at: u64,
    /// The file's length (`SIZE`), if the server told it.
    size: Option<u64>,
    chunk: usize,
    /// A read error that came after bytes that were handed over: reported next.
    pending: Option<Error>,
}

impl Body for FtpBody {
    async fn next_chunk(&mut self, max: u64) -> Result<Option<Bytes>, Error> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let left = self.size.map_or(u64::MAX, |size| size - self.at);
        let room = max.min(left).min(self.chunk as u64) as usize;
        if room == 0 {
            // `SIZE`'s length has arrived; `close` checks that nothing follows.
            return Ok(None);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(None);
        };
        let (chunk, read) = fill(&self.target, self.stall, stream, room).await;
        if chunk.is_empty() {
            read?;
            let Some(size) = self.size else {
                // Without SIZE only the completion reply (in `close`) tells a whole file
                // from a cut.
                return Ok(None);
            };
            // The data connection ended before `SIZE`'s length.
            let Some(stream) = self.stream.take() else {
                return Ok(None);
            };
            let finish = stream.finish();
            return Err(ended_early(&self.target, self.stall, finish, size, self.at).await);
        }
        self.at += chunk.len() as u64;
        self.pending = read.err();
        Ok(Some(chunk))
    }

    async fn close(mut self, reached: u64) -> Result<(), Error> {
        let stall = self.stall;
        let Some(mut stream) = self.stream.take() else {
            return Ok(());
        };
        match self.size {
            // SIZE's length has arrived; the data connection must end there. The completion
            // reply adds nothing (a server may even answer 426 to a close right at the end).
            Some(size) if reached == size => {
                nothing_follows(&self.target, stall, &mut stream, size).await?;
                let _ = tokio::time::timeout(stall, stream.finish()).await;
            }
            // Stopped before the end: dropping the stream closes the data connection.
            Some(_) => return Ok(()),
            None => timed(&self.target, stall, "RETR", stream.finish()).await?,
        }
        let _ = tokio::time::timeout(stall, self.session.ftp.quit()).await;
        Ok(())
    }
}

impl Transport for FtpTransport<'_> {
    type Body = FtpBody;

    /// FTP names no file: the URL's name is used.
    const NAMES_FILE: bool = false;

    async fn open(&self, url: &Url, ask: Ask<'_>) -> Result<Opened<FtpBody>, Error> {
        let source = self.source(url);
        let target = Arc::clone(&source.target);
        let req = self.req;
        let stall = req.network.stall_timeout;
        let mut session = connect_for_get(&target, req).await?;
        if !session.rest {
            source.rest.store(false, Ordering::Relaxed);
        }
        // RFC 3659 §4 (SIZE) and §3 (MDTM) on every connection: a file replaced meanwhile is
        // noticed before any of its bytes are written.
        let remote = probe(&target, req, &mut session.ftp).await?;
        if let Some(version) = ask.version
            && (version.length != remote.size
                || version.version.get(MDTM) != remote.mdtm.as_deref())
        {
            return Ok(Opened::Changed);
        }
        let start = ask.start;
        // A start equal to SIZE still sends `RETR`: only the data connection ending there
        // (`FtpBody::close`) shows that SIZE told the truth.
        if remote.size.is_some_and(|size| start > size) {
            return Ok(Opened::Restart(RestartReason::PartialTooLong));
        }
        if start > 0 && !source.rest.load(Ordering::Relaxed) {
            return Ok(Opened::Restart(RestartReason::ResumeRefused));
        }
        if start > 0 {
            // RFC 3659 §5: suppaftp sends `REST` right before `RETR`, after `EPSV`/`PASV`,
            // as §5.3 requires. Never fails: a refusal is the RETR's error.
            let _ = session.ftp.resume_transfer(start as usize).await;
        }
        let retr = session.ftp.retr_as_stream(&target.path);
        let stream = match timed(&target, stall, "RETR", retr).await {
            Ok(stream) => stream,
            Err(e) if start > 0 && e.ftp_code().is_some_and(|c| REST_REFUSED.contains(&c)) => {
                source.rest.store(false, Ordering::Relaxed);
                return Ok(Opened::Restart(RestartReason::ResumeRefused));
            }
            Err(e) => return Err(e),
        };
        let splittable =
            source.rest.load(Ordering::Relaxed) && remote.size.is_some() && remote.mdtm.is_some();
        let version = match remote.mdtm {
            Some(mdtm) => Version::new().with(MDTM, mdtm),
            None => Version::new(),
        };
        Ok(Opened::Body {
            remote: Remote {
                url: url.clone(),
                length: remote.size,
                version,
                splittable,
                name: None,
            },
            from: start,
            end: remote.size,
            body: FtpBody {
                target,
                stall,
                session,
                stream: Some(stream),
                at: start,
                size: remote.size,
                chunk: chunk_size(self.limited),
                pending: None,
            },
        })
    }

    /// The same `SIZE` and `MDTM` (RFC 3659 §4, §3), without a transfer.
    async fn unchanged(&self, url: &Url, state: &State, length: u64) -> bool {
        let target = Arc::clone(&self.source(url).target);
        let Ok(mut session) = connect_for_get(&target, self.req).await else {
            return false;
        };
        let current = probe(&target, self.req, &mut session.ftp)
            .await
            .is_ok_and(|remote| {
                remote.size == Some(length) && remote.mdtm.as_deref() == state.version.get(MDTM)
            });
        let _ = tokio::time::timeout(self.req.network.stall_timeout, session.ftp.quit()).await;
        current
    }

    /// `SIZE` and `MDTM` prove the version on another connection.
    fn proves(&self, state: &State) -> bool {
        state.length.is_some() && state.version.get(MDTM).is_some()
    }

    /// FTP publishes no digest of a file.
    fn digest(&self, _state: &State) -> Option<crate::store::verify::Checksum> {
        None
    }

    /// `SIZE` and `MDTM` are all FTP tells, and the first answer had them.
    fn learn(&self, _held: &Version, _seen: &Version) -> Learnt {
        Learnt::Nothing
    }
}

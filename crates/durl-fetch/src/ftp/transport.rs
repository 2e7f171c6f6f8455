//! FTP as a [`Transport`]: each body has its own control connection: login, `SIZE` and
//! `MDTM` (the same version as the one being fetched, as `If-Range` proves it for HTTP), then
//! `REST <start>` + `RETR`. FTP cannot ask for a range's end, so a body runs to the end of
//! the file; the engine stops reading once it has what it wanted, and closing the data
//! connection ends the transfer (RFC 959 §3.3: the server sees an aborted transfer).

use std::time::Duration;

use bytes::Bytes;
use url::Url;

use super::data::{chunk_size, ended_early, fill, nothing_follows};
use super::session::{Session, Transfer};
use super::session::{connect_for_get, probe};
use super::target::{REST_REFUSED, Target, timed};
use crate::download::transport::{Ask, Body, Opened, Transport};
use crate::events::RestartReason;
use crate::{Error, GetRequest};

/// Opens bodies of one FTP file (FTP has no mirrors: the URL is always the target's).
pub(crate) struct FtpTransport<'a> {
    pub(crate) target: &'a Target,
    pub(crate) req: &'a GetRequest,
    /// Read in small chunks, so that a rate limit paces the transfer smoothly.
    pub(crate) limited: bool,
}

/// A data connection from `REST` on, with the control connection it belongs to.
pub(crate) struct FtpBody<'a> {
    target: &'a Target,
    stall: Duration,
    /// Kept logged in while the data connection runs.
    _session: Session,
    /// Taken when the transfer is finished.
    stream: Option<Transfer>,
    /// The offset of the next byte the data connection delivers.
    at: u64,
    /// The file's length (`SIZE`).
    size: u64,
    chunk: usize,
    /// A read error that came after bytes that were handed over: reported next.
    pending: Option<Error>,
}

impl Body for FtpBody<'_> {
    async fn next_chunk(&mut self, max: u64) -> Result<Option<Bytes>, Error> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let room = max.min(self.size - self.at).min(self.chunk as u64) as usize;
        if room == 0 {
            // `SIZE`'s length has arrived; `close` checks that nothing follows.
            return Ok(None);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Ok(None);
        };
        let (chunk, read) = fill(self.target, self.stall, stream, room).await;
        if chunk.is_empty() {
            read?;
            // The data connection ended before `SIZE`'s length.
            let Some(stream) = self.stream.take() else {
                return Ok(None);
            };
            let finish = stream.finish();
            return Err(ended_early(self.target, self.stall, finish, self.size, self.at).await);
        }
        self.at += chunk.len() as u64;
        self.pending = read.err();
        Ok(Some(chunk))
    }

    async fn close(mut self, reached: u64) -> Result<(), Error> {
        if reached == self.size
            && let Some(stream) = self.stream.as_mut()
        {
            nothing_follows(self.target, self.stall, stream, self.size).await?;
        }
        // Dropping the stream closes the data connection.
        Ok(())
    }
}

impl<'a> Transport for FtpTransport<'a> {
    type Body = FtpBody<'a>;

    async fn open(&self, _url: &Url, ask: Ask<'_>) -> Result<Opened<FtpBody<'a>>, Error> {
        let target = self.target;
        let req = self.req;
        let stall = req.network.stall_timeout;
        let mut session = connect_for_get(target, req).await?;
        // RFC 3659 §4 (SIZE) and §3 (MDTM) on every connection: a file replaced while the
        // segments run is noticed before any of its bytes are written.
        let remote = probe(target, req, &mut session.ftp).await?;
        let version = ask.version;
        let Some(size) = remote.size.filter(|&s| Some(s) == version.length) else {
            return Ok(Opened::Changed);
        };
        if remote.mdtm != version.validators.last_modified {
            return Ok(Opened::Changed);
        }
        let start = ask.start;
        if start > 0 {
            // RFC 3659 §5: suppaftp sends `REST` right before `RETR`, after `EPSV`/`PASV`,
            // as §5.3 requires. Never fails: a refusal is the RETR's error.
            let _ = session.ftp.resume_transfer(start as usize).await;
        }
        let retr = session.ftp.retr_as_stream(&target.path);
        let stream = match timed(target, stall, "RETR", retr).await {
            Ok(stream) => stream,
            Err(e) if start > 0 && e.ftp_code().is_some_and(|c| REST_REFUSED.contains(&c)) => {
                return Ok(Opened::Restart(RestartReason::ResumeRefused));
            }
            Err(e) => return Err(e),
        };
        Ok(Opened::Body {
            range: start..size,
            body: FtpBody {
                target,
                stall,
                _session: session,
                stream: Some(stream),
                at: start,
                size,
                chunk: chunk_size(self.limited),
                pending: None,
            },
        })
    }
}

//! `ftp://` uploads with resume, over the control connection of [`super::session`]:
//!
//! 1. `SIZE` (RFC 3659 §4) says how much of the file the server holds; `550` means none.
//! 2. A remote file longer than the local one is refused (unless overwriting). A shorter or
//!    equal one must be a prefix of the local file: its last 64 KiB are read back (`REST` +
//!    `RETR`) and compared with the local bytes at the same offsets. A mismatch is refused
//!    (unless overwriting, which sends the file again from byte 0 with `STOR`).
//! 3. The rest is sent: `REST <offset>` + `STOR` (RFC 3659 §5.3, "REST STREAM") where the server
//!    offers `REST`, else `APPE` (RFC 959 §4.1.3), which appends to the `offset` bytes held.
//! 4. After the completion reply (226), `SIZE` must equal the local length, and where the
//!    server offers `HASH` (draft-bryan-ftpext-hash) or `XSHA256` the SHA-256 must match too.
//!
//! The server keeps what it received when a transfer is cut (or durl is killed), so the next
//! run resumes from step 1 with no local state.

use std::io::SeekFrom;
use std::path::Path;
use std::time::SystemTime;

use suppaftp::Status;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::session::{self, Link, Session, Transfer};
use super::target::{REST_REFUSED, Target, timed};
use crate::events::{Event, Reporter};
use crate::store::rate::RateLimiter;
use crate::store::verify::{Algorithm, digest_file, hex};
use crate::{Error, PutOutcome, PutRequest, RemoteConflict};

/// The write buffer for the data connection.
const CHUNK: usize = 256 << 10;
/// How much of the end of the remote file is read back before appending to it.
const TAIL: u64 = 64 << 10;

/// Uploads `req.local` to an `ftp://` URL (see the module docs).
pub(crate) async fn put(req: &PutRequest, reporter: &dyn Reporter) -> Result<PutOutcome, Error> {
    let target = Target::for_url(&req.url, &req.url, &req.network)?;
    let local = Snapshot::of(&req.local)?;
    let tls = match req.network.ftp_tls {
        true => Some(crate::tls::client_config(
            &req.network.root_certificates,
            req.network.insecure,
        )?),
        false => None,
    };
    let mut upload = Upload {
        req,
        reporter,
        link: Link {
            connect_timeout: req.network.connect_timeout,
            stall_timeout: req.network.stall_timeout,
            tls,
        },
        target,
        local,
        sent: 0,
        resumed_from: None,
        limiter: req.rate_limiter(),
    };
    crate::upload::attempts::retrying(req, reporter, &mut upload).await
}

/// The local file's length and modification time when the upload started.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    len: u64,
    modified: Option<SystemTime>,
}

impl Snapshot {
    fn of(path: &Path) -> Result<Snapshot, Error> {
        let meta = std::fs::metadata(path).map_err(Error::io("cannot read", path))?;
        if meta.is_dir() {
            return Err(Error::io("cannot upload a directory", path)(
                std::io::Error::from(std::io::ErrorKind::IsADirectory),
            ));
        }
        Ok(Snapshot {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

struct Upload<'a> {
    req: &'a PutRequest,
    reporter: &'a dyn Reporter,
    link: Link,
    target: Target,
    local: Snapshot,
    /// Bytes sent in this run, over all attempts.
    sent: u64,
    /// What the server held when the first attempt looked.
    resumed_from: Option<u64>,
    limiter: Option<std::sync::Arc<RateLimiter>>,
}

impl crate::upload::attempts::Attempts for Upload<'_> {
    async fn attempt(&mut self) -> Result<PutOutcome, Error> {
        Upload::attempt(self).await
    }

    fn sent(&self) -> u64 {
        self.sent
    }

    fn interrupted(&self) -> Error {
        Error::UploadInterrupted {
            url: self.target.shown.clone(),
            sent: self.sent,
            // What a cut STOR left on the server is known only from the next SIZE.
            server_has: None,
        }
    }
}

impl Upload<'_> {
    /// One control connection: look at the remote file, send what is missing, verify.
    async fn attempt(&mut self) -> Result<PutOutcome, Error> {
        let mut s = session::connect(&self.target, &self.link).await?;
        let len = self.local.len;
        let remote = self.remote_size(&mut s).await?;
        let offset = match remote {
            None | Some(0) => 0,
            Some(r) if r > len => self.conflict(RemoteConflict::Longer, r)?,
            Some(r) if self.prefix_matches(&mut s, r).await? => r,
            Some(r) => self.conflict(RemoteConflict::Differs, r)?,
        };
        let resumed_from = *self.resumed_from.get_or_insert(offset);
        self.reporter.report(Event::Started {
            path: &self.req.local,
            total: Some(len),
            resumed_from: offset,
        });
        let complete = remote == Some(len) && offset == len;
        if !complete {
            self.send(&mut s, offset).await?;
        }
        self.verify(&mut s).await?;
        let _ = tokio::time::timeout(self.req.network.stall_timeout, s.ftp.quit()).await;
        let already_complete = complete && self.sent == 0;
        self.reporter.report(Event::Finished {
            path: &self.req.local,
            bytes: len,
            already_complete,
        });
        Ok(PutOutcome {
            url: self.target.shown.clone(),
            bytes: len,
            resumed_from,
            sent: self.sent,
            already_complete,
        })
    }

    /// Overwriting starts again from byte 0; otherwise the conflict is the error.
    fn conflict(&self, conflict: RemoteConflict, remote: u64) -> Result<u64, Error> {
        if self.req.overwrite {
            return Ok(0);
        }
        Err(Error::RemoteExists {
            url: self.target.shown.clone(),
            conflict,
            remote,
            local: self.local.len,
        })
    }

    /// `SIZE` in binary mode is the exact number of octets (RFC 3659 §4); `550` is no file.
    async fn remote_size(&self, s: &mut Session) -> Result<Option<u64>, Error> {
        let size = s.ftp.size(&self.target.path);
        match timed(&self.target, self.req.network.stall_timeout, "SIZE", size).await {
            Ok(n) => Ok(Some(n as u64)),
            Err(e) if e.ftp_code() == Some(550) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the remote file's `remote` bytes end like the local file's first `remote`
    /// bytes: the last [`TAIL`] of them are read back and compared.
    async fn prefix_matches(&self, s: &mut Session, remote: u64) -> Result<bool, Error> {
        let stall = self.req.network.stall_timeout;
        let start = remote.saturating_sub(TAIL);
        let want = read_local(&self.req.local, start, (remote - start) as usize).await?;
        // Without REST (or if it is refused) the file is read from byte 0 and the head skipped.
        let mut skip = start;
        let mut stream = None;
        if s.rest && start > 0 {
            let _ = s.ftp.resume_transfer(start as usize).await;
            let retr = s.ftp.retr_as_stream(&self.target.path);
            match timed(&self.target, stall, "RETR", retr).await {
                Ok(st) => (stream, skip) = (Some(st), 0),
                Err(e) if e.ftp_code().is_some_and(|c| REST_REFUSED.contains(&c)) => s.rest = false,
                Err(e) => return Err(e),
            }
        }
        let mut stream = match stream {
            Some(st) => st,
            None => {
                let retr = s.ftp.retr_as_stream(&self.target.path);
                timed(&self.target, stall, "RETR", retr).await?
            }
        };
        let mut got = vec![0u8; want.len()];
        let mut buf = vec![0u8; CHUNK];
        let mut filled = 0;
        while filled < got.len() {
            let dst = if skip > 0 {
                let n = skip.min(CHUNK as u64) as usize;
                &mut buf[..n]
            } else {
                &mut got[filled..]
            };
            let n = match tokio::time::timeout(stall, stream.read(dst)).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(self.target.connection_error(e)),
                Err(_) => return Err(self.target.stalled(stall)),
            };
            if n == 0 {
                // Shorter than SIZE said a moment ago: it is changing; look again.
                return Err(Error::ShortBody {
                    url: self.target.shown.clone(),
                    received: remote - (want.len() - filled) as u64 - skip,
                    expected: remote,
                });
            }
            match skip {
                0 => filled += n,
                _ => skip -= n as u64,
            }
        }
        // Everything up to the end has arrived; the completion reply adds nothing.
        let _ = tokio::time::timeout(stall, stream.finish()).await;
        Ok(got == want)
    }

    /// Sends the local file from `offset`, then waits for the server's completion reply.
    async fn send(&mut self, s: &mut Session, offset: u64) -> Result<(), Error> {
        let stall = self.req.network.stall_timeout;
        let path = &self.req.local;
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(Error::io("cannot read", path))?;
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(Error::io("cannot read", path))?;
        let (command, mut stream) = self.open(s, offset).await?;
        let mut buf = vec![0u8; CHUNK];
        let mut pos = offset;
        while pos < self.local.len {
            let room = (self.local.len - pos).min(CHUNK as u64) as usize;
            let n = file
                .read(&mut buf[..room])
                .await
                .map_err(Error::io("cannot read", path))?;
            if n == 0 {
                return Err(Error::LocalChanged { path: path.clone() });
            }
            if let Some(limiter) = &self.limiter {
                limiter.take(n as u64).await;
            }
            // A server that accepts nothing for the stall timeout fills the socket buffer and
            // blocks the write.
            match tokio::time::timeout(stall, stream.write_all(&buf[..n])).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(self.target.connection_error(e)),
                Err(_) => return Err(self.target.stalled(stall)),
            }
            pos += n as u64;
            self.sent += n as u64;
            self.reporter.report(Event::Progress { bytes: n as u64 });
        }
        // RFC 959 §4.2: 226 once the data connection is closed and the file stored.
        timed(&self.target, stall, command, stream.finish()).await
    }

    /// Opens the data connection: `STOR` from 0, else `REST` + `STOR`, else `APPE`.
    async fn open(&self, s: &mut Session, offset: u64) -> Result<(&'static str, Transfer), Error> {
        let stall = self.req.network.stall_timeout;
        let path = &self.target.path;
        if offset == 0 || s.rest {
            if offset > 0 {
                // RFC 3659 §5.3: REST immediately before STOR; the server writes from there.
                let _ = s.ftp.resume_transfer(offset as usize).await;
            }
            match timed(&self.target, stall, "STOR", s.ftp.put_with_stream(path)).await {
                Ok(stream) => return Ok(("STOR", stream)),
                Err(e) if offset > 0 && e.ftp_code().is_some_and(|c| REST_REFUSED.contains(&c)) => {
                    s.rest = false;
                }
                Err(e) => return Err(e),
            }
        }
        // RFC 959 §4.1.3: APPE appends to the file, which holds exactly `offset` bytes.
        let stream = timed(&self.target, stall, "APPE", s.ftp.append_with_stream(path)).await?;
        Ok(("APPE", stream))
    }

    /// The remote length must be the local one, and the digest too where one is offered.
    async fn verify(&self, s: &mut Session) -> Result<(), Error> {
        if Snapshot::of(&self.req.local)? != self.local {
            return Err(Error::LocalChanged {
                path: self.req.local.clone(),
            });
        }
        let len = self.local.len;
        let size = s.ftp.size(&self.target.path);
        let size = timed(&self.target, self.req.network.stall_timeout, "SIZE", size).await? as u64;
        if size != len {
            return Err(self.mismatch(format!("the server holds {size} bytes, not {len}")));
        }
        let Some(remote) = self.remote_sha256(s).await? else {
            return Ok(());
        };
        let path = self.req.local.clone();
        let local = tokio::task::spawn_blocking(move || digest_file(Algorithm::Sha256, &path))
            .await
            .map_err(|e| Error::io("cannot read", &self.req.local)(std::io::Error::other(e)))?
            .map_err(Error::io("cannot read", &self.req.local))?;
        let local = hex(&local);
        if remote != local {
            return Err(self.mismatch(format!("SHA-256 {remote}, local {local}")));
        }
        Ok(())
    }

    fn mismatch(&self, detail: String) -> Error {
        Error::UploadMismatch {
            url: self.target.shown.clone(),
            detail,
        }
    }

    /// The remote file's SHA-256, where the server offers a digest command: `HASH`
    /// (draft-bryan-ftpext-hash-02 §3, after `OPTS HASH SHA-256`) or `XSHA256`. A refused
    /// command means no digest; a broken connection is an error.
    async fn remote_sha256(&self, s: &mut Session) -> Result<Option<String>, Error> {
        let stall = self.req.network.stall_timeout;
        let path = &self.target.path;
        let hash = s.feature("HASH").map(|algos| {
            let algos: Vec<&str> = algos.split(';').map(str::trim).collect();
            let sha256 = |a: &&str| a.trim_end_matches('*').eq_ignore_ascii_case("SHA-256");
            let offered = algos.iter().any(sha256);
            let selected = algos.iter().any(|a| sha256(a) && a.ends_with('*'));
            (offered, selected)
        });
        let command = match hash {
            Some((true, selected)) => {
                if !selected {
                    let opts = s
                        .ftp
                        .custom_command("OPTS HASH SHA-256", &[Status::CommandOk]);
                    if let Err(e) = timed(&self.target, stall, "OPTS HASH", opts).await {
                        return if e.is_retryable() { Err(e) } else { Ok(None) };
                    }
                }
                format!("HASH {path}")
            }
            _ if s.feature("XSHA256").is_some() => format!("XSHA256 {path}"),
            _ => return Ok(None),
        };
        let codes = [Status::File, Status::RequestedFileActionOk];
        let reply = s.ftp.custom_command(command, &codes);
        match timed(&self.target, stall, "HASH", reply).await {
            Ok(reply) => Ok(sha256_in_reply(&String::from_utf8_lossy(&reply.body))),
            Err(e) if e.is_retryable() => Err(e),
            Err(_) => Ok(None),
        }
    }
}

/// Reads `len` bytes of the local file from `start`.
async fn read_local(path: &Path, start: u64, len: usize) -> Result<Vec<u8>, Error> {
    let mut file = tokio::fs::File::open(path)
        .await
        .map_err(Error::io("cannot read", path))?;
    file.seek(SeekFrom::Start(start))
        .await
        .map_err(Error::io("cannot read", path))?;
    let mut buf = vec![0u8; len];
    file.read_exact(&mut buf)
        .await
        .map_err(Error::io("cannot read", path))?;
    Ok(buf)
}

/// The SHA-256 in a `HASH` reply (`213 SHA-256 0-999 <hex> <path>`) or an `XSHA256` reply
/// (`213 <hex>`): the first word of 64 hex digits after the code, lowercased.
fn sha256_in_reply(reply: &str) -> Option<String> {
    reply
        .get(4..)?
        .split_whitespace()
        .find(|w| w.len() == 64 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::sha256_in_reply;

    #[test]
    fn digests_are_found_in_hash_and_xsha256_replies() {
        let hex = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
        let lower = hex.to_ascii_lowercase();
        let table: &[(String, Option<&str>)] = &[
            (format!("213 SHA-256 0-4 {hex} f.bin"), Some(&lower)),
            (format!("213 {lower}"), Some(&lower)),
            (format!("250 {hex}"), Some(&lower)),
            ("213 SHA-256 0-4 abc f.bin".into(), None),
            (format!("213 SHA-256 0-4 {}x f.bin", &lower[..63]), None),
            ("213".into(), None),
        ];
        for (reply, want) in table {
            assert_eq!(sha256_in_reply(reply).as_deref(), *want, "{reply}");
        }
    }
}

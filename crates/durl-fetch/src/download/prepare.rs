//! Before the first byte, for every protocol: choose the destination (a first answer may name
//! the file), find a finished file still current or a leftover of a killed run, take the
//! lock, recover the state file, and with `-c` adopt an existing file as a verified prefix.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::download::commit::{Outcome, Paths, already_complete, refuse_irregular, verify};
use crate::download::ranges::RangeSet;
use crate::download::transport::{Ask, Body, Opened, Transport};
use crate::events::{Event, Reporter, RestartReason};
use crate::filename;
use crate::request::Destination;
use crate::store::durable;
use crate::store::journal::{State, url_key};
use crate::store::part::PartFile;
use crate::{Error, GetRequest};

/// How many bytes before a point that no validator proves are fetched again and compared
/// with what is held: an adopted file's tail (`continue_existing`), and the bytes before a
/// resume point without a strong validator ([`super::attempts`]).
pub(crate) const OVERLAP: u64 = 64 << 10;

/// An answer already received, for the first attempt to use (or its error, to report).
pub(crate) type First<B> = Option<Result<Opened<B>, Error>>;

/// A locked part file with its state, ready for the attempts.
pub(crate) struct Start<B> {
    pub(crate) paths: Paths,
    pub(crate) part: PartFile,
    /// Bytes already held when this run started.
    pub(crate) resumed_from: u64,
    pub(crate) first: First<B>,
}

/// What preparing found.
pub(crate) enum Prepared<B> {
    /// Nothing to download: the file is complete.
    Done(Outcome),
    Start(Box<Start<B>>),
}

/// Chooses the destination, checks what is there, locks and recovers or adopts.
pub(crate) async fn prepare<T: Transport>(
    transport: &T,
    req: &GetRequest,
    reporter: &dyn Reporter,
) -> Result<Prepared<T::Body>, Error> {
    let (dest, mut first) = destination(transport, req).await?;
    let paths = Paths::new(dest);

    let dest_len = match fs::metadata(&paths.dest) {
        Ok(m) if m.is_dir() => {
            return Err(Error::io("cannot write to directory", &paths.dest)(
                std::io::Error::from(std::io::ErrorKind::IsADirectory),
            ));
        }
        Ok(m) => {
            refuse_irregular(&paths.dest, &m)?;
            Some(m.len())
        }
        Err(_) => None,
    };
    if let Some(len) = dest_len
        && !req.overwrite
        && let Some(mark) = crate::store::mark::get(&paths.dest, &req.url, len)
        && transport.proves(&mark)
        && transport.unchanged(&req.url, &mark, len).await
    {
        // Our own finished download, and the server still has exactly that version.
        if !paths.part.exists() {
            // A run killed between the rename and removing the state left it.
            durable::remove(&paths.state).map_err(Error::io("cannot remove", &paths.state))?;
        }
        return complete(req, reporter, &paths.dest, len).await;
    }
    if let Some(len) = dest_len
        && !req.continue_existing
        && !req.overwrite
    {
        // A run that renamed the part file into place and was killed before removing the
        // state left exactly this: say "complete" rather than "exists".
        if let Ok(Some(Ok(state))) = State::load(&paths.state)
            && state.length == Some(len)
            && !paths.part.exists()
        {
            durable::remove(&paths.state).map_err(Error::io("cannot remove", &paths.state))?;
            return complete(req, reporter, &paths.dest, len).await;
        }
        return Err(Error::OutputExists { path: paths.dest });
    }

    let mut part = PartFile::open_locked(
        &paths.part,
        &paths.state,
        &paths.dest,
        req.checkpoint_interval,
        req.checkpoint_bytes,
    )?;
    let mut resumed_from = 0;
    match recover(req, &paths, &part, reporter)? {
        Some(state) => {
            resumed_from = state.durable();
            part.begin(state).await?;
        }
        None => {
            part.begin(State::fresh(&req.url)).await?;
            if req.continue_existing
                && let Some(len) = dest_len.filter(|&l| l > 0)
            {
                match adopt(transport, req, &paths, &mut part, len).await? {
                    Adopted::Complete => {
                        drop(part);
                        durable::remove(&paths.part)
                            .map_err(Error::io("cannot remove", &paths.part))?;
                        durable::remove(&paths.state)
                            .map_err(Error::io("cannot remove", &paths.state))?;
                        return complete(req, reporter, &paths.dest, len).await;
                    }
                    Adopted::Prefix => resumed_from = len,
                    Adopted::Restart(reason) => reporter.report(Event::Restarted { reason }),
                    Adopted::Whole(opened) => {
                        reporter.report(Event::Restarted {
                            reason: RestartReason::RangeIgnored,
                        });
                        first = Some(Ok(*opened));
                    }
                }
            }
        }
    }
    Ok(Prepared::Start(Box::new(Start {
        paths,
        part,
        resumed_from,
        first,
    })))
}

/// A file found complete: checked against `--checksum` when one is given.
async fn complete<B>(
    req: &GetRequest,
    reporter: &dyn Reporter,
    dest: &Path,
    len: u64,
) -> Result<Prepared<B>, Error> {
    if let Some(checksum) = &req.checksum {
        verify(checksum, dest).await?;
    }
    Ok(Prepared::Done(already_complete(reporter, dest, len)))
}

/// The destination, and an answer already received for it. For a directory destination
/// with nothing of this URL in it yet, and a protocol whose answer can name the file, the
/// first request itself is sent now and its name hint (HTTP `Content-Disposition`) names the
/// file (no extra HEAD request); otherwise the name comes from the URL, so that an earlier
/// run's partial is found.
async fn destination<T: Transport>(
    transport: &T,
    req: &GetRequest,
) -> Result<(PathBuf, First<T::Body>), Error> {
    let dir = match &req.destination {
        Destination::File(path) => return Ok((path.clone(), None)),
        Destination::Dir(dir) => dir,
    };
    let url_name = dir.join(filename::choose(None, &req.url));
    if !T::NAMES_FILE || Paths::new(url_name.clone()).any_exists() {
        return Ok((url_name, None));
    }
    let ask = Ask {
        start: 0,
        end: None,
        version: None,
    };
    let opened = transport.open(&req.url, ask).await;
    let hint = match &opened {
        Ok(Opened::Body { remote, .. } | Opened::Whole { remote, .. }) => remote.name.as_deref(),
        // Errors are the attempts' to report, retry and clean up after.
        _ => return Ok((url_name, Some(opened))),
    };
    let name = dir.join(filename::choose(hint, &req.url));
    if name != url_name && Paths::new(name.clone()).any_exists() {
        // An earlier run used this name: continue that one instead.
        return Ok((name, None));
    }
    Ok((name, Some(opened)))
}

/// Loads the state file (else the first state kept on the part file, `mark::set_first`) and
/// checks it belongs to this download and to the part file.
fn recover(
    req: &GetRequest,
    paths: &Paths,
    part: &PartFile,
    reporter: &dyn Reporter,
) -> Result<Option<State>, Error> {
    let loaded = match State::load(&paths.state).map_err(Error::io("cannot read", &paths.state))? {
        Some(loaded) => Some(loaded),
        None => crate::store::mark::first(&paths.part),
    };
    let part_len = part.disk_len()?;
    let usable = match loaded {
        None => return Ok(None),
        Some(Ok(state)) if state.url == url_key(&req.url) && state.have.end() <= part_len => {
            return Ok(Some(state));
        }
        Some(_) => None,
    };
    reporter.report(Event::Restarted {
        reason: RestartReason::StateUnusable,
    });
    Ok(usable)
}

enum Adopted<B> {
    /// The existing file is the complete remote file.
    Complete,
    /// The existing file is a verified prefix, now the part file.
    Prefix,
    /// It cannot be continued (not a prefix of the remote file, or resuming refused):
    /// download from 0.
    Restart(RestartReason),
    /// The server ignored the range and sent the whole file: download from 0 with this.
    Whole(Box<Opened<B>>),
}

/// Checks an existing output file (no state) against the remote file by fetching its last
/// `OVERLAP` bytes again; a match makes it the part file.
async fn adopt<T: Transport>(
    transport: &T,
    req: &GetRequest,
    paths: &Paths,
    part: &mut PartFile,
    len: u64,
) -> Result<Adopted<T::Body>, Error> {
    let overlap = len.min(OVERLAP);
    let ask = Ask {
        start: len - overlap,
        end: Some(len),
        version: None,
    };
    let mismatch = Adopted::Restart(RestartReason::PrefixMismatch);
    let (remote, mut body) = match transport.open(&req.url, ask).await? {
        Opened::Body {
            remote,
            from,
            end,
            body,
        } if from == ask.start && end.is_none_or(|end| end >= len) => (remote, body),
        whole @ Opened::Whole { .. } => return Ok(Adopted::Whole(Box::new(whole))),
        Opened::Restart(RestartReason::ResumeRefused) => {
            return Ok(Adopted::Restart(RestartReason::ResumeRefused));
        }
        _ => return Ok(mismatch),
    };
    let mut fetched = Vec::with_capacity(overlap as usize);
    while (fetched.len() as u64) < overlap {
        let want = overlap - fetched.len() as u64;
        let Some(chunk) = body.next_chunk(want).await? else {
            break;
        };
        fetched.extend_from_slice(&chunk);
    }
    fetched.truncate(overlap as usize);
    body.close(ask.start + fetched.len() as u64).await?;
    if fetched.len() as u64 != overlap || tail(&paths.dest, overlap)? != fetched {
        return Ok(mismatch);
    }
    if remote.length == Some(len) {
        return Ok(Adopted::Complete);
    }
    let state = State {
        final_url: url_key(&remote.url),
        length: remote.length,
        version: remote.version,
        have: RangeSet::prefix(len),
        ..State::fresh(&req.url)
    };
    part.adopt(&paths.dest, state).await?;
    Ok(Adopted::Prefix)
}

/// The last `n` bytes of `path`.
fn tail(path: &Path, n: u64) -> Result<Vec<u8>, Error> {
    use std::io::{Seek, SeekFrom};
    let mut f = fs::File::open(path).map_err(Error::io("cannot read", path))?;
    f.seek(SeekFrom::End(-(n as i64)))
        .map_err(Error::io("cannot read", path))?;
    let mut buf = Vec::with_capacity(n as usize);
    f.take(n)
        .read_to_end(&mut buf)
        .map_err(Error::io("cannot read", path))?;
    Ok(buf)
}

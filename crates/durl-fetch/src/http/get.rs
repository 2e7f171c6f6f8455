//! An HTTP(S) download: pick the destination (a first GET may name it), take the lock,
//! recover or adopt, then hand over to the attempts loop ([`super::transfer`]).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use reqwest::{Client, Response};

use crate::download::commit::{Outcome, Paths, already_complete, refuse_irregular};
use crate::events::{Event, Reporter, RestartReason};
use crate::http::content_range::ContentRange;
use crate::http::filename;
use crate::http::transfer::Transfer;
use crate::http::validator::Validators;
use crate::http::{self, RangeAsk};
use crate::request::Destination;
use crate::store::durable;
use crate::store::journal::{State, url_key};
use crate::store::part::PartFile;
use crate::{Error, GetRequest};

/// How much of an adopted file's tail is fetched again and compared (`continue_existing`).
const ADOPT_OVERLAP: u64 = 64 << 10;

/// Downloads `req` over HTTP(S) with `client` (shared by several downloads for connection
/// reuse).
pub(crate) async fn get(
    client: &Client,
    req: &GetRequest,
    reporter: &dyn Reporter,
) -> Result<Outcome, Error> {
    let client = client.clone();
    let (dest, mut first) = destination(&client, req).await?;
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
        && is_current(&client, req, &mark, len).await
    {
        // Our own finished download, and the server still has exactly that version.
        if !paths.part.exists() {
            // A run killed between the rename and removing the state left it.
            durable::remove(&paths.state).map_err(Error::io("cannot remove", &paths.state))?;
        }
        if let Some(checksum) = &req.checksum {
            crate::download::commit::verify(checksum, &paths.dest).await?;
        }
        return Ok(already_complete(reporter, &paths.dest, len));
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
            if let Some(checksum) = &req.checksum {
                crate::download::commit::verify(checksum, &paths.dest).await?;
            }
            durable::remove(&paths.state).map_err(Error::io("cannot remove", &paths.state))?;
            return Ok(already_complete(reporter, &paths.dest, len));
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
                match adopt(&client, req, &paths, &mut part, len).await? {
                    Adopted::Complete => {
                        drop(part);
                        durable::remove(&paths.part)
                            .map_err(Error::io("cannot remove", &paths.part))?;
                        durable::remove(&paths.state)
                            .map_err(Error::io("cannot remove", &paths.state))?;
                        if let Some(checksum) = &req.checksum {
                            crate::download::commit::verify(checksum, &paths.dest).await?;
                        }
                        return Ok(already_complete(reporter, &paths.dest, len));
                    }
                    Adopted::Prefix => resumed_from = len,
                    Adopted::Mismatch => reporter.report(Event::Restarted {
                        reason: RestartReason::PrefixMismatch,
                    }),
                    Adopted::RangeIgnored(resp) => {
                        reporter.report(Event::Restarted {
                            reason: RestartReason::RangeIgnored,
                        });
                        first = Some(resp);
                    }
                }
            }
        }
    }
    let transfer = Transfer {
        req,
        client,
        reporter,
        paths,
        part,
        resumed_from,
        restarts: 0,
        warned_weak: false,
        sources: crate::download::mirrors::Sources::new(&req.url, &req.mirrors),
        last_url: req.url.clone(),
        fetched: 0,
        no_split: false,
        limiter: req.rate_limiter(),
    };
    transfer.run(first).await
}

/// Whether the remote file is still the version `mark` describes, asked without
/// transferring a body: `Range: bytes=LEN-` with `If-Range` is answered 416 `bytes */LEN`
/// exactly when the validator matches and the length is unchanged (RFC 9110 §13.1.5,
/// §15.5.17). Any other answer, or an error, is "not known to be current".
async fn is_current(client: &Client, req: &GetRequest, mark: &State, len: u64) -> bool {
    let Some(if_range) = mark.validators.if_range.as_deref() else {
        return false;
    };
    let ask = RangeAsk::From {
        start: len,
        if_range: Some(if_range),
    };
    let Ok(resp) = http::send(client, req, &req.url, false, ask).await else {
        return false;
    };
    resp.status().as_u16() == 416
        && http::content_range(&resp) == Some(ContentRange::Unsatisfied { complete: len })
        && mark
            .validators
            .same_version_as(&Validators::from_headers(resp.headers()))
}

/// The destination, and a response already received for it. For a directory destination
/// with nothing of this URL in it yet, the GET itself is sent first and its
/// `Content-Disposition` names the file (no extra HEAD request); otherwise the name comes
/// from the URL, so that an earlier run's partial is found.
async fn destination(
    client: &Client,
    req: &GetRequest,
) -> Result<(PathBuf, Option<Response>), Error> {
    let dir = match &req.destination {
        Destination::File(path) => return Ok((path.clone(), None)),
        Destination::Dir(dir) => dir,
    };
    let url_name = dir.join(filename::choose(None, &req.url));
    if Paths::new(url_name.clone()).any_exists() {
        return Ok((url_name, None));
    }
    match http::send(client, req, &req.url, false, RangeAsk::None).await {
        Ok(resp) if resp.status().is_success() => {
            let disposition = http::content_disposition(&resp);
            let name = dir.join(filename::choose(disposition.as_deref(), &req.url));
            if name != url_name && Paths::new(name.clone()).any_exists() {
                // An earlier run used this name: continue that one instead.
                return Ok((name, None));
            }
            Ok((name, Some(resp)))
        }
        // Errors are the transfer's to report, retry and clean up after.
        Ok(resp) => Ok((url_name, Some(resp))),
        Err(e) if e.is_retryable() => Ok((url_name, None)),
        Err(e) => Err(e),
    }
}

/// Loads the state file and checks it belongs to this download and to the part file.
fn recover(
    req: &GetRequest,
    paths: &Paths,
    part: &PartFile,
    reporter: &dyn Reporter,
) -> Result<Option<State>, Error> {
    let loaded = State::load(&paths.state).map_err(Error::io("cannot read", &paths.state))?;
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

enum Adopted {
    /// The existing file is the complete remote file.
    Complete,
    /// The existing file is a verified prefix, now the part file.
    Prefix,
    /// It is not a prefix of the remote file; download from 0.
    Mismatch,
    /// The server ignored the range request and sent the whole file: download from 0 with
    /// this response.
    RangeIgnored(Response),
}

/// Checks an existing output file (no state) against the remote file by fetching its last
/// `ADOPT_OVERLAP` bytes again; a match makes it the part file.
async fn adopt(
    client: &Client,
    req: &GetRequest,
    paths: &Paths,
    part: &mut PartFile,
    len: u64,
) -> Result<Adopted, Error> {
    let overlap = len.min(ADOPT_OVERLAP);
    let asked = len - overlap..len;
    let mut resp = http::send(
        client,
        req,
        &req.url,
        false,
        RangeAsk::Bounded {
            range: asked.clone(),
            if_range: None,
        },
    )
    .await?;
    match resp.status().as_u16() {
        206 => {}
        // The server cannot resume; its 200 carries the whole file, which is used.
        200 => return Ok(Adopted::RangeIgnored(resp)),
        416 => return Ok(Adopted::Mismatch),
        _ => return Err(http::status_error(&resp)),
    }
    let url = resp.url().clone();
    let complete = match http::content_range(&resp) {
        Some(ContentRange::Satisfied { range, complete }) if range == asked => complete,
        _ => return Ok(Adopted::Mismatch),
    };
    let validators = Validators::from_headers(resp.headers());
    let mut remote = Vec::with_capacity(overlap as usize);
    while let Some(chunk) = http::next_chunk(&mut resp, req.network.stall_timeout, &url).await? {
        remote.extend_from_slice(&chunk);
        if remote.len() as u64 >= overlap {
            break;
        }
    }
    remote.truncate(overlap as usize);
    if remote.len() as u64 != overlap || tail(&paths.dest, overlap)? != remote {
        return Ok(Adopted::Mismatch);
    }
    if complete == Some(len) {
        return Ok(Adopted::Complete);
    }
    let state = State {
        final_url: url_key(&url),
        length: complete,
        validators,
        have: crate::download::ranges::RangeSet::prefix(len),
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

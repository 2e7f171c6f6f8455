//! The end of every download, whatever the protocol: commit (fsync, checksum, rename, fsync
//! of the directory, mark, remove the state), or leave a partial that the next run continues.

use std::path::{Path, PathBuf};

use crate::events::{Event, Reporter};
use crate::store::durable;
use crate::store::journal::State;
use crate::store::part::PartFile;
use crate::store::verify::{self, Checksum};
use crate::{Error, GetRequest};

/// How often the partial may be thrown away in one run before giving up (a server whose file
/// changes on every request would otherwise loop forever).
pub(crate) const MAX_RESTARTS: u32 = 3;

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

/// What the attempts of a finished download tell its commit.
pub(crate) struct Done {
    /// Bytes already held when the run started.
    pub(crate) resumed_from: u64,
    /// Bytes written by this run.
    pub(crate) fetched: u64,
    /// The digest the remote published for the version (RFC 9530 `Repr-Digest`).
    pub(crate) digest: Option<Checksum>,
}

/// Makes the finished part file durable under its final name and removes the state (shared
/// by HTTP and FTP downloads). The file must first match `--checksum` and the remote's
/// digest, however many runs, segments and mirrors it took.
pub(crate) async fn commit(
    req: &GetRequest,
    reporter: &dyn Reporter,
    paths: Paths,
    part: PartFile,
    done: Done,
) -> Result<Outcome, Error> {
    let Done {
        resumed_from,
        fetched,
        digest,
    } = done;
    let bytes = part.written();
    let Paths {
        dest,
        part: part_path,
        state,
    } = paths;
    let mut whole = part.state().unwrap_or_else(|| State::fresh(&req.url));
    whole.have = crate::download::ranges::RangeSet::prefix(bytes);
    whole.length = Some(bytes);
    let file = part.finish(Some(bytes)).await?;
    // The data is durable now. Only a failed check needs the state to describe the whole
    // part file that is kept, so it is written then, not before every check: a list of small
    // files from a server that sends `Repr-Digest` creates no state file per file.
    if let Err(e) = check(req, digest.as_ref(), &part_path).await {
        whole
            .store(&state)
            .map_err(Error::io("cannot write", &state))?;
        return Err(e);
    }
    let mark = whole;
    // A FIFO or device made under the output's name during the download is not renamed over.
    if let Ok(m) = std::fs::metadata(&dest) {
        refuse_irregular(&dest, &m)?;
    }
    durable::rename(&part_path, &dest).map_err(Error::io("cannot rename into", &dest))?;
    crate::store::mark::set(&dest, &mark);
    crate::store::mark::clear_first(&dest);
    // The lock goes with the part file's handle, after the rename made it the final file.
    drop(file);
    // The rename is durable; the state's removal need not be (one directory fsync per file
    // saved, which a list of small files feels): a state that comes back after a crash lies
    // beside no part file, and a later run finds it unusable.
    durable::remove_unsynced(&state).map_err(Error::io("cannot remove", &state))?;
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

/// Checks the finished part file against `--checksum` and the remote's digest.
async fn check(req: &GetRequest, digest: Option<&Checksum>, part: &Path) -> Result<(), Error> {
    if let Some(checksum) = &req.checksum {
        verify(checksum, part).await?;
    }
    if let Some(digest) = digest {
        verify(digest, part).await.map_err(|e| match e {
            Error::ChecksumMismatch {
                expected,
                actual,
                kept,
            } => Error::ChecksumMismatch {
                expected: format!("{expected} (the server's Repr-Digest)"),
                actual,
                kept,
            },
            other => other,
        })?;
    }
    Ok(())
}

/// Refuses an output that exists and is no regular file — `/dev/null`, a FIFO, a socket, or
/// a link to one — even with `--force`: the finished part file would be renamed over it and
/// the device node replaced by a regular file. (Streaming into it instead would give up
/// resuming and the checksum-before-naming guarantee, so durl does not.)
pub(crate) fn refuse_irregular(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    match durable::irregular(&meta.file_type()) {
        Some(found) => Err(Error::NotRegularFile {
            path: path.to_owned(),
            found,
        }),
        None => Ok(()),
    }
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

/// The error for a body that goes on past the end its `Content-Range` announced (RFC 9110
/// §14.4): a protocol error, never file content.
pub(crate) fn overlong(url: &url::Url, range: &std::ops::Range<u64>) -> Error {
    Error::BadRange {
        url: url.clone(),
        detail: format!(
            "a body longer than its Content-Range bytes {}-{}",
            range.start,
            range.end.saturating_sub(1)
        ),
    }
}

/// The (retryable) error for a dropped mirror's answer: the next attempt goes elsewhere.
pub(crate) fn disagrees(url: &url::Url) -> Error {
    Error::BadRange {
        url: url.clone(),
        detail: "another version of the file than the other sources".into(),
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

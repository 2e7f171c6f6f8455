//! The mark a finished download leaves on its file: the final state, in an extended
//! attribute (`user.durl.state`). A later run for the same URL can then tell "complete and
//! current" with one request that transfers no body — `Range: bytes=LEN-` with `If-Range`,
//! answered 416 when the remote file is unchanged — instead of downloading anything.
//!
//! Best effort: on a file system without user extended attributes there is no mark, and a
//! later run falls back to the slower checks.

use std::path::Path;

use crate::store::journal::State;

const NAME: &str = "user.durl.state";

/// The first state of a fresh download, on its part file ([`set_first`]).
const FIRST: &str = "user.durl.first-state";

/// Marks `dest` as the complete download described by `state`. Errors are ignored: the mark
/// only saves work later.
pub(crate) fn set(dest: &Path, state: &State) {
    let _ = xattr::set(dest, NAME, state.encode().as_bytes());
}

/// Keeps the first state of a fresh download — its length and version, no byte claimed —
/// on the part file itself rather than in a state file of its own: a list of small files
/// then creates and deletes no state file per file (on ext4 without a journal, every inode
/// created while thousands were recently deleted costs a scan of them; a `-j 16` list of
/// 1000 small files was twice as slow). The first checkpoint writes the state file, which
/// wins over this. False when the file system takes no user extended attribute: the caller
/// writes the state file instead.
pub(crate) fn set_first(part: &Path, state: &State) -> bool {
    xattr::set(part, FIRST, state.encode().as_bytes()).is_ok()
}

/// The first state kept on `part` by [`set_first`], if any (`Err` when it does not decode).
pub(crate) fn first(part: &Path) -> Option<Result<State, crate::store::journal::DecodeError>> {
    let raw = xattr::get(part, FIRST).ok()??;
    Some(
        std::str::from_utf8(&raw)
            .map_err(|_| crate::store::journal::DecodeError::Version)
            .and_then(State::decode),
    )
}

/// Drops the first state from `path` (the part file, or the finished file it became).
pub(crate) fn clear_first(path: &Path) {
    let _ = xattr::remove(path, FIRST);
}

/// The mark of `dest`, if it has one for `url` that matches its length `len`.
pub(crate) fn get(dest: &Path, url: &url::Url, len: u64) -> Option<State> {
    let raw = xattr::get(dest, NAME).ok()??;
    let state = State::decode(std::str::from_utf8(&raw).ok()?).ok()?;
    (state.url == crate::store::journal::url_key(url)
        && state.length == Some(len)
        && state.have.covers(len))
    .then_some(state)
}

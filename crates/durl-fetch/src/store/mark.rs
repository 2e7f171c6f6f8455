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

/// Marks `dest` as the complete download described by `state`. Errors are ignored: the mark
/// only saves work later.
pub(crate) fn set(dest: &Path, state: &State) {
    let _ = xattr::set(dest, NAME, state.encode().as_bytes());
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

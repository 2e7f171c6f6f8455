//! The boundary between the engine and a protocol: a [`Transport`] opens the bytes of one
//! version of a remote file from a given offset, and answers with an [`Opened`]. HTTP
//! (ranged GETs with `If-Range`) and FTP (`SIZE` + `MDTM`, `REST` + `RETR`) implement it in
//! their own folders; the engine never sees a status code or a reply code.

use std::ops::Range;

use bytes::Bytes;
use url::Url;

use crate::Error;
use crate::events::RestartReason;
use crate::store::journal::State;

/// What the engine asks for: the bytes of `version` from `start`, up to `end` where the
/// protocol can bound a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask<'a> {
    pub(crate) start: u64,
    pub(crate) end: u64,
    /// The version the bytes must belong to (its length and validators).
    pub(crate) version: &'a State,
}

/// A transport's answer.
pub(crate) enum Opened<B> {
    /// A body holding exactly the bytes `range` (which starts at or before the asked start;
    /// its end is where the transport announced it stops, at most the file's length).
    Body { range: Range<u64>, body: B },
    /// Another version of the file: a mirror is dropped, the last source means a restart.
    Changed,
    /// The held bytes cannot be continued from here (the range was ignored, resuming was
    /// refused, ...): start again from 0.
    Restart(RestartReason),
}

/// The bytes of one opened body, chunk by chunk.
pub(crate) trait Body: Send {
    /// The next chunk (of at most about `max` bytes where the transport reads in pieces of
    /// its choosing), or `None` at the end of the body. The stall timeout applies.
    fn next_chunk(&mut self, max: u64)
    -> impl Future<Output = Result<Option<Bytes>, Error>> + Send;

    /// Called once when the engine has taken what it wanted, with the offset reached: a
    /// transport that cannot bound a request checks here that nothing follows the file's
    /// last byte.
    fn close(self, reached: u64) -> impl Future<Output = Result<(), Error>> + Send;
}

/// One protocol, as the engine sees it.
pub(crate) trait Transport: Sync {
    type Body: Body;

    /// The bytes at `url` (the request's URL or a mirror) that `ask` describes.
    fn open(
        &self,
        url: &Url,
        ask: Ask<'_>,
    ) -> impl Future<Output = Result<Opened<Self::Body>, Error>> + Send;
}

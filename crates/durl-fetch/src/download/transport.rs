//! The boundary between the engine and a protocol: a [`Transport`] opens the bytes of one
//! version of a remote file from a given offset, and answers with an [`Opened`]. HTTP
//! (ranged GETs with `If-Range`) and FTP (`SIZE` + `MDTM`, `REST` + `RETR`) implement it in
//! their own folders; the engine never sees a status code or a reply code.

use bytes::Bytes;
use url::Url;

use crate::Error;
use crate::events::RestartReason;
use crate::store::journal::State;
use crate::store::verify::Checksum;
use crate::version::Version;

/// What the engine asks for: the bytes from `start`, up to `end` where the protocol can bound
/// a request (else to the end of the file).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask<'a> {
    pub(crate) start: u64,
    pub(crate) end: Option<u64>,
    /// The version the bytes must belong to (its length and [`Version`]), when bytes of one
    /// are held; `None` asks for whatever version the remote has now.
    pub(crate) version: Option<&'a State>,
}

/// What an answer tells about the remote file.
#[derive(Debug, Clone)]
pub(crate) struct Remote {
    /// Where the bytes come from (after redirects).
    pub(crate) url: Url,
    /// The file's complete length, when known.
    pub(crate) length: Option<u64>,
    /// What identifies this version of the file, as the transport minted it.
    pub(crate) version: Version,
    /// Whether other connections can fetch parts of this version and prove it is the same
    /// (HTTP: ranges accepted and a validator for `If-Range`; FTP: `REST`, `SIZE`, `MDTM`).
    pub(crate) splittable: bool,
    /// A name the remote suggests for the file (HTTP `Content-Disposition`, raw).
    pub(crate) name: Option<String>,
}

/// A transport's answer.
pub(crate) enum Opened<B> {
    /// A body holding the bytes `from..end` of the version asked (`from` is at or before the
    /// asked start; `end` is where the transport announced it stops, `None` when the length
    /// is unknown). Nothing past `end` is ever written.
    Body {
        remote: Remote,
        from: u64,
        end: Option<u64>,
        body: B,
    },
    /// The whole file from byte 0 instead of the bytes asked (the range was ignored);
    /// `same_version` says whether it is the version held.
    Whole {
        remote: Remote,
        same_version: bool,
        body: B,
    },
    /// Nothing is missing: the asked start is the end of the file (HTTP 416 `bytes */N`;
    /// FTP answers a `RETR` from the end instead, which `Body::close` checks).
    Complete { length: u64 },
    /// Another version of the file: a mirror is dropped, the last source means a restart.
    Changed,
    /// The held bytes cannot be continued from here (resuming was refused, ...): start
    /// again from 0.
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
    /// last byte, or that the server calls a transfer of unknown length complete.
    fn close(self, reached: u64) -> impl Future<Output = Result<(), Error>> + Send;
}

/// One protocol, as the engine sees it.
pub(crate) trait Transport: Sync {
    type Body: Body;

    /// Whether the first answer may name the file ([`Remote::name`]): the engine then sends
    /// it before choosing the destination in a directory, and uses its body.
    const NAMES_FILE: bool;

    /// The bytes at `url` (the request's URL or a mirror) that `ask` describes.
    fn open(
        &self,
        url: &Url,
        ask: Ask<'_>,
    ) -> impl Future<Output = Result<Opened<Self::Body>, Error>> + Send;

    /// Whether `url` still serves the version `state` describes, `length` bytes long, asked
    /// without transferring a body (a finished file found still current). Any doubt, or an
    /// error, is `false`.
    fn unchanged(&self, url: &Url, state: &State, length: u64)
    -> impl Future<Output = bool> + Send;

    /// Whether a later connection can prove it serves the version `state` describes (so that
    /// its bytes may be fetched in segments, or a finished file found still current).
    fn proves(&self, state: &State) -> bool;

    /// The digest the remote published for the version `state` describes (HTTP:
    /// `Repr-Digest`), which the finished file must have before it gets its name.
    fn digest(&self, state: &State) -> Option<Checksum>;

    /// What a later answer of the version `held` (`seen`) adds that the transport keeps
    /// (HTTP: a `Repr-Digest` the first answer lacked), or whether it contradicts it (HTTP: a
    /// `Repr-Digest` other than the one held, which is another version).
    fn learn(&self, held: &Version, seen: &Version) -> Learnt;
}

/// What a later answer tells about the version held ([`Transport::learn`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Learnt {
    /// Nothing the version held does not already say.
    Nothing,
    /// The version held with what the answer adds (to record in the state).
    More(Version),
    /// The answer is of another version after all (its digest is not the one held).
    Conflict,
}

//! Faults: deliberate misbehaviour applied to a single response.

use std::time::Duration;

/// A misbehaviour applied to one response, scheduled with
/// [`FaultServer::push_fault`](crate::FaultServer::push_fault) (one-shot) or
/// [`FaultServer::set_fault`](crate::FaultServer::set_fault) (persistent).
///
/// Byte counts `k` are counted in body bytes, after the headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Send the headers and only `k` body bytes, then close the socket (FIN).
    /// Also covers "short body".
    CutAfter(u64),
    /// Send the body only up to the resource's byte `offset` (wherever the response starts),
    /// then close (FIN): every response, ranged or not, ends at the same byte of the file,
    /// as a server whose `Content-Length` is larger than what it has.
    CutAtOffset(u64),
    /// Like [`Fault::CutAfter`], but an abortive close (RST, `SO_LINGER` 0).
    ResetAfter(u64),
    /// Send `k` body bytes, then nothing for the duration, then continue normally.
    StallAfter(u64, Duration),
    /// Answer a ranged request with 200 and the full body.
    IgnoreRange,
    /// Answer `bytes=a-…` with a 206 whose `Content-Range` and body start at
    /// `a + shift` (clamped to the body); the body matches the claimed range.
    ShiftContentRange(i64),
    /// Answer `bytes=a-…` with a 206 whose `Content-Range` claims only the first `k` bytes of
    /// the range (`a` to `a + k - 1`) while the body, framed by its `Content-Length`, is as
    /// long as the range asked for: the `k` claimed bytes are correct, the ones past them are
    /// garbage (a server or proxy that mixes up its ranges).
    OverlongRange(u64),
    /// 206 whose `Content-Range` total is this number (the body is correct).
    WrongTotal(u64),
    /// Answer with this status (e.g. 503) and a small text body "error page".
    Status {
        /// The status code.
        code: u16,
        /// `Retry-After`, sent verbatim when set.
        retry_after: Option<String>,
    },
    /// 416 with `Content-Range: bytes */LEN`, whatever was asked.
    Unsatisfiable,
    /// Correct headers, then the body followed by `k` extra garbage bytes, then close.
    LongBody(u64),
    /// No `Content-Length`, `Connection: close`, the body ends at EOF.
    CloseDelimited,
    /// `Transfer-Encoding: chunked`, in several chunks.
    Chunked,
    /// 200 with `Content-Encoding: gzip` and the gzip of the full body; `Range`
    /// is ignored. Meant for small bodies (the body is compressed in memory).
    Gzip,
    /// Answer as if the ETag were this value and `Last-Modified` one day later
    /// (`If-Range` and other preconditions are checked against these).
    ChangeEtag(String),
    /// Omit `ETag` and `Last-Modified` (so `If-Range` never matches).
    NoValidators,
    /// Honour `Range` but ignore `If-Range`, as some servers and caches do: a changed file
    /// is then answered with 206 and the new validator.
    IgnoreIfRange,
    /// Answer a `Range` request that carries an entity tag in `If-Range` with 200 and the
    /// whole body, even when the tag matches, but honour a plain `Range` (and a date in
    /// `If-Range`): a CDN that honours only date validators in `If-Range`.
    IgnoreIfRangeEtag,
}

//! The storage boundary: where the served files live, behind one trait, so that the HTTP
//! pipeline above it (preconditions, Range, `multipart/byteranges`, listings, auth, digests)
//! is written once.
//!
//! A backend answers four questions: what a request path names ([`Storage::open`]: a file
//! with its [`Stat`], or a directory), what a directory holds ([`Storage::list`]), and for an
//! open file, its content as a response body for the byte ranges the pipeline chose
//! ([`Content::body`]) and whatever it knows besides (upload mark, digests). `open` is told
//! what the request will most likely read (a [`ReadHint`]), so that a backend whose stat is a
//! round trip (an object store's `HEAD`) can fetch the bytes in the same request.
//!
//! Dispatch is static: the pipeline (`service.rs`) is generic over [`Storage`] and the server
//! matches its backend once per request. The local directory's body stays a file descriptor
//! that the connection can send with `sendfile(2)` (`zerocopy.rs`); a boxed trait object
//! would have hidden that behind a byte stream.
//!
//! * `local.rs`: a directory, resolved relative to its descriptor (`resolve.rs`).
//! * `object.rs`: an S3-API object store (`object_store`), keys mapped by `object_key.rs`.

pub(crate) mod local;
pub(crate) mod object;
pub(crate) mod object_key;

use std::future::Future;
use std::io;
use std::path::PathBuf;

use http::header::{IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE, RANGE};
use http::{HeaderMap, Method};

use crate::body::{Body, Segment};
use crate::digest::Digests;
use crate::error::RequestError;
use crate::range::{self, Selection, Spec};
use crate::resolve::RequestPath;
use crate::validators::Validators;

/// What a request will most likely read of the file it names, told to [`Storage::open`]
/// before the file's length is known. An object store then answers the stat and the bytes
/// from one `GET` instead of a `HEAD` and a `GET`. Only a guess: the pipeline still decides
/// from the stat, and [`Content::body`] uses what was read with the stat only when it is
/// exactly what the body needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadHint {
    /// Most likely no bytes, or several pieces: stat only.
    None,
    /// The whole file.
    Whole,
    /// One range, as the client wrote it (the length decides what it selects).
    Range(Spec),
}

impl ReadHint {
    /// What a `method` request with `headers` will most likely read, mirroring the pipeline
    /// (`response::file`): a `HEAD` reads nothing; a conditional request may be answered 304
    /// or 412 without a body (RFC 9110 §13.2.2), so it stats first; `If-Range` is taken to
    /// hold (a client sends the validator it was given); a `Range` the pipeline ignores (§14.2)
    /// reads the whole; several ranges are read part by part.
    pub(crate) fn of(method: &Method, headers: &HeaderMap) -> Self {
        let conditional = [
            IF_MATCH,
            IF_NONE_MATCH,
            IF_MODIFIED_SINCE,
            IF_UNMODIFIED_SINCE,
        ]
        .iter()
        .any(|name| headers.contains_key(name));
        if method != Method::GET || conditional {
            return Self::None;
        }
        // More than one Range field line is not a valid ranges-specifier: ignored.
        let mut values = headers.get_all(RANGE).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Self::Whole;
        };
        match range::selection(value.as_bytes()) {
            Selection::Whole => Self::Whole,
            // Unsatisfiable at any length (RFC 9110 §14.1.1): the 416 needs the length only.
            Selection::One(Spec::Suffix(0)) | Selection::Several => Self::None,
            Selection::One(spec) => Self::Range(spec),
        }
    }
}

/// A file's content was replaced (or removed) between its [`Stat`] and the first read of its
/// body: the answer prepared from the stat would describe bytes the storage no longer has.
/// Carried inside the [`io::Error`] of [`Content::body`]; the pipeline then answers once more
/// from what the path names now.
#[derive(Debug, thiserror::Error)]
#[error("the file was replaced after it was opened")]
pub(crate) struct Replaced;

impl Replaced {
    /// Whether `e` is a [`Replaced`].
    pub(crate) fn is(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|inner| inner.is::<Replaced>())
    }
}

/// What the pipeline knows of a file before it answers.
#[derive(Debug, Clone)]
pub(crate) struct Stat {
    /// Its length in bytes.
    pub(crate) len: u64,
    /// Its `ETag` and `Last-Modified`.
    pub(crate) validators: Validators,
    /// Its name (links resolved), for the `Content-Type` guess only: never opened again.
    pub(crate) name: PathBuf,
}

/// One row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// A directory (its link ends with `/`).
    pub(crate) is_dir: bool,
    /// The raw file name.
    pub(crate) name: Vec<u8>,
    /// Size in bytes (files only).
    pub(crate) size: Option<u64>,
    /// Modification time, Unix seconds.
    pub(crate) modified: Option<i64>,
    /// The strong ETag a GET of the file would carry (files only).
    pub(crate) etag: Option<String>,
}

/// What a request path names.
#[derive(Debug)]
pub(crate) enum Found<F, D> {
    /// A file, ready to be read.
    File(F),
    /// A directory, ready to be listed.
    Dir(D),
}

/// A file found by a [`Storage`], pinned to the version its [`Stat`] describes.
pub(crate) trait Content: Send + Sized + 'static {
    /// Length, validators and name.
    fn stat(&self) -> &Stat;

    /// Whether the file arrived by upload (`Ok(false)`: it did not; `Err`: the storage cannot
    /// tell).
    fn upload_mark(&self) -> io::Result<bool>;

    /// The digests of the whole representation (RFC 9530), where the storage has or can
    /// compute them; `None` otherwise (the answer then carries none).
    fn digests(&self) -> impl Future<Output = Option<Digests>> + Send;

    /// A body of `segments` (literal bytes and half-open byte ranges of the file, all within
    /// its length). May read the first chunk before returning (or use bytes read with the
    /// stat); an error carrying [`Replaced`] then means the file changed since its stat.
    fn body(self, segments: Vec<Segment>) -> impl Future<Output = io::Result<Body>> + Send;
}

/// Where the served files live.
pub(crate) trait Storage: Send + Sync {
    /// An open file.
    type File: Content;
    /// An open directory.
    type Dir: Send;

    /// The regular file `request` names, if the storage can open it without waiting (a local
    /// file in the kernel's caches); `None` sends the request to [`Storage::open`].
    fn open_now(&self, request: &RequestPath) -> Option<Self::File>;

    /// What `request` names: a file or a directory, or why neither can be served. `hint`:
    /// what the request will most likely read of a file (a backend may fetch it now).
    fn open(
        &self,
        request: &RequestPath,
        hint: ReadHint,
    ) -> impl Future<Output = Result<Found<Self::File, Self::Dir>, RequestError>> + Send;

    /// The entries of `dir` (which `request` named) that may be shown, unsorted.
    fn list(
        &self,
        dir: Self::Dir,
        request: &RequestPath,
    ) -> impl Future<Output = Result<Vec<Entry>, RequestError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header field: name and value.
    type Field = (&'static str, &'static str);

    #[test]
    fn read_hints_follow_the_pipeline() {
        let int = |first, last| ReadHint::Range(Spec::Int { first, last });
        #[rustfmt::skip]
        let cases: &[(Method, &[Field], ReadHint)] = &[
            (Method::GET, &[], ReadHint::Whole),
            (Method::HEAD, &[], ReadHint::None),
            (Method::HEAD, &[("range", "bytes=0-9")], ReadHint::None),
            (Method::GET, &[("range", "bytes=0-9")], int(0, Some(9))),
            (Method::GET, &[("range", "bytes=100-")], int(100, None)),
            (Method::GET, &[("range", "bytes=-5")], ReadHint::Range(Spec::Suffix(5))),
            (Method::GET, &[("range", "bytes=-0")], ReadHint::None),
            (Method::GET, &[("range", "bytes=0-9,20-29")], ReadHint::None),
            (Method::GET, &[("range", "bytes=9-0")], ReadHint::Whole),
            (Method::GET, &[("range", "lines=0-9")], ReadHint::Whole),
            (Method::GET, &[("range", "bytes=0-9"), ("range", "bytes=0-9")], ReadHint::Whole),
            (Method::GET, &[("if-range", "\"x\""), ("range", "bytes=0-9")], int(0, Some(9))),
            (Method::GET, &[("if-range", "\"x\"")], ReadHint::Whole),
            (Method::GET, &[("if-none-match", "\"x\"")], ReadHint::None),
            (Method::GET, &[("if-match", "\"x\"")], ReadHint::None),
            (Method::GET, &[("if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT")], ReadHint::None),
            (Method::GET, &[("if-unmodified-since", "Sun, 06 Nov 1994 08:49:37 GMT")], ReadHint::None),
        ];
        for (method, fields, want) in cases {
            let mut headers = HeaderMap::new();
            for (name, value) in *fields {
                headers.append(*name, value.parse().unwrap());
            }
            assert_eq!(ReadHint::of(method, &headers), *want, "{method} {fields:?}");
        }
    }
}

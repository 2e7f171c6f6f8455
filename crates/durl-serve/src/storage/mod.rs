//! The storage boundary: where the served files live, behind one trait, so that the HTTP
//! pipeline above it (preconditions, Range, `multipart/byteranges`, listings, auth, digests)
//! is written once.
//!
//! A backend answers four questions: what a request path names ([`Storage::open`]: a file
//! with its [`Stat`], or a directory), what a directory holds ([`Storage::list`]), and for an
//! open file, its content as a response body for the byte ranges the pipeline chose
//! ([`Content::body`]) and whatever it knows besides (upload mark, digests).
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

use crate::body::{Body, Segment};
use crate::digest::Digests;
use crate::error::RequestError;
use crate::resolve::RequestPath;
use crate::validators::Validators;

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
    /// its length). May read the first chunk before returning; an error carrying [`Replaced`]
    /// then means the file changed since its stat.
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

    /// What `request` names: a file or a directory, or why neither can be served.
    fn open(
        &self,
        request: &RequestPath,
    ) -> impl Future<Output = Result<Found<Self::File, Self::Dir>, RequestError>> + Send;

    /// The entries of `dir` (which `request` named) that may be shown, unsorted.
    fn list(
        &self,
        dir: Self::Dir,
        request: &RequestPath,
    ) -> impl Future<Output = Result<Vec<Entry>, RequestError>> + Send;
}

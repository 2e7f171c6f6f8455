//! An S3-API object store (`durl serve s3://BUCKET[/PREFIX]`) through `object_store`.
//!
//! * A request path maps to a key below the prefix (`object_key.rs`, pure, same refusals as
//!   the local directory). A key that is an object is a file (length, ETag, version,
//!   Last-Modified); one that is only a prefix of others (`KEY/…`) is a directory, listed
//!   with the delimiter `/` (`ListObjectsV2`).
//! * A plain `GET` (no condition; the whole, or one range: [`ReadHint`]) is one store
//!   request: a `GET` (ranged as the client's) whose answer gives the metadata and the bytes,
//!   of one version by construction. The body sends those bytes when they are what the
//!   answer needs (an `If-Range` that failed needs the whole: the stream is dropped and the
//!   pinned `GET`s below are made). A `GET` the store refuses other than with 404 (416 for a
//!   range past the end; an answer `object_store` cannot read) falls back to the `HEAD`, so
//!   the 416 sent is durl's own, with the length. Anything else (a `HEAD`, a conditional
//!   request, several ranges) asks the `HEAD` first.
//! * The ETag sent is strong, made of the length and the store's own ETag (and version, where
//!   the bucket keeps versions): any overwrite changes it.
//! * Otherwise a body is one ranged `GET` per byte range, each sent with `If-Match` of the ETag the
//!   answer's validators came from (and the version): an object replaced in between makes the store
//!   refuse the `GET` (412) instead of handing out bytes of another version, so a body is never
//!   mixed. The first `GET` is made before the answer's head is sent; later ones (multipart parts)
//!   as the client reads, so memory stays bounded by the stream's buffers. A first `GET` refused
//!   that way is [`Replaced`]: the pipeline answers once more from the version the key holds now; a
//!   later one cuts the body.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{
    ClientOptions, GetOptions, GetRange, ListResult, ObjectMeta, ObjectStore, ObjectStoreExt as _,
};

use crate::body::{Body, Chunks, Segment};
use crate::digest::Digests;
use crate::error::{RequestError, ServeError};
use crate::resolve::RequestPath;
use crate::validators::Validators;

use super::object_key::BucketUrl;
use super::{Content, Entry, Found, ReadHint, Replaced, Stat, Storage};
use crate::config::S3Storage;
use crate::range::Spec;

/// The object store as a [`Storage`].
#[derive(Debug, Clone)]
pub(crate) struct Objects {
    store: Arc<AmazonS3>,
    url: BucketUrl,
    /// Dotfiles are listed.
    hidden: bool,
}

/// An `object_store` error as an I/O error (answered 500 and logged).
fn io_error(e: object_store::Error) -> std::io::Error {
    std::io::Error::other(e)
}

/// A pinned `GET`'s error: the key no longer holds the version opened (412 to `If-Match`, or
/// gone) is [`Replaced`]; anything else an I/O error.
fn read_error(e: object_store::Error) -> std::io::Error {
    match e {
        object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. } => {
            std::io::Error::other(Replaced)
        }
        e => io_error(e),
    }
}

impl Objects {
    /// Connects to the store and checks that the bucket can be listed.
    pub(crate) async fn connect(config: &S3Storage, hidden: bool) -> Result<Self, ServeError> {
        let url = config.url.clone();
        let failed = |source: object_store::Error| ServeError::ObjectStore {
            url: url.display(),
            source: Box::new(source),
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&url.bucket)
            .with_region(config.region.as_deref().unwrap_or("us-east-1"))
            // The whole-request timeout would cut long downloads to slow clients; an idle
            // client is cut by the server's idle timeout, which drops the request.
            .with_client_options(
                ClientOptions::new()
                    .with_timeout_disabled()
                    .with_connect_timeout(Duration::from_secs(10)),
            );
        match (&config.access_key_id, &config.secret_access_key) {
            (Some(id), Some(secret)) => {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            // No key: unsigned requests, never the instance-metadata service.
            _ => builder = builder.with_skip_signature(true),
        }
        config.check()?;
        if let Some(endpoint) = &config.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = builder.build().map_err(failed)?;
        let objects = Self {
            store: Arc::new(store),
            url: url.clone(),
            hidden,
        };
        let prefix = url.key(&[]).unwrap_or_default();
        objects
            .store
            .list_with_delimiter(Some(&prefix))
            .await
            .map_err(failed)?;
        Ok(objects)
    }

    /// The client and the bucket URL (uploads into the same store use them).
    pub(crate) fn parts(&self) -> (Arc<AmazonS3>, BucketUrl) {
        (Arc::clone(&self.store), self.url.clone())
    }

    /// The listing of the directory `key` (`None`: nothing there and not the root).
    async fn dir(&self, key: &Path, root: bool) -> Result<Option<ListResult>, RequestError> {
        let listed = self
            .store
            .list_with_delimiter(Some(key))
            .await
            .map_err(|e| RequestError::Io(io_error(e)))?;
        let empty = listed.objects.is_empty() && listed.common_prefixes.is_empty();
        Ok((root || !empty).then_some(listed))
    }
}

impl Storage for Objects {
    type File = ObjectFile;
    type Dir = ListResult;

    fn open_now(&self, _request: &RequestPath) -> Option<ObjectFile> {
        None
    }

    async fn open(
        &self,
        request: &RequestPath,
        hint: ReadHint,
    ) -> Result<Found<ObjectFile, ListResult>, RequestError> {
        // The uploads' area (records, leases, unfinished data) is never served, even with
        // dotfiles on: nor another prefix's, seen from an instance serving a shorter one.
        if request
            .segments()
            .iter()
            .any(|s| s == crate::upload::AREA.as_bytes())
        {
            return Err(RequestError::NotFound);
        }
        let key = self
            .url
            .key(request.segments())
            .ok_or(RequestError::NotFound)?;
        if request.is_root() || request.has_trailing_slash() {
            return match self.dir(&key, request.is_root()).await? {
                Some(listed) => Ok(Found::Dir(listed)),
                None => Err(RequestError::NotFound),
            };
        }
        if let Some(range) = hinted_range(hint) {
            let options = GetOptions {
                range,
                ..GetOptions::default()
            };
            match self.store.get_opts(&key, options).await {
                Ok(got) => {
                    let meta = got.meta.clone();
                    let fetched = Fetched {
                        range: got.range.clone(),
                        chunks: std::sync::Mutex::new(got.into_stream().map_err(io_error).boxed()),
                    };
                    let file = ObjectFile::new(Arc::clone(&self.store), meta, Some(fetched));
                    return Ok(Found::File(file));
                }
                Err(object_store::Error::NotFound { .. }) => {
                    return match self.dir(&key, false).await? {
                        Some(listed) => Ok(Found::Dir(listed)),
                        None => Err(RequestError::NotFound),
                    };
                }
                // A range past the end (416), or an answer not of the range asked: the HEAD,
                // and the pipeline decides from the length.
                Err(_) => {}
            }
        }
        match self.store.head(&key).await {
            Ok(meta) => Ok(Found::File(ObjectFile::new(
                Arc::clone(&self.store),
                meta,
                None,
            ))),
            // Not an object: maybe a directory (the service redirects to `KEY/`).
            Err(object_store::Error::NotFound { .. }) => match self.dir(&key, false).await? {
                Some(listed) => Ok(Found::Dir(listed)),
                None => Err(RequestError::NotFound),
            },
            Err(e) => Err(RequestError::Io(io_error(e))),
        }
    }

    async fn list(
        &self,
        listed: ListResult,
        _request: &RequestPath,
    ) -> Result<Vec<Entry>, RequestError> {
        let mut entries = Vec::new();
        let area = |name: &str| name == crate::upload::AREA;
        let shown =
            |name: &str| !name.is_empty() && (self.hidden || !name.starts_with('.')) && !area(name);
        for prefix in &listed.common_prefixes {
            if let Some(name) = prefix.filename().filter(|n| shown(n)) {
                entries.push(Entry {
                    is_dir: true,
                    name: name.as_bytes().to_vec(),
                    size: None,
                    modified: None,
                    etag: None,
                });
            }
        }
        for meta in &listed.objects {
            if let Some(name) = meta.location.filename().filter(|n| shown(n)) {
                entries.push(Entry {
                    is_dir: false,
                    name: name.as_bytes().to_vec(),
                    size: Some(meta.size),
                    modified: Some(meta.last_modified.timestamp()),
                    etag: Some(validators(&meta_parts(meta)).etag()),
                });
            }
        }
        Ok(entries)
    }
}

/// What of an object's metadata its validators are made of.
struct MetaParts<'a> {
    len: u64,
    e_tag: Option<&'a str>,
    version: Option<&'a str>,
    modified_secs: i64,
}

fn meta_parts(meta: &ObjectMeta) -> MetaParts<'_> {
    MetaParts {
        len: meta.size,
        e_tag: meta.e_tag.as_deref(),
        version: meta.version.as_deref(),
        modified_secs: meta.last_modified.timestamp(),
    }
}

/// The object's validators: a strong ETag `LEN-s3-TAG[-vVERSION]` (hex length, the store's
/// ETag reduced to entity-tag characters, RFC 9110 §8.8.3), or `LEN-t-SECS` where the store
/// gave no ETag; Last-Modified in whole seconds.
fn validators(parts: &MetaParts<'_>) -> Validators {
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
            .collect()
    };
    let mut etag_opaque = match parts.e_tag {
        Some(tag) => format!("{:x}-s3-{}", parts.len, clean(tag)),
        None => format!("{:x}-t-{:x}", parts.len, parts.modified_secs),
    };
    if let Some(version) = parts.version {
        etag_opaque.push_str("-v");
        etag_opaque.push_str(&clean(version));
    }
    let secs = u64::try_from(parts.modified_secs).unwrap_or(0);
    Validators {
        etag_opaque,
        last_modified: UNIX_EPOCH + Duration::from_secs(secs),
    }
}

/// What a `GET` for `hint` asks for: `None`, no `GET` (the `HEAD`); `Some(None)`, the whole.
/// A range as the client wrote it: the store resolves it against the length as RFC 9110
/// §14.1.2 does (a last-pos past the end, a suffix longer than the object, clamped).
fn hinted_range(hint: ReadHint) -> Option<Option<GetRange>> {
    match hint {
        ReadHint::None => None,
        ReadHint::Whole => Some(None),
        ReadHint::Range(Spec::Int { first, last: None }) => Some(Some(GetRange::Offset(first))),
        ReadHint::Range(Spec::Int {
            first,
            last: Some(last),
        }) => Some(Some(GetRange::Bounded(first..last.saturating_add(1)))),
        ReadHint::Range(Spec::Suffix(n)) => Some(Some(GetRange::Suffix(n))),
    }
}

/// The bytes of the `GET` an object's metadata came from, not read yet.
struct Fetched {
    /// Which bytes (half-open).
    range: std::ops::Range<u64>,
    /// Only ever taken whole (the lock makes the file `Sync`, as a `&self` future needs).
    chunks: std::sync::Mutex<Chunks>,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// An object, pinned to the version its `HEAD` (or `GET`) described.
#[derive(Debug)]
pub(crate) struct ObjectFile {
    store: Arc<AmazonS3>,
    meta: ObjectMeta,
    stat: Stat,
    /// The bytes of the `GET` the metadata came from, if it was one.
    fetched: Option<Fetched>,
}

impl ObjectFile {
    fn new(store: Arc<AmazonS3>, meta: ObjectMeta, fetched: Option<Fetched>) -> Self {
        let stat = Stat {
            len: meta.size,
            validators: validators(&meta_parts(&meta)),
            name: meta.location.as_ref().into(),
        };
        Self {
            store,
            meta,
            stat,
            fetched,
        }
    }
}

/// One piece of an object body: bytes to send as they are, a range not asked for yet, or one
/// whose `GET` is answered.
enum Piece {
    Bytes(Bytes),
    Range(std::ops::Range<u64>),
    Answered(Chunks),
}

/// A ranged `GET` of `range` of the object `meta` describes, refused by the store (412) if the
/// key now holds another version.
async fn get_range(
    store: &AmazonS3,
    meta: &ObjectMeta,
    range: std::ops::Range<u64>,
) -> std::io::Result<Chunks> {
    let options = GetOptions {
        if_match: meta.e_tag.clone(),
        version: meta.version.clone(),
        range: Some(GetRange::Bounded(range.clone())),
        ..GetOptions::default()
    };
    let got = store
        .get_opts(&meta.location, options)
        .await
        .map_err(read_error)?;
    if got.range != range {
        return Err(std::io::Error::other(format!(
            "the store answered bytes {:?} for {range:?}",
            got.range
        )));
    }
    Ok(got.into_stream().map_err(io_error).boxed())
}

impl Content for ObjectFile {
    fn stat(&self) -> &Stat {
        &self.stat
    }

    fn upload_mark(&self) -> std::io::Result<bool> {
        // Objects carry no mark this server reads: which came by upload is unknown, so with
        // uploads on every active file is sandboxed (`response::Sandbox`).
        Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "objects carry no upload mark",
        ))
    }

    async fn digests(&self) -> Option<Digests> {
        None
    }

    async fn body(mut self, segments: Vec<Segment>) -> std::io::Result<Body> {
        // The bytes fetched with the metadata are exactly the body: sent as they come, of the
        // version the answer describes by construction. Otherwise dropped (the store's
        // connection with them) before the pinned GETs below.
        if let Some(fetched) = self.fetched.take()
            && let [Segment::Slice(range)] = segments.as_slice()
            && *range == fetched.range
        {
            let chunks = fetched
                .chunks
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            return Ok(Body::stream(chunks, range.end - range.start));
        }
        let len = segments.iter().map(Segment::len).sum();
        let mut pieces = Vec::with_capacity(segments.len());
        let mut first = true;
        // An empty range (an empty object's whole body) needs no GET: S3 has no empty range.
        let segments = segments
            .into_iter()
            .filter(|s| !matches!(s, Segment::Slice(r) if r.is_empty()));
        for segment in segments {
            pieces.push(match segment {
                Segment::Bytes(bytes) => Piece::Bytes(bytes),
                // The first GET now, so that a store that refuses it fails the answer, not
                // the connection.
                Segment::Slice(range) if first => {
                    first = false;
                    Piece::Answered(get_range(&self.store, &self.meta, range).await?)
                }
                Segment::Slice(range) => Piece::Range(range),
            });
        }
        let (store, meta) = (self.store, Arc::new(self.meta));
        let chunks = stream::iter(pieces)
            .then(move |piece| {
                let (store, meta) = (Arc::clone(&store), Arc::clone(&meta));
                async move {
                    match piece {
                        Piece::Bytes(bytes) => Ok(stream::once(async { Ok(bytes) }).boxed()),
                        Piece::Answered(chunks) => Ok(chunks),
                        Piece::Range(range) => get_range(&store, &meta, range).await,
                    }
                }
            })
            .try_flatten()
            .boxed();
        Ok(Body::stream(chunks, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_strong_and_follow_the_stores() {
        let parts = |len, e_tag, version| MetaParts {
            len,
            e_tag,
            version,
            modified_secs: 1_700_000_000,
        };
        #[rustfmt::skip]
        let cases: &[(MetaParts<'_>, &str)] = &[
            (parts(1000, Some("\"5b1a41fd\""), None), "\"3e8-s3-5b1a41fd\""),
            (parts(16, Some("\"abc-3\""), None), "\"10-s3-abc-3\""),
            (parts(16, Some("\"abc\""), Some("v1/2")), "\"10-s3-abc-vv12\""),
            (parts(16, Some("W/\"x y\""), None), "\"10-s3-Wxy\""),
            (parts(16, None, None), "\"10-t-6553f100\""),
        ];
        for (parts, want) in cases {
            let v = validators(parts);
            assert_eq!(v.etag(), *want);
            assert_eq!(
                v.last_modified,
                UNIX_EPOCH + Duration::from_secs(1_700_000_000)
            );
        }
        let a = validators(&parts(16, Some("\"a\""), None));
        let b = validators(&parts(16, Some("\"b\""), None));
        assert_ne!(a.etag(), b.etag(), "another content, another ETag");
    }
}

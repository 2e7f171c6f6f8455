//! tus 1.0.0 resumable uploads (<https://tus.io/protocols/resumable-upload>) at
//! `/.durl/uploads/`: the core protocol and the `creation`, `creation-with-upload`,
//! `creation-defer-length`, `termination`, `expiration` and `checksum` extensions.
//!
//! * `OPTIONS` (either URL): the server's capabilities, 204.
//! * `POST /.durl/uploads/`: creates an upload, 201 with `Location: /.durl/uploads/<id>`; with
//!   `Content-Type: application/offset+octet-stream` its body is the first chunk.
//! * `HEAD /.durl/uploads/<id>`: the durable `Upload-Offset`, the length (or deferral), the
//!   metadata.
//! * `PATCH /.durl/uploads/<id>`: appends at exactly `Upload-Offset` (`transfer.rs`).
//! * `DELETE /.durl/uploads/<id>`: terminates.
//!
//! Header parsing is pure (`protocol.rs`); the on-disk state and its durability rule are in
//! `store.rs`. Uploads live outside the served tree until complete; then the file is
//! renamed into the served directory under its sanitised metadata name.

mod backend;
mod bucket;
mod bucket_record;
mod error;
mod lease;
mod local;
mod pace;
mod place;
pub(crate) mod protocol;
mod record;
pub(crate) mod space;
pub(crate) mod store;
mod transfer;
mod upload_dir;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_LENGTH, LOCATION, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use self::backend::Destination;
use self::backend::{NewUpload, Transfer, UploadHandle, UploadStore};
pub(crate) use self::bucket::{AREA, BucketUploads};
use self::error::UploadError;
pub(crate) use self::local::LocalUploads;
use self::protocol::{Checksum, Length, Metadata, OnConflict, TUS_VERSION};
use self::record::Info;
pub(crate) use self::store::{PrivateArea, Store};
use crate::auth::{Gate, Identity, Right};
use crate::body::Body;
use crate::config::UploadSettings;
use crate::resolve::RequestPath;
use crate::response;

/// The upload collection; uploads are `/.durl/uploads/<id>`.
pub(crate) const PREFIX: &str = "/.durl/uploads";

/// Whether `path` (the raw request path) belongs to the upload endpoint.
pub(crate) fn is_upload_path(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Where uploads are kept: matched once per request, then one generic handler.
#[derive(Debug, Clone)]
pub(crate) enum Uploads {
    /// The local upload directory; finished files go into the served directory.
    Local(LocalUploads),
    /// An S3-API object store: any instance over the bucket continues any upload.
    Bucket(BucketUploads),
}

impl Uploads {
    /// Limits and policies.
    pub(crate) fn settings(&self) -> &UploadSettings {
        match self {
            Self::Local(local) => local.settings(),
            Self::Bucket(bucket) => bucket.settings(),
        }
    }

    /// The upload directory when it lies inside the served tree.
    pub(crate) fn private_area(&self) -> Option<&PrivateArea> {
        match self {
            Self::Local(local) => local.private_area(),
            Self::Bucket(_) => None,
        }
    }

    /// Deletes expired uploads every quarter of the expiry period (between 100 ms and 1 min).
    pub(crate) async fn sweep_forever(self) {
        match self {
            Self::Local(local) => sweep_forever(local).await,
            Self::Bucket(bucket) => sweep_forever(bucket).await,
        }
    }
}

/// Who is asking, as the upload endpoint sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Requester<'a> {
    /// Accounts and rights; `None`: nothing is restricted.
    pub(crate) gate: Option<&'a Gate>,
    /// The checked identity.
    pub(crate) identity: &'a Identity,
}

impl Requester<'_> {
    /// Whether they may upload into the directory at `segments`.
    fn may_write(&self, segments: &[Vec<u8>]) -> bool {
        self.gate
            .is_none_or(|g| g.may(self.identity, segments, Right::Write))
    }

    /// 403 unless the upload is theirs: only its creator continues, queries or terminates
    /// an upload (anonymous ones: anonymous requests).
    fn owns(&self, upload: &impl UploadHandle) -> Result<(), UploadError> {
        if upload.info().owner.as_deref() == self.identity.user() {
            Ok(())
        } else {
            Err(UploadError::Forbidden("another user's upload"))
        }
    }
}

/// Answers one request to the upload endpoint.
pub(crate) async fn handle<B>(
    uploads: &Uploads,
    who: Requester<'_>,
    peer: IpAddr,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: B,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    match uploads {
        Uploads::Local(local) => handle_in(local, who, peer, method, path, headers, body).await,
        Uploads::Bucket(bucket) => handle_in(bucket, who, peer, method, path, headers, body).await,
    }
}

async fn handle_in<S, B>(
    store: &S,
    who: Requester<'_>,
    peer: IpAddr,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: B,
) -> Response<Body>
where
    S: UploadStore,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    // Core Protocol › Headers › X-HTTP-Method-Override: "MUST be interpreted as the
    // request's method".
    let method = headers
        .get("x-http-method-override")
        .and_then(|v| Method::from_bytes(v.as_bytes()).ok())
        .unwrap_or_else(|| method.clone());
    let id = match path.strip_prefix(PREFIX).unwrap_or("") {
        "" | "/" => None,
        rest => {
            let id = &rest[1..];
            if !protocol::is_upload_id(id) {
                return error(&UploadError::NotFound);
            }
            Some(id)
        }
    };
    // Core Protocol › Requests › OPTIONS: no Tus-Resumable needed, and it is ignored.
    if method == Method::OPTIONS {
        return options(store.settings());
    }
    if let Err(e) = protocol::check_resumable(headers) {
        return error(&e);
    }
    let result = match (id, &method) {
        (None, &Method::POST) => create(store, who, peer, headers, body).await,
        (None, _) => Err(UploadError::MethodNotAllowed("OPTIONS, POST")),
        (Some(id), &Method::HEAD) => head(store, who, id).await,
        (Some(id), &Method::PATCH) => patch(store, who, peer, id, headers, body).await,
        (Some(id), &Method::DELETE) => terminate(store, who, id).await,
        (Some(_), _) => Err(UploadError::MethodNotAllowed(
            "OPTIONS, HEAD, PATCH, DELETE",
        )),
    };
    result.unwrap_or_else(|e| error(&e))
}

/// Core Protocol › Requests › OPTIONS, with Tus-Extension, Tus-Max-Size (when limited) and
/// Checksum › Tus-Checksum-Algorithm.
fn options(settings: &UploadSettings) -> Response<Body> {
    let mut response = tus(StatusCode::NO_CONTENT);
    let h = response.headers_mut();
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert(
        "tus-extension",
        HeaderValue::from_static(protocol::EXTENSIONS),
    );
    h.insert(
        "tus-checksum-algorithm",
        HeaderValue::from_static(protocol::CHECKSUM_ALGORITHMS),
    );
    if let Some(max) = settings.max_size {
        h.insert("tus-max-size", HeaderValue::from(max));
    }
    response
}

/// Creation › Requests › POST (and Creation With Upload when the body is upload data).
async fn create<S, B>(
    store: &S,
    who: Requester<'_>,
    peer: IpAddr,
    headers: &HeaderMap,
    body: B,
) -> Result<Response<Body>, UploadError>
where
    S: UploadStore,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    let settings = store.settings();
    let length = protocol::creation_length(headers)?;
    let metadata = match headers.get("upload-metadata") {
        Some(value) => Metadata::parse(value.as_bytes())?,
        None => Metadata::parse(b"")?,
    };
    if let Length::Known(n) = length {
        // Creation › POST: over Tus-Max-Size "MUST respond with 413".
        check_size(settings, n)?;
    }
    let name = metadata.file_name();
    // Where the file lands: the directory the page shows (durl's `directory` key), checked
    // as a request path and for the write right there, then opened without following links.
    let dir = RequestPath::parse(metadata.directory()?.unwrap_or("/"))
        .map_err(|_| UploadError::BadRequest("directory is not a clean path below the root"))?;
    if !who.may_write(dir.segments()) {
        return Err(UploadError::Forbidden("no write right in that directory"));
    }
    let dir = (!dir.is_root()).then(|| dir.href(true));
    let overwrite = settings.overwrite;
    let on_conflict = metadata.on_conflict()?;
    let replace = match on_conflict {
        OnConflict::Default => overwrite,
        OnConflict::Refuse | OnConflict::KeepBoth => false,
        OnConflict::Replace if overwrite => true,
        OnConflict::Replace => {
            return Err(UploadError::Forbidden(
                "this server does not replace files (no --overwrite)",
            ));
        }
    };
    // A taken name is 409 unless the client chose: keep both (a numbered name at the end)
    // or replace.
    let refuse_taken = match on_conflict {
        OnConflict::Default => !overwrite,
        OnConflict::Refuse => true,
        OnConflict::KeepBoth | OnConflict::Replace => false,
    };
    store
        .check_target(dir.clone(), name.clone(), refuse_taken)
        .await?;
    let destination = Destination {
        dir,
        owner: who.identity.user().map(str::to_owned),
        replace,
    };
    // Creation With Upload: the body is data only with the tus media type.
    let with_data = protocol::is_offset_octet_stream(headers);
    let (checksum, permit) = if with_data {
        (
            Checksum::from_headers(headers)?,
            Some(store.slots().take(peer)?),
        )
    } else {
        (None, None)
    };
    let known = match length {
        Length::Known(n) => Some(n),
        Length::Deferred => None,
    };
    let upload = store
        .create(NewUpload {
            length: known,
            metadata: metadata.raw,
            name,
            destination,
        })
        .await?;
    // A known length is promised whole (space.rs), so that uploads created at once cannot
    // together promise more than the disk holds: 507 (and no upload) if it does not fit.
    if let Some(n) = known
        && let Err(e) = store.reserve(&upload, n).await
    {
        let lock = store.lock(&upload).await?;
        store.remove(&upload, lock).await?;
        return Err(e);
    }
    tracing::info!(upload = %upload.id(), length = ?known, "upload created");
    let location = format!("{PREFIX}/{}", upload.id());
    let outcome = match permit {
        Some(permit) => match store.lock(&upload).await {
            Ok(lock) => {
                let transfer = Transfer {
                    upload: Arc::clone(&upload),
                    start: 0,
                    length: known,
                    limit: limit(settings, 0, known),
                    expected: content_length(headers)?,
                    checksum,
                    lock,
                    permit,
                };
                store.receive(transfer, body).await
            }
            Err(e) => Err(e),
        },
        None if known == Some(0) => match store.lock(&upload).await {
            // Creation › POST: an empty upload "is immediately complete after its creation".
            Ok(lock) => store.finish(&upload, lock).await,
            Err(e) => Err(e),
        },
        None => Ok(upload.info()),
    };
    let mut response = match outcome {
        Ok(info) => {
            let mut response = tus(StatusCode::CREATED);
            progress(response.headers_mut(), &info, with_data);
            response
        }
        Err(e) => error(&e),
    };
    // Creation › POST: "MUST set the Location header"; on a failed first chunk too, so that
    // the client can resume the upload that exists.
    response
        .headers_mut()
        .insert(LOCATION, header_value(&location));
    Ok(response)
}

/// Core Protocol › Requests › HEAD.
async fn head<S: UploadStore>(
    store: &S,
    who: Requester<'_>,
    id: &str,
) -> Result<Response<Body>, UploadError> {
    let upload = store.lookup(id).await?;
    who.owns(&*upload)?;
    let info = upload.info();
    let mut response = tus(StatusCode::OK);
    let h = response.headers_mut();
    progress(h, &info, true);
    match info.length {
        Some(n) => {
            h.insert("upload-length", HeaderValue::from(n));
        }
        // Creation › POST: "the Server MUST set Upload-Defer-Length: 1 in all responses to
        // HEAD requests" while the length is unknown.
        None => {
            h.insert("upload-defer-length", HeaderValue::from_static("1"));
        }
    }
    // Creation › POST: HEAD "MUST include the Upload-Metadata header" as received.
    if !info.metadata.is_empty() {
        h.insert("upload-metadata", header_value(&info.metadata));
    }
    // Core Protocol › HEAD: "MUST prevent the client and/or proxies from caching".
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Core Protocol › Requests › PATCH.
async fn patch<S, B>(
    store: &S,
    who: Requester<'_>,
    peer: IpAddr,
    id: &str,
    headers: &HeaderMap,
    body: B,
) -> Result<Response<Body>, UploadError>
where
    S: UploadStore,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    // "All PATCH requests MUST use Content-Type: application/offset+octet-stream, otherwise
    // the server SHOULD return a 415".
    if !protocol::is_offset_octet_stream(headers) {
        return Err(UploadError::WrongContentType);
    }
    let settings = store.settings();
    let upload = store.lookup(id).await?;
    who.owns(&*upload)?;
    let offset = protocol::integer_field(headers, "upload-offset")?
        .ok_or(UploadError::BadRequest("Upload-Offset required"))?;
    let checksum = Checksum::from_headers(headers)?;
    let announced = protocol::integer_field(headers, "upload-length")?;
    let expected = content_length(headers)?;
    // One transfer per upload at a time: a second PATCH is refused, never interleaved.
    let lock = store.lock(&upload).await?;
    // Read under the lock: the record is current and durable.
    let info = upload.info();
    if offset != info.offset {
        // "If the offsets do not match, the Server MUST respond with the 409 Conflict status
        // without modifying the upload resource."
        return Err(UploadError::OffsetMismatch {
            expected: info.offset,
            got: offset,
        });
    }
    let length = match (info.length, announced) {
        (Some(known), Some(again)) if known != again => {
            // Creation › POST: "Once set the length MUST NOT be changed."
            return Err(UploadError::BadRequest("Upload-Length cannot change"));
        }
        (None, Some(n)) => {
            if n < offset {
                return Err(UploadError::BadRequest("Upload-Length below Upload-Offset"));
            }
            check_size(settings, n)?;
            Some(n)
        }
        (known, _) => known,
    };
    if info.done.is_some() {
        // Complete: the offset matched, so only an empty body is acceptable.
        return match expected {
            Some(0) => Ok(patched(&info)),
            _ => Err(UploadError::TooLarge),
        };
    }
    let limit = limit(settings, offset, length);
    if expected.is_some_and(|n| n > limit) {
        return Err(UploadError::TooLarge);
    }
    // Promise the space this PATCH needs before a byte is taken: the rest of a known (or
    // just announced) length, else the Content-Length; a chunked body of unknown size is
    // promised block by block as it is written (transfer.rs).
    let needed = match (length, expected) {
        (Some(n), _) => Some(n.saturating_sub(offset)),
        (None, Some(n)) => Some(n),
        (None, None) => None,
    };
    if let Some(needed) = needed {
        store.reserve(&upload, needed).await?;
    }
    let permit = store.slots().take(peer)?;
    let transfer = Transfer {
        upload: Arc::clone(&upload),
        start: offset,
        length,
        limit,
        expected,
        checksum,
        lock,
        permit,
    };
    let info = store.receive(transfer, body).await?;
    Ok(patched(&info))
}

/// Termination › Requests › DELETE: 204, then 410 for the URL.
async fn terminate<S: UploadStore>(
    store: &S,
    who: Requester<'_>,
    id: &str,
) -> Result<Response<Body>, UploadError> {
    let upload = store.lookup(id).await?;
    // Termination: a user deletes only their own unfinished uploads.
    who.owns(&*upload)?;
    let lock = store.lock(&upload).await?;
    store.remove(&upload, lock).await?;
    tracing::info!(upload = id, "upload terminated");
    Ok(tus(StatusCode::NO_CONTENT))
}

/// Deletes expired uploads every quarter of the expiry period (between 100 ms and 1 min).
async fn sweep_forever<S: UploadStore>(store: S) {
    let period =
        (store.settings().expiry / 4).clamp(Duration::from_millis(100), Duration::from_secs(60));
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        store.sweep().await;
    }
}

/// 204 to a PATCH: the new offset, and the expiry while unfinished.
fn patched(info: &Info) -> Response<Body> {
    let mut response = tus(StatusCode::NO_CONTENT);
    progress(response.headers_mut(), info, true);
    response
}

/// `Upload-Offset` (when `offset`) and, while unfinished, Expiration › `Upload-Expires`
/// ("MUST be included in every PATCH response if the upload is going to expire", and in the
/// POST response).
fn progress(h: &mut HeaderMap, info: &Info, offset: bool) {
    if offset {
        h.insert("upload-offset", HeaderValue::from(info.offset));
    }
    if info.done.is_none() {
        h.insert(
            "upload-expires",
            header_value(&httpdate::fmt_http_date(info.expires())),
        );
    }
}

/// Largest body accepted at `offset`: up to the length, else up to the size limit.
fn limit(settings: &UploadSettings, offset: u64, length: Option<u64>) -> u64 {
    match (length, settings.max_size) {
        (Some(n), _) => n.saturating_sub(offset),
        (None, Some(max)) => max.saturating_sub(offset),
        (None, None) => u64::MAX,
    }
}

fn check_size(settings: &UploadSettings, length: u64) -> Result<(), UploadError> {
    match settings.max_size {
        Some(max) if length > max => Err(UploadError::TooLarge),
        _ => Ok(()),
    }
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>, UploadError> {
    protocol::integer_field(headers, CONTENT_LENGTH.as_str())
}

/// An empty answer with `Tus-Resumable` ("MUST be included in every ... response").
fn tus(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    response
}

/// The answer for `e`, with `Tus-Resumable`, and `Tus-Version` for a 412 (Core Protocol ›
/// Headers › Tus-Resumable), `Allow` for a 405, `Retry-After` for a 503.
fn error(e: &UploadError) -> Response<Body> {
    let status = e.status();
    if status.is_server_error() && !matches!(e, UploadError::Busy) {
        tracing::warn!(error = %e, source = ?std::error::Error::source(e), "upload request failed");
    } else {
        tracing::debug!(error = %e, "upload request refused");
    }
    let mut response = response::status(status);
    let h = response.headers_mut();
    h.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    match e {
        UploadError::Version => {
            h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
        }
        UploadError::MethodNotAllowed(allow) => {
            h.insert(ALLOW, HeaderValue::from_static(allow));
        }
        UploadError::Busy => {
            h.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        _ => {}
    }
    response
}

/// Header values we build are ASCII by construction (numbers, dates, checked metadata).
fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

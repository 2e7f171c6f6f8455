//! A static file server with complete RFC 9110 `Range` and conditional-request support.
//!
//! # Brief overview
//!
//! One entry point, [`run`], serves a directory (or, with [`Config::object_store`], the
//! objects of an S3-API store) on a listener you bound, until a shutdown future completes.
//! The `durl serve` command and every test use it the same way.
//!
//! Where the files live is behind one boundary (`storage/`: a `Storage` trait, the local
//! directory in `storage/local.rs`, the object store in `storage/object.rs`), so steps 3–9
//! below are written once, generic over it. Steps 2, 3 and 6 describe the local directory;
//! over an object store a path maps to a key below the prefix (same refusals), the
//! validators come from the object's ETag, and the body is ranged `GET`s pinned to it.
//!
//! Each request goes through a linear pipeline:
//!
//! 1. **Auth and method** (`service.rs`, `auth/`): Basic credentials checked against the
//!    accounts (401; 429 after repeated failures), rights per user and path (403);
//!    with uploads enabled, `/.durl/uploads/…` goes to the tus endpoint (below); otherwise
//!    `GET` and `HEAD` only, anything else 405 with `Allow`; targets over the limit 414.
//! 2. **Resolve** (`resolve.rs`): percent-decode once, refuse `..` in every spelling, NUL and
//!    backslashes (400); open relative to the root's descriptor, never by a checked path
//!    (`openat2` beneath the root with no links, else a walk that reads links itself);
//!    refuse symlinks leading outside it (403) unless configured to follow them; open
//!    without blocking on FIFOs.
//! 3. **Validators** (`validators.rs`): a strong `ETag` from length, mtime (ns) and inode, and
//!    `Last-Modified`.
//! 4. **Preconditions** (`conditional.rs`, pure): `If-Match`, `If-Unmodified-Since`,
//!    `If-None-Match`, `If-Modified-Since`, then `If-Range`, in RFC 9110 §13.2.2 order → 412,
//!    304, or proceed (with or without Range).
//! 5. **Range** (`range.rs`, pure): ignore (200), satisfiable ranges (206), or unsatisfiable
//!    (416 `bytes */len`); ranges are clamped, coalesced and capped (RFC 9110 §17.15).
//! 6. **Body** (`body.rs`): the whole file, one slice, or `multipart/byteranges`, streamed in
//!    bounded chunks; memory stays flat. On plain-text HTTP/1.x, page-cached file spans go
//!    out with `sendfile(2)` (`zerocopy.rs`); otherwise chunks are read with `pread`, inline
//!    when cached (`RWF_NOWAIT`), on the blocking pool when not.
//! 7. **Header fields** (`response.rs`): `Accept-Ranges`, `ETag`, `Last-Modified`,
//!    `Content-Type` (from the extension), `Content-Length`, `Content-Range`,
//!    `X-Content-Type-Options: nosniff`, and `Content-Security-Policy: sandbox` for active
//!    types (HTML, SVG, XML, JavaScript) that arrived by upload (the `user.durl.upload`
//!    xattr), or for all with [`Config::sandbox_all`].
//! 8. **HEAD**: the same header fields, no content.
//! 9. **Digests** (`digest.rs`, on request): `Repr-Digest` (RFC 9530) with sha-256 or
//!    sha-512 when asked with `Want-Repr-Digest` / `Want-Content-Digest`; computed once per
//!    file version and cached (memory and a user xattr), large files in the background.
//!
//! **Uploads** (`upload/`, off unless [`Config::uploads`]): the tus 1.0.0 resumable-upload
//! protocol at `/.durl/uploads/`.
//!
//! 1. **Route** (`upload/mod.rs`): `OPTIONS` advertises versions, extensions, checksum
//!    algorithms and the size limit; every other request needs `Tus-Resumable: 1.0.0` (412).
//! 2. **Parse** (`upload/protocol.rs`, pure): `Upload-Length` / `Upload-Defer-Length`,
//!    `Upload-Offset`, `Upload-Metadata` (base64 pairs; the file name is sanitised),
//!    `Upload-Checksum`.
//! 3. **Create** (`POST`): limits (413), the target directory (`directory`: 400/403/404), an
//!    existing name (409), then a data file and a durable record in the upload directory
//!    (inside the root but never served), and the disk space for a known length promised
//!    (`upload/space.rs`: 507 when the free space less a reserve cannot hold it).
//! 4. **Transfer** (`PATCH`, or a `POST` body; `upload/transfer.rs`): one request per upload
//!    at a time (423), at exactly the recorded offset (409); the body is streamed to disk
//!    with checkpoints — fdatasync, then the record replaced atomically — so `HEAD` never
//!    reports bytes that are not durable; with `Upload-Checksum` all or nothing (460).
//! 5. **Finish** (`upload/store.rs`, `upload/place.rs`): at the last byte, the file is
//!    renamed into the root without replacing anything (unless overwriting is on). `DELETE`
//!    terminates; expired uploads are swept in the background; a restart recovers every
//!    upload (`upload/record.rs` is the on-disk record).
//!
//! Steps 1, 2 and the answers are written once (`upload/mod.rs`) over the trait
//! `UploadStore` (`upload/backend.rs`): the local upload directory (`upload/local.rs` over
//! steps 3-5 above), or, serving `s3://…`, the bucket (`upload/bucket.rs`): the data as a
//! multipart upload with its tail as an object, the record (`upload/bucket_record.rs`) and a
//! lease (`upload/lease.rs`, conditional puts: the 423 across instances) as objects under
//! `PREFIX/.durl/uploads/<id>/`, so that any instance continues any upload.
//!
//! Directories get their `index.html`, or an HTML or JSON listing (`listing/`); with
//! uploads on, the page has an upload area driven by a small tus client in plain
//! JavaScript, served from the binary at `/.durl/upload.js` (`assets.rs`,
//! `assets/upload.js`). Connections (`listener.rs`) are capped, must send their request heads
//! within a timeout, and drain gracefully on shutdown. One access-log line per request
//! (`access_log.rs`: Combined Log Format or JSON, with the bytes actually sent) goes to
//! `tracing` (target `durl_serve::access`, level INFO) when its body is done;
//! this crate never prints.
//!
//! # Example
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! let config = durl_serve::Config::new("/srv/files");
//! durl_serve::run(listener, config, async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(())
//! # }
//! ```

mod access_log;
mod activity;
mod assets;
mod auth;
mod body;
pub mod conditional;
mod config;
mod date;
mod digest;
mod error;
mod favicon;
#[doc(hidden)]
pub mod fuzzing;
mod listener;
mod listing;
pub mod range;
mod resolve;
mod response;
mod service;
mod storage;
mod upload;
pub mod validators;
mod zerocopy;

use std::future::Future;

pub use access_log::LogFormat;
pub use auth::{AccessRule, Accounts};
pub use config::{Config, S3Storage, TlsConfig};
pub use error::ServeError;
pub use storage::object_key::BucketUrlError;
pub use upload::space::DiskSpace;

/// Serves `config`'s directory on `listener` until `shutdown` completes.
///
/// On shutdown it stops accepting, lets requests in flight finish within the grace period
/// ([`Config::grace_period`]), closes what is left and returns `Ok(())`.
///
/// # Errors
///
/// [`ServeError::Root`] or [`ServeError::RootNotDirectory`] if the directory cannot be served.
/// Nothing that happens once serving has started (failed accepts, bad requests, client
/// disconnects) ends the server; such events are logged through `tracing`.
pub async fn run(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future,
) -> Result<(), ServeError> {
    listener::run(listener, config, shutdown).await
}

//! [`PutRequest`] and [`put`]: uploading a local file, resumably. The scheme picks the engine:
//! `ftp://` ([`crate::ftp::put`]) or a tus 1.0 endpoint at `http(s)://` ([`crate::tus`]).

use crate::events::Reporter;
use crate::{Error, ftp, tus};

pub(crate) mod attempts;
mod request;

pub use request::{PutOutcome, PutRequest};

/// Uploads `req.local` to `req.url`, continuing what the server already holds.
///
/// For `ftp://`: the server's `SIZE` says how much it has; that prefix is checked against the
/// local file (its last 64 KiB are read back), then the rest is sent (`REST` + `STOR`, or
/// `APPE`), and the final `SIZE` must equal the local length. A remote file that is longer or
/// differs is refused unless [`PutRequest::overwrite`]. An interrupted upload (even `kill -9`)
/// continues on the next call: no local state is needed.
///
/// For `http(s)://` (a tus 1.0 endpoint): the upload is created with `POST`, its URL kept in
/// `<local>.durl-upload` beside the local file, and the file sent in `PATCH` chunks with
/// `Upload-Checksum` where the server offers it. The next call after an interruption asks the
/// server's offset with `HEAD` and continues there; an expired upload, or a local file that
/// changed since, starts a new upload ([`crate::RestartReason::UploadGone`],
/// [`crate::RestartReason::LocalChanged`]). The state file is removed when the upload is
/// complete.
///
/// # Errors
/// Any [`Error`]; notably [`Error::RemoteExists`], [`Error::UploadMismatch`],
/// [`Error::Refused`] (an FTP login or permission refused, an HTTP status) and [`Error::Tus`],
/// [`Error::LocalChanged`], [`Error::UploadInterrupted`].
pub async fn put(req: &PutRequest, reporter: &dyn Reporter) -> Result<PutOutcome, Error> {
    match req.url.scheme() {
        "ftp" => ftp::put::put(req, reporter).await,
        "http" | "https" => tus::put(req, reporter).await,
        scheme => Err(Error::UnsupportedScheme {
            url: req.url.clone(),
            scheme: scheme.to_owned(),
        }),
    }
}

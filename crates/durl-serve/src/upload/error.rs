//! [`UploadError`]: why one tus request failed, and the status it is answered with.

use std::io;

use http::StatusCode;

/// Why a tus request failed; each variant maps to one status ([`UploadError::status`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum UploadError {
    /// `Tus-Resumable` missing or not `1.0.0` (Core Protocol › Headers › Tus-Resumable: 412).
    #[error("missing or unsupported Tus-Resumable")]
    Version,
    /// A malformed or contradictory header field.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// No such upload (never created, or forgotten since a restart).
    #[error("no such upload")]
    NotFound,
    /// The upload expired or was terminated (Expiration: 410 "if the Server is keeping track").
    #[error("upload expired or terminated")]
    Gone,
    /// `Upload-Offset` is not the upload's offset (Core Protocol › PATCH: 409).
    #[error("Upload-Offset {got} does not match the upload's offset {expected}")]
    OffsetMismatch {
        /// The durable offset.
        expected: u64,
        /// The request's offset.
        got: u64,
    },
    /// The target name exists already and overwriting is off.
    #[error("a file of that name exists")]
    NameTaken,
    /// The directory the upload is for does not exist, is a file, is hidden, or is the
    /// upload directory (404).
    #[error("no such directory to upload into")]
    NoDirectory,
    /// Not allowed: no write right there, another user's upload, a link on the way to the
    /// directory, replacing without `--overwrite` (403).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The method is not one this URL answers.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// A PATCH without `Content-Type: application/offset+octet-stream` (415).
    #[error("PATCH data must be application/offset+octet-stream")]
    WrongContentType,
    /// Larger than `Tus-Max-Size` or than the upload's length (413).
    #[error("upload too large")]
    TooLarge,
    /// Another request is transferring to this upload (423 Locked; clients retry).
    #[error("another request holds the upload")]
    Locked,
    /// `Upload-Checksum` does not match the data received (Checksum: 460).
    #[error("checksum mismatch")]
    ChecksumMismatch,
    /// Not enough free disk space for the announced length (507).
    #[error("insufficient storage")]
    InsufficientStorage,
    /// Too many transfers at once (503 with Retry-After).
    #[error("too many uploads in progress")]
    Busy,
    /// The request body ended before it was complete (the client went away).
    #[error("request body cut short")]
    Cut,
    /// The request body came slower than the rate floor; cut (408), what arrived is kept.
    #[error("request body too slow")]
    TooSlow,
    /// Reading or writing the upload's files failed.
    #[error("upload i/o error")]
    Io(#[source] io::Error),
}

/// Checksum › "460 Checksum Mismatch" (not in the IANA registry, so not in `http`).
pub(crate) const CHECKSUM_MISMATCH: u16 = 460;

impl UploadError {
    /// The status code this error is answered with.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Version => StatusCode::PRECONDITION_FAILED,
            Self::BadRequest(_) | Self::Cut => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::NoDirectory => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Gone => StatusCode::GONE,
            Self::OffsetMismatch { .. } | Self::NameTaken => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::WrongContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Locked => StatusCode::LOCKED,
            Self::ChecksumMismatch => {
                StatusCode::from_u16(CHECKSUM_MISMATCH).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooSlow => StatusCode::REQUEST_TIMEOUT,
            Self::Io(e) if is_no_space(e) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// ENOSPC or EDQUOT: the disk (or the quota) is full.
fn is_no_space(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

impl From<io::Error> for UploadError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_507_and_other_io_errors_500() {
        for (errno, want) in [
            (libc::ENOSPC, StatusCode::INSUFFICIENT_STORAGE),
            (libc::EDQUOT, StatusCode::INSUFFICIENT_STORAGE),
            (libc::EACCES, StatusCode::INTERNAL_SERVER_ERROR),
            (libc::EIO, StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            let e = UploadError::Io(io::Error::from_raw_os_error(errno));
            assert_eq!(e.status(), want, "{errno}");
        }
        assert_eq!(UploadError::NoDirectory.status(), StatusCode::NOT_FOUND);
        assert_eq!(UploadError::Forbidden("x").status(), StatusCode::FORBIDDEN);
    }
}

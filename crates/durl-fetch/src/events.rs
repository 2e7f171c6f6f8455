//! How the library talks to its caller: a [`Reporter`] receives [`Event`]s. The library never
//! prints; the `durl` binary turns events into progress bars and messages.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::Error;

/// Receives progress and lifecycle events. Implementations must be cheap: `Progress` arrives
/// for every chunk written.
pub trait Reporter: Send + Sync {
    /// Called for every event, from the task doing the download.
    fn report(&self, event: Event<'_>);
}

/// A reporter that ignores everything.
impl Reporter for () {
    fn report(&self, _event: Event<'_>) {}
}

/// Something the caller may want to show.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The transfer starts (again) into `path`; `resumed_from` bytes are already on disk.
    Started {
        /// The destination file.
        path: &'a Path,
        /// The complete length, if known.
        total: Option<u64>,
        /// Bytes already held from an earlier run or attempt.
        resumed_from: u64,
    },
    /// `bytes` more bytes were written.
    Progress {
        /// Newly written bytes.
        bytes: u64,
    },
    /// The partial data was discarded and the download starts again from byte 0.
    Restarted {
        /// Why.
        reason: RestartReason,
    },
    /// A retryable failure; the next attempt starts after `delay`.
    Retrying {
        /// The failure.
        error: &'a Error,
        /// Which retry this is (1 for the first).
        attempt: u32,
        /// The back-off before it.
        delay: Duration,
    },
    /// The number of connections at work changed (split downloads).
    Connections {
        /// Connections now fetching.
        active: usize,
    },
    /// A mirror is not used any more for this file.
    MirrorDropped {
        /// The mirror.
        url: &'a url::Url,
        /// Why.
        reason: crate::DropReason,
    },
    /// The server gave no strong validator, so a resume is checked by fetching the bytes
    /// before the resume point again and comparing them with the partial's.
    NoStrongValidator,
    /// The download is complete under its final name.
    Finished {
        /// The destination file.
        path: &'a Path,
        /// Its length.
        bytes: u64,
        /// True when nothing had to be downloaded.
        already_complete: bool,
    },
}

/// Why partial data was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestartReason {
    /// The remote validator (ETag/Last-Modified) or length differs from the partial's.
    RemoteChanged,
    /// The server answered a range request with the whole file (200).
    RangeIgnored,
    /// The partial holds more bytes than the remote file has.
    PartialTooLong,
    /// The server refused the range (416) and the partial is not complete.
    RangeNotSatisfiable,
    /// The state file was unreadable, of another version, or for another URL.
    StateUnusable,
    /// An existing file adopted with `continue_existing` does not match the remote file.
    PrefixMismatch,
    /// The (FTP) server does not resume transfers (`REST`), so the file is fetched from 0.
    ResumeRefused,
    /// The tus server no longer has the upload of an earlier run (expired, terminated, or
    /// of another length): a new upload starts from byte 0.
    UploadGone,
    /// The local file is not the one an earlier run began to upload: a new upload starts.
    LocalChanged,
    /// Without a strong validator, the bytes just before the resume point were fetched again
    /// and differ from the partial's: the remote file changed.
    OverlapDiffers,
}

impl fmt::Display for RestartReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RestartReason::RemoteChanged => "the remote file changed",
            RestartReason::RangeIgnored => "the server ignored the range request",
            RestartReason::PartialTooLong => "the partial file is longer than the remote file",
            RestartReason::RangeNotSatisfiable => "the server refused the range",
            RestartReason::StateUnusable => "the saved state is unusable",
            RestartReason::PrefixMismatch => "the existing file does not match the remote file",
            RestartReason::ResumeRefused => "the server does not resume transfers (REST)",
            RestartReason::UploadGone => {
                "the server no longer has the earlier upload (expired or terminated)"
            }
            RestartReason::LocalChanged => "the local file changed since the earlier upload",
            RestartReason::OverlapDiffers => {
                "the remote file changed (the bytes before the resume point differ)"
            }
        })
    }
}

//! The one retry driver of uploads: a protocol implements [`Attempts`], [`retrying`] runs
//! them with the retry rules of downloads.

use crate::Error;
use crate::events::Reporter;
use crate::store::retry;
use crate::upload::{PutOutcome, PutRequest};

/// One way of uploading (FTP or tus), driven by [`retrying`].
pub(crate) trait Attempts {
    /// One attempt, continuing from wherever the server is.
    async fn attempt(&mut self) -> Result<PutOutcome, Error>;
    /// Bytes sent in this run so far, over all attempts.
    fn sent(&self) -> u64;
    /// The error for an upload cancelled by the request's token.
    fn interrupted(&self) -> Error;
}

/// Runs `upload`'s attempts until one succeeds, an error is final, or the request is
/// cancelled, with the retry rules of downloads (an attempt that sent bytes resets the count).
pub(crate) async fn retrying(
    req: &PutRequest,
    reporter: &dyn Reporter,
    upload: &mut impl Attempts,
) -> Result<PutOutcome, Error> {
    let policy = req.retry_policy();
    let mut budget = retry::Budget::default();
    loop {
        let before = upload.sent();
        let cancel = req.cancel.clone();
        let result = tokio::select! {
            r = upload.attempt() => Some(r),
            () = cancel.cancelled() => None,
        };
        let error = match result {
            Some(Ok(outcome)) => return Ok(outcome),
            Some(Err(e)) => e,
            None => return Err(upload.interrupted()),
        };
        let wait = budget.failed_with(&policy, reporter, error, upload.sent() > before)?;
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => return Err(upload.interrupted()),
        }
    }
}

//! [`stream`]: a download written to a stream (`durl get -o -`) as it arrives. No part file,
//! no state, nothing to resume across runs; within the run a failure is retried with
//! `Range: bytes=N-` (and `If-Range`) from the `N` bytes already written, since they cannot
//! be taken back.

use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::validator::Validators;
use super::{Asked, Held, RangeAsk, Verdict};
use crate::events::{Event, Reporter};
use crate::store::retry::Budget;
use crate::{Error, GetRequest};

/// Downloads `req`'s URL (`http://` or `https://`) into `out`, retrying within the run from
/// the bytes written (with the request's retries and back-off, rate limit and cancel token;
/// its destination, connections, mirrors and checksum are not used). Returns the bytes
/// written. `reporter` gets `Started`, `Progress`, `Retrying` and `Finished` (path `-`).
///
/// # Errors
/// [`Error::UnsupportedScheme`] for `ftp://`; [`Error::StreamChanged`] when the file changed
/// on the server (or the server restarted it from byte 0) after bytes were written;
/// [`Error::Io`] when `out` fails; [`Error::Interrupted`] when cancelled (`durable` is the
/// bytes written); else the last failure after the retries.
pub async fn stream<W>(req: &GetRequest, out: &mut W, reporter: &dyn Reporter) -> Result<u64, Error>
where
    W: AsyncWrite + Unpin + Send,
{
    if !matches!(req.url.scheme(), "http" | "https") {
        return Err(Error::UnsupportedScheme {
            scheme: req.url.scheme().to_owned(),
            url: crate::redacted(&req.url),
        });
    }
    let client = super::client(req)?;
    let mut run = Run {
        req,
        client: &client,
        reporter,
        limiter: req.rate_limiter(),
        written: 0,
        length: None,
        validators: Validators::default(),
    };
    let mut budget = Budget::default();
    loop {
        let before = run.written;
        let result = tokio::select! {
            r = run.attempt(out) => r,
            () = req.cancel.cancelled() => Err(Error::Interrupted {
                path: "-".into(),
                durable: run.written,
            }),
        };
        match result {
            Ok(()) => {
                out.flush().await.map_err(Error::io("cannot write", "-"))?;
                reporter.report(Event::Finished {
                    path: std::path::Path::new("-"),
                    bytes: run.written,
                    already_complete: false,
                });
                return Ok(run.written);
            }
            Err(e) if e.is_retryable() => {
                let delay = budget.failed(req, reporter, e, run.written > before)?;
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = req.cancel.cancelled() => return Err(Error::Interrupted {
                        path: "-".into(),
                        durable: run.written,
                    }),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

struct Run<'a> {
    req: &'a GetRequest,
    client: &'a reqwest::Client,
    reporter: &'a dyn Reporter,
    limiter: Option<std::sync::Arc<crate::store::rate::RateLimiter>>,
    /// Bytes written to the stream.
    written: u64,
    /// The file's length, once known.
    length: Option<u64>,
    /// The first response's validators: later ranges must be of the same version.
    validators: Validators,
}

impl Run<'_> {
    /// One request: from `written`, to the end or a failure.
    async fn attempt<W: AsyncWrite + Unpin + Send>(&mut self, out: &mut W) -> Result<(), Error> {
        let start = self.written;
        let range = match start {
            0 => RangeAsk::None,
            _ => RangeAsk::From {
                start,
                if_range: self.validators.if_range.as_deref(),
            },
        };
        let mut resp = super::send(self.client, self.req, &self.req.url, false, range).await?;
        let seen = Validators::from_headers(resp.headers());
        let same = start == 0 || self.validators.same_version_as(&seen);
        let asked = Asked {
            start,
            ranged: start > 0,
            length: self.length,
        };
        let changed = || Error::StreamChanged {
            url: crate::redacted(&self.req.url),
            written: start,
        };
        // Where the body starts in the file, and where it ends.
        let (from, end) = match super::classify(&resp, asked, same) {
            Verdict::Whole {
                length,
                held: Held::Nothing,
            } => {
                self.validators = seen;
                self.length = length;
                (0, length)
            }
            // The server ignored the range but sends the same version: skip what is written.
            Verdict::Whole {
                held: Held::SameVersion,
                ..
            } => (0, self.length),
            Verdict::Partial { range, .. } => (range.start, Some(range.end)),
            Verdict::Complete { .. } => return Ok(()),
            Verdict::Whole { .. } | Verdict::Changed | Verdict::Restart(_) => {
                return Err(changed());
            }
            Verdict::Invalid(detail) => {
                return Err(Error::BadRange {
                    url: crate::redacted(&self.req.url),
                    detail,
                });
            }
            Verdict::Failed => return Err(super::status_error(&resp)),
        };
        if start == 0 {
            self.reporter.report(Event::Started {
                path: std::path::Path::new("-"),
                total: self.length,
                resumed_from: 0,
            });
        }
        let mut skip = start - from;
        let url = crate::redacted(&self.req.url);
        while let Some(chunk) =
            super::next_chunk(&mut resp, self.req.network.stall_timeout, &url).await?
        {
            let mut data = &chunk[..];
            let skipped = skip.min(data.len() as u64);
            data = &data[skipped as usize..];
            skip -= skipped;
            // Never past the end announced (RFC 9110 §14.4: a 206 holds its Content-Range).
            if let Some(end) = end {
                let room = end.saturating_sub(self.written);
                if data.len() as u64 > room {
                    return Err(Error::BadRange {
                        url,
                        detail: format!("the body goes on past byte {end} it announced"),
                    });
                }
            }
            if data.is_empty() {
                continue;
            }
            if let Some(limiter) = &self.limiter {
                limiter.take(data.len() as u64).await;
            }
            out.write_all(data)
                .await
                .map_err(Error::io("cannot write", "-"))?;
            self.written += data.len() as u64;
            self.reporter.report(Event::Progress {
                bytes: data.len() as u64,
            });
        }
        match self.length {
            Some(len) if self.written < len => Err(Error::ShortBody {
                url,
                received: self.written,
                expected: len,
            }),
            _ => Ok(()),
        }
    }
}

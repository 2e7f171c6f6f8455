//! [`stream`]: a download written to a stream (`durl get -o -`) as it arrives. No part file,
//! no state, nothing to resume across runs; within the run a failure is retried with
//! `Range: bytes=N-` (and `If-Range`) from the `N` bytes already written, since they cannot
//! be taken back.
//!
//! RFC 9530: what is written is hashed as it goes (SHA-256, or SHA-512 when the first answer
//! publishes only that), and checked at the end against the `Repr-Digest` of the answers (or
//! a whole 200's `Content-Digest`), one first seen on a resumed answer included. The bytes
//! are already out then: a mismatch can only be said ([`Error::StreamDigestMismatch`]). A
//! digest that differs between two answers is another version ([`Error::StreamChanged`]).

use sha2::Digest as _;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::validator::Validators;
use super::{Asked, Held, RangeAsk, Verdict};
use crate::events::{Event, Reporter};
use crate::store::retry::Budget;
use crate::store::verify::{self, Algorithm};
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
/// bytes written); [`Error::StreamDigestMismatch`] when the bytes written do not match the
/// server's `Repr-Digest`; else the last failure after the retries.
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
        hash: Hash::Sha256(sha2::Sha256::new()),
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
                run.verify()?;
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
    /// The first response's validators (with a digest first seen later): later ranges must
    /// be of the same version.
    validators: Validators,
    /// The digest of the bytes written so far.
    hash: Hash,
}

/// A running digest of the bytes written.
enum Hash {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hash {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hash::Sha256(h) => h.update(data),
            Hash::Sha512(h) => h.update(data),
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            Hash::Sha256(_) => Algorithm::Sha256,
            Hash::Sha512(_) => Algorithm::Sha512,
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hash::Sha256(h) => h.finalize().to_vec(),
            Hash::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

impl Run<'_> {
    /// Checks the bytes written against the server's digest, when it published one in the
    /// algorithm hashed.
    fn verify(&mut self) -> Result<(), Error> {
        let digests = &self.validators.digests;
        let algorithm = self.hash.algorithm();
        let expected = match algorithm {
            Algorithm::Sha512 => digests.sha512.clone(),
            _ => digests.sha256.clone(),
        };
        let Some(expected) = expected else {
            return Ok(());
        };
        let hash = std::mem::replace(&mut self.hash, Hash::Sha256(sha2::Sha256::new()));
        let actual = hash.finish();
        if actual == expected {
            return Ok(());
        }
        Err(Error::StreamDigestMismatch {
            url: crate::redacted(&self.req.url),
            detail: format!(
                "expected {algorithm}={}, got {algorithm}={} over {} bytes",
                verify::hex(&expected),
                verify::hex(&actual),
                self.written
            ),
        })
    }

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
        let seen = Validators::from_answer(resp.status(), resp.headers());
        // RFC 9530 §2: one representation, one digest per algorithm (checked here too).
        let same = start == 0 || self.validators.same_version_as(&seen);
        let digests = seen.digests.clone();
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
                if seen.digests.sha256.is_none() && seen.digests.sha512.is_some() {
                    self.hash = Hash::Sha512(sha2::Sha512::new());
                }
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
        if self.validators.digests.is_empty() {
            // A digest first seen on a later answer (a server that hashes in the background).
            self.validators.digests = digests;
        }
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
            self.hash.update(data);
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

//! Back-off between attempts, and the server's `Retry-After` (RFC 9110 §10.2.3).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime};

use crate::events::{Event, Reporter};
use crate::{Error, GetRequest};

/// The delay before retry number `attempt` (1-based): `first × 2^(attempt-1)`, capped at `max`,
/// with ±25 % jitter so that many clients do not retry in step; a server's `Retry-After`
/// replaces it, capped at `max` as well.
pub fn delay(
    attempt: u32,
    first: Duration,
    max: Duration,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(asked) = retry_after {
        return asked.min(max);
    }
    let exp = first.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let base = exp.min(max);
    // Jitter factor in [0.75, 1.25).
    let unit = (random_u64() >> 11) as f64 / (1u64 << 53) as f64;
    base.mul_f64(0.75 + unit / 2.0).min(max)
}

/// The retry rules shared by a single download and each connection of a split one: a
/// failure is retried while it is retryable and fewer than `retries` failures came in a row
/// (an attempt that made progress starts the count again), after the back-off of
/// [`delay`].
#[derive(Debug, Default)]
pub(crate) struct Budget {
    in_a_row: u32,
    total: u32,
    /// The last failure, when it [repeats hopelessly](Error::repeats_hopelessly), and how
    /// many times in a row it came with no progress.
    same: Option<(String, u32)>,
}

/// The same hopeless failure at the same offset this many times in a row gives up, whatever
/// the retry count.
const SAME_FAILURE_LIMIT: u32 = 3;

impl Budget {
    /// Records a failed attempt (`progressed`: it wrote bytes before failing). Returns the
    /// back-off before the next attempt (already reported), or the error to give up with.
    pub(crate) fn failed(
        &mut self,
        req: &GetRequest,
        reporter: &dyn Reporter,
        e: Error,
        progressed: bool,
    ) -> Result<Duration, Error> {
        let policy = Policy {
            retries: req.network.retries,
            first: req.network.retry_delay,
            max: req.network.max_retry_delay,
        };
        self.failed_with(&policy, reporter, e, progressed)
    }

    /// [`Self::failed`] for any kind of transfer (uploads too).
    pub(crate) fn failed_with(
        &mut self,
        policy: &Policy,
        reporter: &dyn Reporter,
        e: Error,
        progressed: bool,
    ) -> Result<Duration, Error> {
        self.total += 1;
        if progressed {
            self.in_a_row = 0;
            self.same = None;
        }
        let repeated = if e.repeats_hopelessly() {
            let text = e.to_string();
            let count = match self.same.take() {
                Some((last, n)) if !progressed && last == text => n + 1,
                _ => 1,
            };
            self.same = Some((text, count));
            count >= SAME_FAILURE_LIMIT
        } else {
            self.same = None;
            false
        };
        if !e.is_retryable() || self.in_a_row >= policy.retries || repeated {
            return Err(if self.total > 1 {
                Error::GaveUp {
                    attempts: self.total,
                    last: Box::new(e),
                }
            } else {
                e
            });
        }
        self.in_a_row += 1;
        let wait = delay(self.in_a_row, policy.first, policy.max, e.retry_after());
        reporter.report(Event::Retrying {
            error: &e,
            attempt: self.in_a_row,
            delay: wait,
        });
        Ok(wait)
    }
}

/// How many failures in a row are retried, and the back-off between them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Retries after consecutive retryable failures.
    pub(crate) retries: u32,
    /// The first back-off.
    pub(crate) first: Duration,
    /// The longest back-off.
    pub(crate) max: Duration,
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A random number from the standard library's per-process random hash keys: enough for
/// jitter, without a dependency.
fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let first = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        for (attempt, nominal) in [(1, 100), (2, 200), (3, 400), (4, 800)] {
            for _ in 0..50 {
                let d = delay(attempt, first, max, None).as_millis() as u64;
                assert!(
                    d >= nominal * 3 / 4 && d < nominal * 5 / 4,
                    "attempt {attempt}: {d} ms"
                );
            }
        }
        assert!(delay(30, first, max, None) <= max);
        assert_eq!(
            delay(1, first, max, Some(Duration::from_secs(1))),
            Duration::from_secs(1)
        );
        assert_eq!(delay(1, first, max, Some(Duration::from_secs(3600))), max);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = httpdate::parse_http_date("Tue, 01 Jan 2030 00:00:00 GMT").unwrap();
        let table: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("120", Some(Duration::from_secs(120))),
            (" 5 ", Some(Duration::from_secs(5))),
            (
                "Tue, 01 Jan 2030 00:00:30 GMT",
                Some(Duration::from_secs(30)),
            ),
            ("Mon, 31 Dec 2029 23:00:00 GMT", Some(Duration::ZERO)),
            ("-1", None),
            ("soon", None),
        ];
        for (value, want) in table {
            assert_eq!(parse_retry_after(value, now), *want, "value {value:?}");
        }
    }
}

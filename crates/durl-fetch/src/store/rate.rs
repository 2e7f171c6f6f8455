//! `--limit-rate`: one token bucket shared by every connection of a download.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket refilled at `rate` bytes per second. Taking more than is available puts
/// the bucket in debt, and the taker sleeps until the debt is paid, so the average rate is
/// exact whatever the chunk sizes.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    /// Tokens (bytes) available now, negative when in debt, as of `at`.
    bucket: Mutex<(f64, Instant)>,
}

/// The most a bucket may save up: a tenth of a second's worth, so a pause is not followed
/// by a burst.
const BURST_SECS: f64 = 0.1;

impl RateLimiter {
    pub(crate) fn new(bytes_per_sec: u64) -> RateLimiter {
        RateLimiter {
            rate: bytes_per_sec.max(1) as f64,
            bucket: Mutex::new((0.0, Instant::now())),
        }
    }

    /// Accounts for `n` bytes just received, sleeping as long as the rate requires.
    pub(crate) async fn take(&self, n: u64) {
        let wait = {
            let mut guard = self.bucket.lock().unwrap_or_else(|p| p.into_inner());
            let (tokens, at) = &mut *guard;
            let now = Instant::now();
            let refill = now.duration_since(*at).as_secs_f64() * self.rate;
            *tokens = (*tokens + refill).min(self.rate * BURST_SECS) - n as f64;
            *at = now;
            if *tokens < 0.0 {
                Duration::from_secs_f64(-*tokens / self.rate)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn average_rate_is_the_limit() {
        let limiter = RateLimiter::new(100_000);
        let start = tokio::time::Instant::now();
        for _ in 0..50 {
            limiter.take(10_000).await; // 500 000 bytes in all
        }
        let secs = start.elapsed().as_secs_f64();
        assert!((4.8..=5.2).contains(&secs), "{secs}");
    }
}

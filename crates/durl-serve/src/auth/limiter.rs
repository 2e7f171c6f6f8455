//! Failed logins per client address: after [`FREE`] failures in a row, each further one
//! doubles a waiting time (1 s, 2 s, 4 s … at most [`MAX_WAIT`]) during which that address's
//! logins are refused (429) without checking the password, so guessing costs time and the
//! slow hashes cannot be used to load the server. A success clears the address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the waiting starts.
pub(crate) const FREE: u32 = 5;
/// The longest wait.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// Addresses tracked at once; beyond, those not waiting are forgotten.
const TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    until: Option<Instant>,
}

/// Failure counts per address.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

impl Limiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.by_address
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long `ip` must still wait before its next login is checked, if at all.
    pub(crate) fn waiting(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let until = self.lock().get(&ip)?.until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failure of `ip`; returns the number of failures in a row.
    pub(crate) fn fail(&self, ip: IpAddr, now: Instant) -> u32 {
        let mut map = self.lock();
        if map.len() >= TRACKED && !map.contains_key(&ip) {
            map.retain(|_, f| f.until.is_some_and(|u| u > now));
        }
        let f = map.entry(ip).or_insert(Failures {
            count: 0,
            until: None,
        });
        f.count = f.count.saturating_add(1);
        if f.count >= FREE {
            let doublings = (f.count - FREE).min(6);
            let wait = Duration::from_secs(1 << doublings).min(MAX_WAIT);
            f.until = Some(now + wait);
        }
        f.count
    }

    /// Forgets `ip`'s failures.
    pub(crate) fn succeed(&self, ip: IpAddr) {
        self.lock().remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_starts_after_five_failures_and_doubles() {
        let l = Limiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t = Instant::now();
        for n in 1..FREE {
            assert_eq!(l.fail(ip, t), n);
            assert_eq!(l.waiting(ip, t), None);
        }
        l.fail(ip, t);
        assert_eq!(l.waiting(ip, t), Some(Duration::from_secs(1)));
        assert_eq!(l.waiting(other, t), None, "per address");
        l.fail(ip, t);
        assert_eq!(l.waiting(ip, t), Some(Duration::from_secs(2)));
        assert_eq!(l.waiting(ip, t + Duration::from_secs(3)), None, "it ends");
        for _ in 0..20 {
            l.fail(ip, t);
        }
        assert_eq!(l.waiting(ip, t), Some(MAX_WAIT));
        l.succeed(ip);
        assert_eq!(l.waiting(ip, t), None);
    }
}

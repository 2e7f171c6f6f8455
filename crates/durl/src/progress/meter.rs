//! What the progress display says, as pure code: the rate of this run's bytes over a sliding
//! window, the ETA, when a plain (non-terminal) line is due, and the texts of those lines.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, HumanDuration};

/// The rate is measured over about this much of the recent past.
const WINDOW: Duration = Duration::from_secs(5);
/// Samples closer together than this are merged.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// Bytes moved in this run (never the bytes an earlier run left on disk) and their rate.
#[derive(Debug, Default)]
pub struct Meter {
    /// Bytes moved since the run started.
    moved: u64,
    /// `(when, moved then)`, oldest first; the first is the window's start.
    samples: VecDeque<(Instant, u64)>,
}

impl Meter {
    /// A new attempt starts (after connecting, or again after a retry): the window starts
    /// now, so neither the bytes already on disk nor the time spent waiting count.
    pub fn restart(&mut self, now: Instant) {
        self.samples.clear();
        self.samples.push_back((now, self.moved));
    }

    /// `n` more bytes moved at `now`.
    pub fn add(&mut self, now: Instant, n: u64) {
        self.moved += n;
        match self.samples.back() {
            Some((t, _)) if now.saturating_duration_since(*t) < SAMPLE_EVERY => {}
            _ => self.samples.push_back((now, self.moved)),
        }
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// Bytes moved in this run.
    pub fn moved(&self) -> u64 {
        self.moved
    }

    /// Bytes per second over the window, up to `now` (so a stall brings it down).
    pub fn rate(&self, now: Instant) -> f64 {
        let Some((t, at)) = self.samples.front() else {
            return 0.0;
        };
        let secs = now.saturating_duration_since(*t).as_secs_f64();
        if secs < 0.05 {
            return 0.0;
        }
        (self.moved - at) as f64 / secs
    }
}

/// Seconds left for `left` bytes at `rate`, if the rate says anything.
pub fn eta(left: u64, rate: f64) -> Option<Duration> {
    (rate >= 1.0).then(|| Duration::from_secs_f64((left as f64 / rate).min(1e7)))
}

/// The percentage done, rounded down.
pub fn percent(position: u64, total: u64) -> u64 {
    if total == 0 {
        100
    } else {
        (u128::from(position) * 100 / u128::from(total)) as u64
    }
}

/// When a plain progress line is due (stderr not a terminal): at each 10% and at least every
/// 10 s, never during the first second (a short transfer prints only its summary) and never
/// for the end itself (the summary line says it).
#[derive(Debug)]
pub struct Ticker {
    started: Instant,
    last: Instant,
    decile: u64,
}

/// Plain lines come at least this often while something moves.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);

impl Ticker {
    /// A run that starts at `now`.
    pub fn new(now: Instant) -> Ticker {
        Ticker {
            started: now,
            last: now,
            decile: 0,
        }
    }

    /// Whether to print a line for `position` of `total` at `now`.
    pub fn due(&mut self, now: Instant, position: u64, total: Option<u64>) -> bool {
        let decile = match total {
            Some(t) if position >= t => return false,
            Some(t) => percent(position, t) / 10,
            None => 0,
        };
        if now.saturating_duration_since(self.started) < Duration::from_secs(1) {
            return false;
        }
        if decile > self.decile || now.saturating_duration_since(self.last) >= PLAIN_EVERY {
            self.decile = self.decile.max(decile);
            self.last = now;
            return true;
        }
        false
    }

    /// The transfer starts at `position` of `total`: marks passed before it print nothing.
    pub fn skip_to(&mut self, position: u64, total: Option<u64>) {
        if let Some(t) = total {
            self.decile = self.decile.max(percent(position, t) / 10);
        }
    }
}

/// `name: 1.50 MiB of 3.00 MiB (50%), 512.00 KiB/s, ETA 3s`.
pub fn plain_line(name: &str, position: u64, total: Option<u64>, rate: f64) -> String {
    let rate_text = format!("{}/s", HumanBytes(rate as u64));
    match total {
        Some(t) => {
            let eta = eta(t.saturating_sub(position), rate)
                .map(|d| format!(", ETA {}", HumanDuration(d)))
                .unwrap_or_default();
            format!(
                "{name}: {} of {} ({}%), {rate_text}{eta}",
                HumanBytes(position),
                HumanBytes(t),
                percent(position, t)
            )
        }
        None => format!("{name}: {}, {rate_text}", HumanBytes(position)),
    }
}

/// The final line: `name: 3.00 MiB in 2.1 s (1.00 MiB/s, resumed at 1.00 MiB)`, the rate being
/// this run's bytes over this run's time.
pub fn summary_line(name: &str, bytes: u64, moved: u64, elapsed: Duration, resumed: u64) -> String {
    let rate = moved as f64 / elapsed.as_secs_f64().max(1e-3);
    let resumed_note = if resumed > 0 {
        format!(", resumed at {}", HumanBytes(resumed))
    } else {
        String::new()
    };
    let took = if elapsed < Duration::from_secs(60) {
        format!("{:.1} s", elapsed.as_secs_f64())
    } else {
        HumanDuration(elapsed).to_string()
    };
    format!(
        "{name}: {} in {took} ({}/s{resumed_note})",
        HumanBytes(bytes),
        HumanBytes(rate as u64),
    )
}

/// `N file` or `N files`.
pub fn files(n: usize) -> String {
    if n == 1 {
        "1 file".into()
    } else {
        format!("{n} files")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_rate_counts_only_this_runs_bytes_from_the_first_measure() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        // A run resumed at 17 MiB: the bytes on disk never reach the meter.
        m.restart(t0);
        m.add(t0 + S / 2, 1 << 20);
        let r = m.rate(t0 + S / 2);
        assert!((r - 2.0 * f64::from(1 << 20)).abs() < 1.0, "{r}");
        m.add(t0 + S, 1 << 20);
        assert!((m.rate(t0 + S) - f64::from(2 << 20)).abs() < 1.0);
        // A stall brings it down.
        assert!(m.rate(t0 + 4 * S) < f64::from(1 << 20));
    }

    #[test]
    fn a_retry_restarts_the_window_but_not_the_count() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        m.restart(t0);
        m.add(t0 + S, 1000);
        m.restart(t0 + 10 * S); // after a 9 s back-off
        m.add(t0 + 11 * S, 1000);
        assert_eq!(m.moved(), 2000);
        assert!((m.rate(t0 + 11 * S) - 1000.0).abs() < 1.0);
    }

    #[test]
    fn the_window_slides() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        m.restart(t0);
        for i in 1..=20u32 {
            // 1000 B/s for 10 s, then 100 B/s.
            m.add(t0 + S * i, if i <= 10 { 1000 } else { 100 });
        }
        let r = m.rate(t0 + 20 * S);
        assert!(r < 200.0, "{r}");
    }

    #[test]
    fn percent_eta_and_lines() {
        assert_eq!(percent(0, 0), 100);
        assert_eq!(percent(1, 3), 33);
        assert_eq!(percent(u64::MAX / 2, u64::MAX), 49);
        assert_eq!(eta(100, 0.0), None);
        assert_eq!(eta(100, 10.0), Some(10 * S));
        assert_eq!(
            plain_line("f.bin", 3 << 19, Some(3 << 20), 512.0 * 1024.0),
            "f.bin: 1.50 MiB of 3.00 MiB (50%), 512.00 KiB/s, ETA 3 seconds"
        );
        assert_eq!(
            plain_line("f.bin", 2048, None, 0.0),
            "f.bin: 2.00 KiB, 0 B/s"
        );
        assert_eq!(
            summary_line("f.bin", 3 << 20, 2 << 20, 2 * S, 1 << 20),
            "f.bin: 3.00 MiB in 2.0 s (1.00 MiB/s, resumed at 1.00 MiB)"
        );
        assert_eq!(files(1), "1 file");
        assert_eq!(files(0), "0 files");
        assert_eq!(files(3), "3 files");
    }

    #[test]
    fn plain_lines_come_at_each_tenth_and_every_ten_seconds() {
        let t0 = Instant::now();
        let mut t = Ticker::new(t0);
        let total = Some(1000);
        assert!(!t.due(t0 + S / 2, 500, total), "not in the first second");
        assert!(t.due(t0 + S, 500, total), "50% passed");
        assert!(!t.due(t0 + S, 550, total), "same tenth");
        assert!(t.due(t0 + 2 * S, 600, total), "60%");
        assert!(t.due(t0 + 12 * S, 610, total), "10 s later");
        assert!(
            !t.due(t0 + 13 * S, 1000, total),
            "the end prints its summary"
        );
        let mut unknown = Ticker::new(t0);
        assert!(!unknown.due(t0 + 5 * S, 10, None));
        assert!(unknown.due(t0 + 10 * S, 20, None));
        let mut resumed = Ticker::new(t0);
        resumed.skip_to(700, total);
        assert!(
            !resumed.due(t0 + 2 * S, 750, total),
            "the resumed 70% prints nothing"
        );
        assert!(resumed.due(t0 + 2 * S, 800, total));
    }
}

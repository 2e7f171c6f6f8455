//! How big the next checksummed `PATCH` is. A chunk with `Upload-Checksum` is all or nothing
//! (Checksum: on a cut or a mismatch the server keeps none of it), so a cut costs the whole
//! chunk in flight: the chunk is sized for about [`TARGET`] of sending at the rate measured,
//! so a cut costs about one checkpoint interval of work whatever the link's speed.
//!
//! Sizes are powers of two between [`MIN`] and the request's chunk size, one step at a time:
//! up while a chunk takes under half the target, down when one takes over twice of it or
//! after a cut. Steady rates keep one size, so the chunk read ahead is the one sent next.

use std::time::Duration;

/// How long one chunk should take to send.
pub(super) const TARGET: Duration = Duration::from_secs(1);
/// The smallest chunk (below it, the server's sync per `PATCH` dominates).
pub(super) const MIN: u64 = 1 << 20;

/// The size of the next chunk.
#[derive(Debug, Clone)]
pub(super) struct Pace {
    size: u64,
    min: u64,
    max: u64,
}

impl Pace {
    /// Starts small (a link of unknown speed that may drop soon), at most `max`.
    pub(super) fn new(max: u64) -> Pace {
        let max = max.max(1);
        let min = MIN.min(max);
        Pace {
            size: min,
            min,
            max,
        }
    }

    /// The size of the next chunk.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// A chunk of `bytes` went through in `took`: one step up when it took under half the
    /// target, one down when it took over twice the target.
    pub(super) fn sent(&mut self, bytes: u64, took: Duration) {
        if bytes < self.size {
            // The last, short chunk says little about the rate.
            return;
        }
        if took < TARGET / 2 {
            self.size = self.up();
        } else if took > TARGET * 2 {
            self.size = self.down();
        }
    }

    /// A chunk was cut (or refused): one step down.
    pub(super) fn cut(&mut self) {
        self.size = self.down();
    }

    fn up(&self) -> u64 {
        self.size.saturating_mul(2).min(self.max)
    }

    fn down(&self) -> u64 {
        (self.size / 2).max(self.min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn sizes_follow_the_time_a_chunk_takes() {
        let ms = Duration::from_millis;
        // (max, events, size after each): 's' = a full chunk in that many ms, 'c' = a cut.
        enum E {
            Sent(u64),
            Cut,
            Short(u64),
        }
        use E::{Cut, Sent, Short};
        let table: &[(u64, &[E], &[u64])] = &[
            // A fast link grows to the maximum one step at a time, and stays there.
            (
                32 * MIB,
                &[
                    Sent(10),
                    Sent(10),
                    Sent(10),
                    Sent(10),
                    Sent(10),
                    Sent(10),
                    Sent(10),
                ],
                &[2, 4, 8, 16, 32, 32, 32],
            ),
            // Around the target the size holds.
            (
                32 * MIB,
                &[Sent(100), Sent(100), Sent(700), Sent(1900), Sent(600)],
                &[2, 4, 4, 4, 4],
            ),
            // Slow chunks shrink it, down to the minimum and no further.
            (
                32 * MIB,
                &[Sent(10), Sent(10), Sent(2500), Sent(9000), Sent(9000)],
                &[2, 4, 2, 1, 1],
            ),
            // A cut steps down; a short last chunk changes nothing.
            (
                32 * MIB,
                &[Sent(10), Sent(10), Cut, Short(1), Cut, Cut],
                &[2, 4, 2, 2, 1, 1],
            ),
            // A maximum below the minimum is both.
            (256 << 10, &[Sent(1), Cut, Sent(5000)], &[0, 0, 0]),
        ];
        for (max, events, want) in table {
            let mut pace = Pace::new(*max);
            let mut got = Vec::new();
            for e in *events {
                match e {
                    Sent(t) => pace.sent(pace.size(), ms(*t)),
                    Short(t) => pace.sent(pace.size() - 1, ms(*t)),
                    Cut => pace.cut(),
                }
                got.push(pace.size() / MIB);
            }
            assert_eq!(got, *want, "max {max}");
        }
        assert_eq!(Pace::new(32 * MIB).size(), MIB, "it starts small");
        assert_eq!(Pace::new(256 << 10).size(), 256 << 10);
    }
}

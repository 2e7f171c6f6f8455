//! [`RangeSet`]: which bytes of the file are held, as sorted, disjoint, half-open ranges.
//!
//! A single-connection download holds one range `0..n`; a split download holds one range per
//! segment. The state file records the set, so a resumed run fetches exactly the complement,
//! whatever the number of connections before and after.

use std::fmt;
use std::ops::Range;

/// Sorted, disjoint, non-adjacent, non-empty half-open ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<Range<u64>>,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> RangeSet {
        RangeSet::default()
    }

    /// The set holding `0..end` (empty when `end` is 0).
    pub fn prefix(end: u64) -> RangeSet {
        let mut set = RangeSet::new();
        set.insert(0..end);
        set
    }

    /// The ranges, in order.
    pub fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    /// True when no byte is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// How many bytes are held.
    pub fn total(&self) -> u64 {
        self.ranges.iter().map(|r| r.end - r.start).sum()
    }

    /// The end of the last range (0 when empty).
    pub fn end(&self) -> u64 {
        self.ranges.last().map_or(0, |r| r.end)
    }

    /// The end of the range that starts at 0, i.e. how many leading bytes are held.
    pub fn prefix_end(&self) -> u64 {
        match self.ranges.first() {
            Some(r) if r.start == 0 => r.end,
            _ => 0,
        }
    }

    /// Adds a range, merging it with overlapping or adjacent ones.
    pub fn insert(&mut self, range: Range<u64>) {
        if range.start >= range.end {
            return;
        }
        // Index of the first range that ends at or after `range.start` (touching counts).
        let first = self.ranges.partition_point(|r| r.end < range.start);
        // One past the last range that starts at or before `range.end`.
        let last = self.ranges.partition_point(|r| r.start <= range.end);
        if first == last {
            self.ranges.insert(first, range);
            return;
        }
        let start = range.start.min(self.ranges[first].start);
        let end = range.end.max(self.ranges[last - 1].end);
        self.ranges.splice(first..last, std::iter::once(start..end));
    }

    /// The bytes of `0..len` not held.
    pub fn missing(&self, len: u64) -> Vec<Range<u64>> {
        let mut out = Vec::new();
        let mut at = 0;
        for r in &self.ranges {
            if r.start >= len {
                break;
            }
            if r.start > at {
                out.push(at..r.start);
            }
            at = at.max(r.end);
        }
        if at < len {
            out.push(at..len);
        }
        out
    }

    /// Whether every byte of `0..len` is held.
    pub fn covers(&self, len: u64) -> bool {
        len == 0 || self.prefix_end() >= len
    }

    /// Parses the state-file form `a-b c-d` (half-open, so `0-10` is ten bytes).
    pub fn parse(text: &str) -> Option<RangeSet> {
        let mut set = RangeSet::new();
        for part in text.split_whitespace() {
            let (a, b) = part.split_once('-')?;
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            if a >= b || a < set.end() {
                return None; // empty, unsorted or overlapping: not a set we wrote
            }
            set.insert(a..b);
        }
        Some(set)
    }
}

impl fmt::Display for RangeSet {
    /// The state-file form, `a-b c-d`, half-open.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}-{}", r.start, r.end)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(
    clippy::single_range_in_vec_init,
    reason = "tables of range lists often hold one range"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn insert_merges_overlapping_and_adjacent_ranges() {
        // inserts -> resulting set
        type Row = (&'static [Range<u64>], &'static [Range<u64>]);
        let table: &[Row] = &[
            (&[0..10], &[0..10]),
            (&[0..10, 10..20], &[0..20]),
            (&[10..20, 0..10], &[0..20]),
            (&[0..5, 10..15], &[0..5, 10..15]),
            (&[0..5, 10..15, 4..11], &[0..15]),
            (&[20..30, 0..5, 10..15], &[0..5, 10..15, 20..30]),
            (&[0..5, 10..15, 20..30, 3..25], &[0..30]),
            (&[5..5], &[]),
            (&[10..20, 12..14], &[10..20]),
        ];
        for (inserts, want) in table {
            let mut set = RangeSet::new();
            for r in *inserts {
                set.insert(r.clone());
            }
            assert_eq!(set.ranges(), *want, "inserts {inserts:?}");
        }
    }

    #[test]
    fn missing_is_the_complement() {
        let mut set = RangeSet::new();
        set.insert(10..20);
        set.insert(30..40);
        assert_eq!(set.missing(50), vec![0..10, 20..30, 40..50]);
        assert_eq!(set.missing(35), vec![0..10, 20..30]);
        assert_eq!(RangeSet::prefix(50).missing(50), Vec::<Range<u64>>::new());
        assert!(RangeSet::prefix(50).covers(50) && !set.covers(50));
    }

    #[test]
    fn text_form_round_trips_and_refuses_damage() {
        let mut set = RangeSet::new();
        set.insert(0..4096);
        set.insert(5_000_000_000..5_000_001_000);
        assert_eq!(set.to_string(), "0-4096 5000000000-5000001000");
        assert_eq!(RangeSet::parse(&set.to_string()), Some(set));
        assert_eq!(RangeSet::parse(""), Some(RangeSet::new()));
        for bad in [
            "5-5",
            "9-3",
            "0-10 5-20",
            "10-20 0-5",
            "a-b",
            "0-",
            "-5",
            "0-99999999999999999999",
        ] {
            assert_eq!(RangeSet::parse(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn held_and_missing_tile_the_file(
            inserts in proptest::collection::vec((0u64..1000, 0u64..200), 0..20),
            len in 0u64..1300,
        ) {
            let mut set = RangeSet::new();
            let mut bytes = vec![false; 1300];
            for (start, n) in inserts {
                set.insert(start..start + n);
                for b in &mut bytes[start as usize..(start + n) as usize] {
                    *b = true;
                }
            }
            // The set is sorted, disjoint and non-adjacent.
            for w in set.ranges().windows(2) {
                prop_assert!(w[0].end < w[1].start);
            }
            // Held plus missing is exactly 0..len, each byte once.
            let mut seen = vec![0u8; len as usize];
            for r in set.ranges().iter().chain(set.missing(len).iter()) {
                for i in r.start.min(len)..r.end.min(len) {
                    seen[i as usize] += 1;
                }
            }
            prop_assert!(seen.iter().all(|&c| c == 1));
            for (i, &held) in bytes.iter().enumerate().take(len as usize) {
                let in_missing = set.missing(len).iter().any(|r| r.contains(&(i as u64)));
                prop_assert_eq!(held, !in_missing);
            }
        }
    }
}

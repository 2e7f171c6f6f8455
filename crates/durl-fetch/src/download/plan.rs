//! The split planner (pure): which byte ranges the connections fetch.
//!
//! Given the missing ranges of a file and a number of connections, it returns segments that
//! tile the missing bytes exactly — no gap, no overlap, never a byte already held — splitting
//! the largest segment in half while there are fewer segments than connections and the halves
//! stay at least `min_split` long. The same split is used when a connection finishes early and
//! takes over half of the largest remaining segment.

use std::ops::Range;

/// Plans up to `connections` segments over `missing` (sorted, disjoint).
pub fn plan(missing: &[Range<u64>], connections: usize, min_split: u64) -> Vec<Range<u64>> {
    let mut segments: Vec<Range<u64>> = missing
        .iter()
        .filter(|r| r.start < r.end)
        .cloned()
        .collect();
    while segments.len() < connections {
        let Some((i, _)) = segments
            .iter()
            .enumerate()
            .max_by_key(|(_, r)| r.end - r.start)
        else {
            break;
        };
        let Some(mid) = split_point(&segments[i], min_split) else {
            break;
        };
        let tail = mid..segments[i].end;
        segments[i].end = mid;
        segments.insert(i + 1, tail);
    }
    segments
}

/// Where to split `range` in two, if both halves are at least `min_split` long.
pub fn split_point(range: &Range<u64>, min_split: u64) -> Option<u64> {
    let len = range.end.checked_sub(range.start)?;
    if len < min_split.max(1).saturating_mul(2) {
        return None;
    }
    Some(range.start + len / 2)
}

#[cfg(test)]
#[allow(
    clippy::single_range_in_vec_init,
    reason = "tables of range lists often hold one range"
)]
mod tests {
    use super::*;
    use crate::download::ranges::RangeSet;
    use proptest::prelude::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn splits_the_largest_segment_while_halves_stay_large() {
        // (missing, connections) -> segments
        type Row = (&'static [Range<u64>], usize, &'static [Range<u64>]);
        let table: &[Row] = &[
            (
                &[0..8 * MIB],
                4,
                &[
                    0..2 * MIB,
                    2 * MIB..4 * MIB,
                    4 * MIB..6 * MIB,
                    6 * MIB..8 * MIB,
                ],
            ),
            (&[0..8 * MIB], 1, &[0..8 * MIB]),
            // small files stay on one connection
            (&[0..MIB], 8, &[0..MIB]),
            (
                &[0..3 * MIB],
                8,
                &[0..MIB + MIB / 2, MIB + MIB / 2..3 * MIB],
            ),
            // holes left by an earlier run are each fetched; big ones are split further
            (
                &[0..MIB, 5 * MIB..9 * MIB],
                3,
                &[0..MIB, 5 * MIB..7 * MIB, 7 * MIB..9 * MIB],
            ),
            (&[], 4, &[]),
        ];
        for (missing, n, want) in table {
            assert_eq!(plan(missing, *n, MIB), *want, "missing {missing:?} n {n}");
        }
    }

    proptest! {
        #[test]
        fn segments_tile_the_missing_bytes_exactly(
            len in 0u64..(64 * MIB),
            held in proptest::collection::vec((0u64..(64 * MIB), 0u64..(8 * MIB)), 0..8),
            connections in 1usize..33,
            min_split in 1u64..(2 * MIB),
        ) {
            let mut have = RangeSet::new();
            for (start, n) in held {
                have.insert(start..start + n);
            }
            let missing = have.missing(len);
            let segments = plan(&missing, connections, min_split);
            prop_assert!(segments.len() <= connections.max(missing.len()));
            // Sorted, non-empty, non-overlapping, and their union is exactly `missing`.
            let mut union = RangeSet::new();
            for w in segments.windows(2) {
                prop_assert!(w[0].end <= w[1].start);
            }
            for s in &segments {
                prop_assert!(s.start < s.end);
                // never a held byte
                prop_assert!(have.ranges().iter().all(|h| h.end <= s.start || s.end <= h.start));
                union.insert(s.clone());
            }
            let mut want = RangeSet::new();
            for m in &missing {
                want.insert(m.clone());
            }
            prop_assert_eq!(union, want);
        }
    }
}

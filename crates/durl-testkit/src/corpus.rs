//! The deterministic corpus served by [`FaultServer`](crate::FaultServer).
//!
//! A pattern body is a pure function of `(seed, offset)`: nothing is stored,
//! so bodies larger than 4 GiB cost nothing, and every 8-byte word is an
//! independent hash, so a range placed at the wrong offset is always detected.

use std::ops::Range;

use bytes::Bytes;

/// Size of the blocks bodies are generated and written in.
pub(crate) const CHUNK: u64 = 64 * 1024;

/// The splitmix64 finaliser: a cheap, well-mixed 64-bit hash.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 8 bytes of word `index` of pattern `seed`.
fn word(seed: u64, index: u64) -> [u8; 8] {
    splitmix64(splitmix64(seed) ^ index).to_le_bytes()
}

/// The byte at `offset` of the pattern with this `seed`.
///
/// Cheap (one hash, no storage) and not periodic: every aligned 8-byte word
/// is a fresh hash of `(seed, offset / 8)`.
pub fn pattern_byte(seed: u64, offset: u64) -> u8 {
    word(seed, offset / 8)[(offset % 8) as usize]
}

/// The bytes of pattern `seed` in `range` (empty if the range is empty).
///
/// Equal to calling [`pattern_byte`] for every offset, but one hash makes 8 bytes.
pub fn pattern_bytes(seed: u64, range: Range<u64>) -> Vec<u8> {
    let len = range.end.saturating_sub(range.start);
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    let mut offset = range.start;
    while offset < range.end {
        let w = word(seed, offset / 8);
        let skip = (offset % 8) as usize;
        let take = (8 - skip).min(usize::try_from(range.end - offset).unwrap_or(8));
        out.extend_from_slice(&w[skip..skip + take]);
        offset += take as u64;
    }
    out
}

/// The content of a [`Resource`](crate::Resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `len` bytes of the deterministic pattern `seed` (see [`pattern_bytes`]).
    Pattern {
        /// Selects the pattern.
        seed: u64,
        /// Length in bytes; may exceed 4 GiB.
        len: u64,
    },
    /// Literal bytes.
    Bytes(Bytes),
}

impl Body {
    /// Length of the body in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Pattern { len, .. } => *len,
            Body::Bytes(b) => b.len() as u64,
        }
    }

    /// True if the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes in `range`, clamped to the body's length.
    pub fn slice(&self, range: Range<u64>) -> Vec<u8> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        match self {
            Body::Pattern { seed, .. } => pattern_bytes(*seed, start..end),
            // Both bounds are <= b.len(), so they fit in usize.
            Body::Bytes(b) => b[start as usize..end as usize].to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_matches_bytewise() {
        let cases: &[(u64, Range<u64>)] = &[
            (0, 0..0),
            (0, 0..1),
            (1, 0..8),
            (1, 3..5),
            (2, 7..9),
            (3, 5..100),
            (4, 1000..1017),
            (u64::MAX, u64::MAX - 20..u64::MAX),
            (9, (5 << 30) - 13..(5 << 30) + 3),
        ];
        for (seed, range) in cases {
            let bulk = pattern_bytes(*seed, range.clone());
            let single: Vec<u8> = range.clone().map(|o| pattern_byte(*seed, o)).collect();
            assert_eq!(bulk, single, "seed {seed} range {range:?}");
        }
    }

    #[test]
    fn empty_or_reversed_range_is_empty() {
        assert!(pattern_bytes(1, 10..10).is_empty());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = 10..5;
        assert!(pattern_bytes(1, reversed).is_empty());
    }

    #[test]
    fn seeds_differ_and_not_periodic() {
        let a = pattern_bytes(1, 0..4096);
        let b = pattern_bytes(2, 0..4096);
        assert_ne!(a, b);
        // No small period: shifting by any p in 1..=1024 changes the data.
        for p in 1..=1024usize {
            assert_ne!(&a[..1024], &a[p..p + 1024], "period {p}");
        }
        // A window far away differs from the start.
        assert_ne!(
            pattern_bytes(1, 0..64),
            pattern_bytes(1, 1 << 32..(1 << 32) + 64)
        );
    }

    #[test]
    fn body_len_and_slice() {
        let p = Body::Pattern { seed: 5, len: 100 };
        assert_eq!(p.len(), 100);
        assert_eq!(p.slice(10..20), pattern_bytes(5, 10..20));
        assert_eq!(p.slice(90..200), pattern_bytes(5, 90..100));
        let b = Body::Bytes(Bytes::from_static(b"hello world"));
        assert_eq!(b.len(), 11);
        assert_eq!(b.slice(6..11), b"world");
        assert_eq!(b.slice(6..100), b"world");
        assert!(b.slice(50..60).is_empty());
        assert!(Body::Bytes(Bytes::new()).is_empty());
    }
}

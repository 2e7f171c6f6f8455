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
// Inlined even in unoptimised test builds, where this is the serving hot loop.
#[inline(always)]
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The hash key of pattern `seed`.
fn key(seed: u64) -> u64 {
    splitmix64(seed)
}

/// Word `index` of the pattern with hash key `key`.
#[inline(always)]
fn word(key: u64, index: u64) -> u64 {
    splitmix64(key ^ index)
}

/// The byte at `offset` of the pattern with this `seed`.
///
/// Cheap (two hashes, no storage) and not periodic: every aligned 8-byte
/// word is a fresh hash of `(seed, offset / 8)`.
pub fn pattern_byte(seed: u64, offset: u64) -> u8 {
    word(key(seed), offset / 8).to_le_bytes()[(offset % 8) as usize]
}

/// The bytes of pattern `seed` in `range` (empty if the range is empty).
///
/// Equal to calling [`pattern_byte`] for every offset, but one hash makes 8 bytes.
pub fn pattern_bytes(seed: u64, range: Range<u64>) -> Vec<u8> {
    if range.start >= range.end {
        return Vec::new();
    }
    let key = key(seed);
    let first = range.start / 8;
    let words = (range.end - 1) / 8 - first + 1;
    let mut out = vec![0u8; usize::try_from(words * 8).expect("range fits in memory")];
    // Whole 64-byte blocks first: fewer (unoptimised, in tests) iterator steps.
    let mut index = first;
    let mut blocks = out.chunks_exact_mut(64);
    for dst in &mut blocks {
        let mut block = [0u8; 64];
        for j in 0..8 {
            let w = word(key, index + j as u64).to_le_bytes();
            block[j * 8..j * 8 + 8].copy_from_slice(&w);
        }
        dst.copy_from_slice(&block);
        index += 8;
    }
    for dst in blocks.into_remainder().chunks_exact_mut(8) {
        dst.copy_from_slice(&word(key, index).to_le_bytes());
        index += 1;
    }
    let skip = (range.start % 8) as usize;
    out.copy_within(skip.., 0);
    out.truncate((range.end - range.start) as usize);
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
            (5, 3..1000),
            (6, 64..128),
            (7, 63..129),
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

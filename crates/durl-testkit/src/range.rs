//! `Range: bytes=…` parsing and resolution against a body length (RFC 9110 §14).

use std::ops::Range;

/// One parsed byte-range-spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// `bytes=a-b` (inclusive, `a <= b`).
    FromTo(u64, u64),
    /// `bytes=a-`.
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// What a range asks of a body of a given length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RangeOutcome {
    /// Send the whole body with 200.
    Full,
    /// Send these bytes with 206.
    Partial(Range<u64>),
    /// Send 416.
    Unsatisfiable,
}

/// Parses a decimal position; too large values saturate (they are then
/// clamped or unsatisfiable, never a parse error).
fn position(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

/// Parses a `Range` header value. Multiple ranges, other units and malformed
/// values give `None`: the server then ignores the header (200, full body).
pub(crate) fn parse_range(value: &str) -> Option<RangeSpec> {
    let (unit, set) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        return position(last).map(RangeSpec::Suffix);
    }
    let a = position(first)?;
    if last.is_empty() {
        return Some(RangeSpec::From(a));
    }
    let b = position(last)?;
    (a <= b).then_some(RangeSpec::FromTo(a, b))
}

/// Resolves a range against a body of `len` bytes.
///
/// A suffix range on an empty body cannot be expressed as a `Content-Range`,
/// so it is answered with the full (empty) body.
pub(crate) fn resolve(spec: RangeSpec, len: u64) -> RangeOutcome {
    match spec {
        RangeSpec::FromTo(a, _) | RangeSpec::From(a) if a >= len => RangeOutcome::Unsatisfiable,
        RangeSpec::FromTo(a, b) => RangeOutcome::Partial(a..b.min(len - 1) + 1),
        RangeSpec::From(a) => RangeOutcome::Partial(a..len),
        RangeSpec::Suffix(0) => RangeOutcome::Unsatisfiable,
        RangeSpec::Suffix(_) if len == 0 => RangeOutcome::Full,
        RangeSpec::Suffix(n) => RangeOutcome::Partial(len - n.min(len)..len),
    }
}

#[cfg(test)]
mod tests {
    use super::RangeOutcome::{Full, Partial, Unsatisfiable};
    use super::RangeSpec::{From, FromTo, Suffix};
    use super::*;

    #[test]
    fn parsing() {
        let cases: &[(&str, Option<RangeSpec>)] = &[
            ("bytes=0-499", Some(FromTo(0, 499))),
            ("bytes=500-", Some(From(500))),
            ("bytes=-500", Some(Suffix(500))),
            ("bytes=-0", Some(Suffix(0))),
            ("bytes=5-5", Some(FromTo(5, 5))),
            ("BYTES=1-2", Some(FromTo(1, 2))),
            (" bytes = 1 - 2 ", Some(FromTo(1, 2))),
            ("bytes=0-99999999999999999999999", Some(FromTo(0, u64::MAX))),
            ("bytes=5-4", None),
            ("bytes=0-1,3-4", None),
            ("bytes=0-1,", None),
            ("bytes=-", None),
            ("bytes=a-b", None),
            ("bytes=1", None),
            ("bytes=+1-2", None),
            ("bytes=1--2", None),
            ("items=0-1", None),
            ("0-1", None),
            ("", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_range(input), *want, "{input:?}");
        }
    }

    #[test]
    fn resolving() {
        let cases: &[(RangeSpec, u64, RangeOutcome)] = &[
            (FromTo(0, 499), 1000, Partial(0..500)),
            (FromTo(0, 0), 1000, Partial(0..1)),
            (FromTo(900, 2000), 1000, Partial(900..1000)),
            (FromTo(999, 999), 1000, Partial(999..1000)),
            (FromTo(1000, 1000), 1000, Unsatisfiable),
            (FromTo(0, 0), 0, Unsatisfiable),
            (From(0), 1000, Partial(0..1000)),
            (From(999), 1000, Partial(999..1000)),
            (From(1000), 1000, Unsatisfiable),
            (From(0), 0, Unsatisfiable),
            (Suffix(1), 1000, Partial(999..1000)),
            (Suffix(5000), 1000, Partial(0..1000)),
            (Suffix(0), 1000, Unsatisfiable),
            (Suffix(3), 0, Full),
            (
                FromTo(5 << 30, u64::MAX),
                (5 << 30) + 10,
                Partial(5 << 30..(5 << 30) + 10),
            ),
        ];
        for (spec, len, want) in cases {
            assert_eq!(resolve(*spec, *len), *want, "{spec:?} len {len}");
        }
    }
}

//! Pure `Range` header evaluation (RFC 9110 §14).
//!
//! [`evaluate`] turns one `Range` field value and the representation's length into a
//! [`RangeOutcome`]. It touches no I/O, so every rule is pinned by the table tests at the
//! bottom of this file.
//!
//! One convention inside: a range is half-open, `start..end`, with `start < end <= len`.
//! HTTP's inclusive `first-last` form exists only at the edges: while parsing here, and when
//! formatting `Content-Range` ([`content_range`]).

use std::ops::Range;

/// The most range-specs we look at in one header. A longer list is ignored outright (the whole
/// body is sent): RFC 9110 §14.2 lets a server ignore a Range field, and §17.15 warns that long
/// lists of small ranges are a denial-of-service tool.
pub const MAX_SPECS: usize = 256;

/// The most parts a multipart/byteranges answer may have after coalescing. More than this and
/// the Range field is ignored (RFC 9110 §14.2, §17.15), so the answer is at most the file.
pub const MAX_PARTS: usize = 32;

/// Ranges closer than this many bytes are merged into one part: RFC 9110 §14.2 allows
/// coalescing ranges "separated by a gap that is smaller than the overhead of sending multiple
/// parts", which it puts at about 80 bytes.
pub const COALESCE_GAP: u64 = 80;

/// What to do with a request's `Range` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Send the whole representation with 200: the field is absent, malformed, uses a unit we
    /// do not know, or asks for something we decline to serve as ranges.
    Ignore,
    /// Send these ranges with 206. Never empty; each is half-open and non-empty, in the order
    /// the client listed them (after coalescing), and disjoint.
    Satisfiable(Vec<Range<u64>>),
    /// Answer 416 with `Content-Range: bytes */len` (RFC 9110 §15.5.17).
    Unsatisfiable,
}

/// One syntactically valid range-spec, before it is resolved against a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spec {
    /// `first-last` or `first-` (last = `None`), with `first <= last`. Numbers too large for
    /// u64 saturate, which keeps their meaning: a huge first-pos is past any end, a huge
    /// last-pos is clamped.
    Int {
        /// The first byte position.
        first: u64,
        /// The last byte position (inclusive, as written), if given.
        last: Option<u64>,
    },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// What a `Range` field value selects, told before the representation's length is known (a
/// storage that reads the bytes in the request that gives the length needs it then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The whole representation: [`evaluate`] ignores the value, whatever the length.
    Whole,
    /// One range-spec: [`evaluate`] answers this range, the whole (an empty representation),
    /// or unsatisfiable, as the length decides.
    One(Spec),
    /// Several range-specs (they may coalesce into one part or none, as the length decides).
    Several,
}

/// What the `Range` field value `value` selects, before the length is known: the same parse
/// as [`evaluate`]'s.
pub fn selection(value: &[u8]) -> Selection {
    match parse(value).as_deref() {
        None => Selection::Whole,
        Some([spec]) => Selection::One(*spec),
        Some(_) => Selection::Several,
    }
}

/// Evaluates a `Range` field value against a representation of `len` bytes.
///
/// The caller has already decided that Range applies at all (GET or HEAD, `If-Range` passed).
pub fn evaluate(value: &[u8], len: u64) -> RangeOutcome {
    let Some(specs) = parse(value) else {
        return RangeOutcome::Ignore;
    };
    resolve(&specs, len)
}

/// Parses `bytes=spec, spec, ...` (RFC 9110 §14.1.1 `ranges-specifier`). `None` means "ignore
/// the field": unknown unit (§14.2: "MUST ignore a Range header field that contains a range
/// unit it does not understand"), bad syntax, an invalid spec (§14.1.1: last-pos < first-pos),
/// or more than [`MAX_SPECS`] specs.
fn parse(value: &[u8]) -> Option<Vec<Spec>> {
    let eq = value.iter().position(|&b| b == b'=')?;
    let (unit, set) = (&value[..eq], &value[eq + 1..]);
    // RFC 9110 §14.1: range units are compared case-insensitively. No whitespace is allowed
    // around "=" (`ranges-specifier = range-unit "=" range-set`).
    if !unit.eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    let mut specs = Vec::new();
    // RFC 9110 §5.6.1: `1#element` lists allow OWS around commas and empty elements.
    for element in set.split(|&b| b == b',') {
        let element = element.trim_ascii_start();
        let element = trim_ows_end(element);
        if element.is_empty() {
            continue;
        }
        if specs.len() == MAX_SPECS {
            return None;
        }
        specs.push(parse_spec(element)?);
    }
    // `1#range-spec`: at least one.
    if specs.is_empty() { None } else { Some(specs) }
}

/// OWS is spaces and tabs only (RFC 9110 §5.6.3).
fn trim_ows_end(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    &s[..end]
}

fn parse_spec(s: &[u8]) -> Option<Spec> {
    let dash = s.iter().position(|&b| b == b'-')?;
    let (first, last) = (&s[..dash], &s[dash + 1..]);
    if first.is_empty() {
        // RFC 9110 §14.1.1 `suffix-range = "-" suffix-length`.
        return Some(Spec::Suffix(digits(last)?));
    }
    let (first_digits, last_digits) = (first, last);
    let first = digits(first)?;
    let last = if last.is_empty() {
        None
    } else {
        Some(digits(last)?)
    };
    // RFC 9110 §14.1.1: "A range-spec is invalid if the last-pos value is present and less
    // than the first-pos." An invalid spec makes the whole field invalid, so it is ignored.
    // Compared as written, not as saturated: two positions past u64::MAX are both u64::MAX.
    if last.is_some() && decimal_less(last_digits, first_digits) {
        return None;
    }
    Some(Spec::Int { first, last })
}

/// Whether the decimal digits `a` are a smaller number than `b`, however long.
fn decimal_less(a: &[u8], b: &[u8]) -> bool {
    let strip = |s: &[u8]| -> Vec<u8> { s.iter().copied().skip_while(|&d| d == b'0').collect() };
    let (a, b) = (strip(a), strip(b));
    (a.len(), a) < (b.len(), b)
}

/// `1*DIGIT`, saturating at u64::MAX instead of failing: a position that large is past the
/// end of any file, which is exactly what saturation preserves.
fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// Resolves parsed specs against `len`: drops the unsatisfiable ones, converts to half-open,
/// coalesces and caps.
fn resolve(specs: &[Spec], len: u64) -> RangeOutcome {
    if len == 0 {
        // RFC 9110 §14.1.1: with zero length "the only satisfiable form of range-spec is a
        // suffix-range with a non-zero suffix-length", which selects the (empty) whole
        // representation. A 206 cannot describe zero bytes, so we send 200 with the empty
        // body instead (§14.2: a server MAY ignore Range). Anything else: 416 `bytes */0`.
        let any_suffix = specs.iter().any(|s| matches!(s, Spec::Suffix(n) if *n > 0));
        return if any_suffix {
            RangeOutcome::Ignore
        } else {
            RangeOutcome::Unsatisfiable
        };
    }
    let ranges: Vec<Range<u64>> = specs.iter().filter_map(|s| to_half_open(*s, len)).collect();
    if ranges.is_empty() {
        // RFC 9110 §15.5.17: none of the ranges overlap the representation.
        return RangeOutcome::Unsatisfiable;
    }
    let parts = coalesce(ranges);
    if parts.len() > MAX_PARTS {
        // RFC 9110 §17.15 / §14.2: decline many small ranges; the whole body costs no more
        // than the file itself.
        return RangeOutcome::Ignore;
    }
    RangeOutcome::Satisfiable(parts)
}

/// The one place inclusive positions become half-open. `None` if unsatisfiable.
fn to_half_open(spec: Spec, len: u64) -> Option<Range<u64>> {
    match spec {
        // RFC 9110 §14.1.1: an int-range is satisfiable if first-pos < length.
        Spec::Int { first, .. } if first >= len => None,
        // RFC 9110 §14.1.2: "If the last-pos value is absent, or if the value is greater than
        // or equal to the current length ... the byte-range is interpreted as the remainder".
        // (last < u64::MAX here because last < len, so + 1 cannot overflow.)
        Spec::Int { first, last } => Some(first..last.map_or(len, |last| last.min(len - 1) + 1)),
        // RFC 9110 §14.1.1: a suffix-range with suffix-length 0 is unsatisfiable.
        Spec::Suffix(0) => None,
        // RFC 9110 §14.1.2: "If the selected representation is shorter than the specified
        // suffix-length, the entire selected representation is used."
        Spec::Suffix(n) => Some(len.saturating_sub(n)..len),
    }
}

/// Merges ranges that overlap or are closer than [`COALESCE_GAP`] (RFC 9110 §14.2 allows this
/// "regardless of the order" the specs appeared in). Surviving parts keep the order of their
/// first member, since §14.6 says parts SHOULD follow the order of the request.
fn coalesce(ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    if ranges.len() == 1 {
        return ranges;
    }
    // (range, position of its earliest member in the request)
    let mut by_start: Vec<(Range<u64>, usize)> = ranges.into_iter().zip(0..).collect();
    by_start.sort_unstable_by_key(|(r, i)| (r.start, *i));
    let mut merged: Vec<(Range<u64>, usize)> = Vec::with_capacity(by_start.len());
    for (r, i) in by_start {
        match merged.last_mut() {
            Some((m, first)) if r.start < m.end.saturating_add(COALESCE_GAP) => {
                m.end = m.end.max(r.end);
                *first = (*first).min(i);
            }
            _ => merged.push((r, i)),
        }
    }
    merged.sort_unstable_by_key(|(_, i)| *i);
    merged.into_iter().map(|(r, _)| r).collect()
}

/// Formats `Content-Range` for a satisfiable part: `bytes first-last/len` (RFC 9110 §14.4),
/// converting back from half-open.
pub fn content_range(range: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{}", range.start, range.end - 1, len)
}

/// Formats `Content-Range` for a 416 answer: `bytes */len` (RFC 9110 §14.4, §15.5.17).
pub fn unsatisfied_range(len: u64) -> String {
    format!("bytes */{len}")
}

#[cfg(test)]
#[expect(
    clippy::single_range_in_vec_init,
    reason = "a list holding one range is the expected answer"
)]
mod tests {
    use super::RangeOutcome::{Ignore, Satisfiable, Unsatisfiable};
    use super::*;

    fn sat(ranges: &[Range<u64>]) -> RangeOutcome {
        Satisfiable(ranges.to_vec())
    }

    #[test]
    fn selection_is_told_before_the_length_and_agrees_with_evaluate() {
        use Selection::{One, Several, Whole};
        let int = |first, last| One(Spec::Int { first, last });
        #[rustfmt::skip]
        let cases: &[(&str, Selection)] = &[
            ("bytes=0-499", int(0, Some(499))),
            ("bytes=9500-", int(9500, None)),
            ("bytes=-500", One(Spec::Suffix(500))),
            ("bytes=-0", One(Spec::Suffix(0))),
            ("BYTES=5-9", int(5, Some(9))),
            ("bytes=0-99999999999999999999999", int(0, Some(u64::MAX))),
            ("bytes= 1-2 ,", int(1, Some(2))),
            ("bytes=0-9,20-29", Several),
            ("bytes=0-9,5-7", Several),
            ("bytes=9-5", Whole),
            ("items=0-9", Whole),
            ("bytes=", Whole),
            ("bytes=x-1", Whole),
        ];
        for (value, want) in cases {
            let got = selection(value.as_bytes());
            assert_eq!(got, *want, "{value}");
            // Whatever the length, evaluate answers what the selection said it would.
            for len in [0, 1, 10, 500, 10_000] {
                let outcome = evaluate(value.as_bytes(), len);
                match got {
                    Whole => assert_eq!(outcome, Ignore, "{value} len {len}"),
                    One(spec) => match to_half_open(spec, len) {
                        Some(range) if len > 0 => assert_eq!(outcome, sat(&[range])),
                        _ => assert!(matches!(outcome, Ignore | Unsatisfiable), "{value}"),
                    },
                    Several => assert_ne!(outcome, Ignore, "{value} len {len}"),
                }
            }
        }
    }

    #[test]
    fn evaluate_table() {
        #[rustfmt::skip]
        let cases: &[(&str, u64, RangeOutcome, &str)] = &[
            // --- §14.1.2 int-range
            ("bytes=0-499", 1000, sat(&[0..500]), "§14.1.2 first 500 bytes"),
            ("bytes=500-999", 1000, sat(&[500..1000]), "§14.1.2 second 500 bytes"),
            ("bytes=0-0", 1000, sat(&[0..1]), "§14.1.2 first byte"),
            ("bytes=999-999", 1000, sat(&[999..1000]), "§14.1.2 last byte"),
            ("bytes=9500-", 10000, sat(&[9500..10000]), "§14.1.2 open-ended"),
            ("bytes=0-", 18, sat(&[0..18]), "§14.1.2 open-ended from 0 is still 206"),
            ("bytes=12-20", 18, sat(&[12..18]), "§14.1.2 last-pos >= len is clamped (dufs 416s)"),
            ("bytes=12-17", 18, sat(&[12..18]), "§14.1.2 last-pos = len-1"),
            ("bytes=0-18446744073709551615", 18, sat(&[0..18]), "§14.1.2 last-pos u64::MAX clamped"),
            ("bytes=0-99999999999999999999999", 18, sat(&[0..18]), "§14.1.2 last-pos beyond u64 clamped, no wrap"),
            // Found by fuzz/serve_range: both positions saturated to u64::MAX hid last < first.
            ("bytes=0-5,99999999999999999999999-99999999999999999999998", 18, RangeOutcome::Ignore, "§14.1.1 invalid beyond u64 too"),
            ("bytes=0-5,0099999999999999999999-99999999999999999999999", 18, sat(&[0..6]), "§14.1.1 leading zeros, equal"),
            // --- §14.1.2 suffix-range
            ("bytes=-500", 10000, sat(&[9500..10000]), "§14.1.2 final 500 bytes"),
            ("bytes=-1", 10, sat(&[9..10]), "§14.1.2 final byte"),
            ("bytes=-30", 18, sat(&[0..18]), "§14.1.2 suffix longer than file = whole file (dufs 416s)"),
            ("bytes=-18", 18, sat(&[0..18]), "§14.1.2 suffix equal to len"),
            ("bytes=-99999999999999999999999", 18, sat(&[0..18]), "§14.1.2 huge suffix = whole file"),
            ("bytes=-0", 18, Unsatisfiable, "§14.1.1 suffix-length 0 is unsatisfiable (dufs 206s)"),
            // --- §14.1.1 satisfiability
            ("bytes=18-", 18, Unsatisfiable, "§14.1.1 first-pos = len"),
            ("bytes=18-20", 18, Unsatisfiable, "§14.1.1 first-pos past end"),
            ("bytes=99999999999999999999999-", 18, Unsatisfiable, "§14.1.1 first-pos beyond u64"),
            ("bytes=20-30, -0", 18, Unsatisfiable, "§15.5.17 no member satisfiable"),
            ("bytes=20-30,0-1", 18, sat(&[0..2]), "§14.1.1 unsatisfiable member dropped"),
            // --- §14.1.1 invalid / unknown → ignore (§14.2)
            ("bytes=5-2", 18, Ignore, "§14.1.1 last < first is invalid"),
            ("bytes=0-1,5-2", 18, Ignore, "§14.1.1 one invalid member invalidates the field"),
            ("items=0-1", 18, Ignore, "§14.2 unknown unit ignored"),
            ("none", 18, Ignore, "§14.2 no unit"),
            ("bytes=", 18, Ignore, "§14.1.1 1#range-spec needs one spec"),
            ("bytes=,", 18, Ignore, "§5.6.1 only empty elements"),
            ("bytes=-", 18, Ignore, "§14.1.1 no digits"),
            ("bytes=a-b", 18, Ignore, "§14.1.1 digits only"),
            ("bytes=+1-2", 18, Ignore, "§14.1.1 no sign"),
            ("bytes=1 - 2", 18, Ignore, "§14.1.1 no whitespace inside a spec"),
            ("bytes =0-1", 18, Ignore, "§14.1.1 no whitespace before ="),
            ("bytes=0x10-", 18, Ignore, "§14.1.1 decimal only"),
            ("bytes=1-2-3", 18, Ignore, "§14.1.1 one dash"),
            ("bytes=--1", 18, Ignore, "§14.1.1 negative suffix"),
            // --- §14.1 case-insensitive unit, §5.6.1 list syntax
            ("BYTES=0-1", 18, sat(&[0..2]), "§14.1 units are case-insensitive"),
            ("Bytes=0-1", 18, sat(&[0..2]), "§14.1 units are case-insensitive"),
            ("bytes= 0-1 ,\t2-3 ", 100, sat(&[0..4]), "§5.6.1 OWS around elements (then coalesced)"),
            ("bytes=0-1,,", 18, sat(&[0..2]), "§5.6.1 empty list elements"),
            // --- multiple ranges, §14.2 coalescing, §14.6 order
            ("bytes=0-9,500-509", 1000, sat(&[0..10, 500..510]), "§14.6 two parts"),
            ("bytes=500-509,0-9", 1000, sat(&[500..510, 0..10]), "§14.6 parts keep request order"),
            ("bytes=0-9,5-14", 1000, sat(&[0..15]), "§14.2 overlapping ranges coalesced"),
            ("bytes=0-9,10-19", 1000, sat(&[0..20]), "§14.2 adjacent ranges coalesced"),
            ("bytes=0-9,50-59", 1000, sat(&[0..60]), "§14.2 gap < 80 bytes coalesced"),
            ("bytes=0-9,90-99", 1000, sat(&[0..10, 90..100]), "§14.2 gap of 80 bytes kept apart"),
            ("bytes=0-0,0-0,0-0", 1000, sat(&[0..1]), "§17.15 duplicates coalesced"),
            ("bytes=900-,0-9,-10", 1000, sat(&[900..1000, 0..10]), "§14.2 suffix merged into an earlier part"),
            ("bytes=0-,0-,0-,0-", 1000, sat(&[0..1000]), "§17.15 repeated whole-file ranges are one part"),
            // --- empty representation
            ("bytes=0-", 0, Unsatisfiable, "§14.1.1 nothing satisfiable in an empty file"),
            ("bytes=0-0", 0, Unsatisfiable, "§14.1.1 nothing satisfiable in an empty file"),
            ("bytes=-0", 0, Unsatisfiable, "§14.1.1 suffix 0"),
            ("bytes=-5", 0, Ignore, "§14.1.1 non-zero suffix on empty: whole (empty) body, 200"),
            ("items=0-1", 0, Ignore, "§14.2 unknown unit on empty file"),
        ];
        for (value, len, want, why) in cases {
            assert_eq!(
                &evaluate(value.as_bytes(), *len),
                want,
                "{value:?} len {len}: {why}"
            );
        }
    }

    #[test]
    fn many_scattered_ranges_are_declined() {
        // RFC 9110 §17.15: 33 distinct parts (gaps of 100 bytes) exceed MAX_PARTS → whole body.
        let specs: Vec<String> = (0..=MAX_PARTS as u64)
            .map(|i| format!("{}-{}", i * 100, i * 100))
            .collect();
        let value = format!("bytes={}", specs.join(","));
        assert_eq!(evaluate(value.as_bytes(), 100_000), RangeOutcome::Ignore);

        // Exactly MAX_PARTS parts are served.
        let value = format!("bytes={}", specs[..MAX_PARTS].join(","));
        match evaluate(value.as_bytes(), 100_000) {
            RangeOutcome::Satisfiable(parts) => assert_eq!(parts.len(), MAX_PARTS),
            other => panic!("expected 206 parts, got {other:?}"),
        }
    }

    #[test]
    fn many_overlapping_ranges_become_one() {
        // RFC 9110 §17.15: 200 copies of the same range cost one part, not 200.
        let value = format!("bytes={}", vec!["0-99"; 200].join(","));
        assert_eq!(evaluate(value.as_bytes(), 1000), sat(&[0..100]));
    }

    #[test]
    fn too_many_specs_are_ignored_without_work() {
        // RFC 9110 §17.15: more than MAX_SPECS specs are not even parsed.
        let value = format!("bytes={}", vec!["0-0"; MAX_SPECS + 1].join(","));
        assert_eq!(evaluate(value.as_bytes(), 1000), RangeOutcome::Ignore);
    }

    #[test]
    fn coalesced_parts_never_exceed_the_file() {
        // Whatever the request, the parts are disjoint and inside 0..len (§17.15).
        let value = "bytes=0-,-1000,5-10,990-2000,-1,100-200,150-160";
        let RangeOutcome::Satisfiable(parts) = evaluate(value.as_bytes(), 1000) else {
            panic!("expected satisfiable");
        };
        let total: u64 = parts.iter().map(|r| r.end - r.start).sum();
        assert!(total <= 1000, "{parts:?}");
        assert_eq!(parts, vec![0..1000]);
    }

    #[test]
    fn content_range_formats_inclusive_positions() {
        // RFC 9110 §14.4: complete-length after the slash, last-pos inclusive.
        assert_eq!(content_range(&(0..500), 1000), "bytes 0-499/1000");
        assert_eq!(content_range(&(999..1000), 1000), "bytes 999-999/1000");
        assert_eq!(unsatisfied_range(18), "bytes */18");
    }
}

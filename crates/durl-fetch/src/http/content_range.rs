//! Parsing and checking of the `Content-Range` response header (RFC 9110 §14.4).
//!
//! The wire format is inclusive (`bytes first-last/complete`); inside durl every range is
//! half-open (`start..end`). The conversion happens here and nowhere else.

use std::ops::Range;

/// A parsed `Content-Range` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes first-last/complete` or `bytes first-last/*`: the enclosed body holds `range`.
    Satisfied {
        /// The bytes the body holds, half-open.
        range: Range<u64>,
        /// The complete length of the representation, when the server knows it.
        complete: Option<u64>,
    },
    /// `bytes */complete`, sent with 416 (RFC 9110 §15.5.17).
    Unsatisfied {
        /// The complete length of the representation.
        complete: u64,
    },
}

/// Parses a `Content-Range` header value. Returns `None` for anything that is not a valid
/// byte-range `Content-Range`, including an unknown unit, `last < first` and
/// `last >= complete` (RFC 9110 §14.4: such a value is invalid).
pub fn parse(value: &str) -> Option<ContentRange> {
    // RFC 9110 §14.4: Content-Range = range-unit SP ( range-resp / unsatisfied-range )
    let rest = value.trim().strip_prefix("bytes ")?.trim_start();
    let (resp, complete) = rest.split_once('/')?;
    let complete = match complete.trim() {
        "*" => None,
        n => Some(parse_u64(n)?),
    };
    if resp.trim() == "*" {
        // unsatisfied-range = "*/" complete-length
        return Some(ContentRange::Unsatisfied {
            complete: complete?,
        });
    }
    let (first, last) = resp.trim().split_once('-')?;
    let first = parse_u64(first)?;
    let last = parse_u64(last)?;
    // RFC 9110 §14.4: "invalid if the last-pos value is less than the first-pos value, or a
    // complete-length value is less than or equal to the last-pos value".
    if last < first || complete.is_some_and(|c| c <= last) {
        return None;
    }
    Some(ContentRange::Satisfied {
        range: first..last.checked_add(1)?,
        complete,
    })
}

/// Digits only (no sign, no spaces), no overflow.
fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Formats the `Range` request value for "everything from `start`" (RFC 9110 §14.1.2).
pub fn range_from(start: u64) -> String {
    format!("bytes={start}-")
}

/// Formats the `Range` request value for a half-open range (converted to inclusive).
///
/// # Panics
/// Panics on an empty range, which has no wire form.
pub fn range_header(range: &Range<u64>) -> String {
    assert!(range.start < range.end, "empty range has no Range header");
    format!("bytes={}-{}", range.start, range.end - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_of_rfc_9110_section_14_4() {
        use ContentRange::*;
        let table: &[(&str, Option<ContentRange>)] = &[
            (
                "bytes 0-499/1234",
                Some(Satisfied {
                    range: 0..500,
                    complete: Some(1234),
                }),
            ),
            (
                "bytes 500-999/1234",
                Some(Satisfied {
                    range: 500..1000,
                    complete: Some(1234),
                }),
            ),
            (
                "bytes 734-1233/1234",
                Some(Satisfied {
                    range: 734..1234,
                    complete: Some(1234),
                }),
            ),
            (
                "bytes 42-1233/*",
                Some(Satisfied {
                    range: 42..1234,
                    complete: None,
                }),
            ),
            ("bytes */1234", Some(Unsatisfied { complete: 1234 })),
            ("bytes */0", Some(Unsatisfied { complete: 0 })),
            // invalid: last < first, last >= complete, unknown unit, junk, missing parts
            ("bytes 5-4/10", None),
            ("bytes 0-10/10", None),
            ("items 0-1/10", None),
            ("bytes 0-1", None),
            ("bytes a-b/10", None),
            ("bytes -1-5/10", None),
            ("bytes +1-5/10", None),
            ("bytes */*", None),
            ("", None),
            // u64 edges: no overflow, no wrap
            ("bytes 0-18446744073709551615/*", None),
            ("bytes 0-99999999999999999999/*", None),
            (
                "bytes 4294967296-4294967300/5000000000",
                Some(Satisfied {
                    range: 4_294_967_296..4_294_967_301,
                    complete: Some(5_000_000_000),
                }),
            ),
        ];
        for (input, want) in table {
            assert_eq!(&parse(input), want, "input {input:?}");
        }
    }

    #[test]
    fn formats_ranges_inclusively_at_the_edge() {
        assert_eq!(range_from(0), "bytes=0-");
        assert_eq!(range_from(5_000_000_000), "bytes=5000000000-");
        assert_eq!(range_header(&(10..20)), "bytes=10-19");
        assert_eq!(range_header(&(0..1)), "bytes=0-0");
    }
}

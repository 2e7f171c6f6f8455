//! What an answer to a (ranged) GET means for the bytes held: the one place that reads 206,
//! 200 and 416. Pure: the status and header values in, a [`Verdict`] out.

use std::ops::Range;

use crate::events::RestartReason;
use crate::http::content_range::ContentRange;

/// What was asked: the bytes from `start` of the version held, whose length is `length`
/// when known; `ranged` when a `Range` was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Asked {
    pub(crate) start: u64,
    pub(crate) ranged: bool,
    pub(crate) length: Option<u64>,
}

/// The parts of a response that decide what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The parsed `Content-Range`, if there is a valid one.
    pub(crate) content_range: Option<ContentRange>,
    /// The `Content-Length` (the body's length).
    pub(crate) content_length: Option<u64>,
    /// Whether its validators name the version held (always true when nothing is held).
    pub(crate) same_version: bool,
}

/// How a 200 relates to the bytes held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// Nothing was held (no `Range` was sent).
    Nothing,
    /// The same version: the server ignored the range.
    SameVersion,
    /// Another version.
    OtherVersion,
}

/// What the answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A usable 206: its body holds exactly `range` (which starts at or before the asked
    /// start) of a file of `length`.
    Partial {
        range: Range<u64>,
        length: Option<u64>,
    },
    /// A 200: the whole representation, from byte 0.
    Whole { length: Option<u64>, held: Held },
    /// A 416 `bytes */N` with `N` equal to the asked start: nothing is missing.
    Complete { length: u64 },
    /// A 206 or 416 of another version (validators or length differ).
    Changed,
    /// A 416 that leaves the held bytes unusable.
    Restart(RestartReason),
    /// The answer breaks the protocol; nothing of it may be written.
    Invalid(String),
    /// An error status (or one durl does not use).
    Failed,
}

/// Classifies an answer to a GET for the bytes from `asked.start`.
pub(crate) fn classify(asked: Asked, answer: &Answer) -> Verdict {
    let start = asked.start;
    match answer.status {
        206 => {
            // RFC 9110 §15.3.7: a 206 answers a Range request; there was none.
            if !asked.ranged {
                return Verdict::Invalid("206 to a request without Range".into());
            }
            // RFC 9110 §15.3.7: a single-part 206 carries a Content-Range.
            let Some(ContentRange::Satisfied { range, complete }) = &answer.content_range else {
                return Verdict::Invalid("206 without a valid Content-Range".into());
            };
            // RFC 9110 §13.1.5: a server that ignores If-Range would splice a new version
            // onto old bytes; the validators and the complete length are checked here too.
            if !answer.same_version || asked.length.zip(*complete).is_some_and(|(l, c)| l != c) {
                return Verdict::Changed;
            }
            if range.start > start || range.end <= start {
                return Verdict::Invalid(format!(
                    "asked for bytes from {start}, got {}-{}",
                    range.start,
                    range.end - 1
                ));
            }
            // RFC 9110 §14.4: the content is exactly the bytes the Content-Range names; a body
            // of another length (§8.6 Content-Length) is never file content.
            if let Some(n) = answer.content_length
                && n != range.end - range.start
            {
                return Verdict::Invalid(format!(
                    "a body of {n} bytes for Content-Range bytes {}-{}",
                    range.start,
                    range.end - 1
                ));
            }
            Verdict::Partial {
                range: range.clone(),
                length: asked.length.or(*complete),
            }
        }
        // RFC 9110 §15.3.1: a 200 carries the whole representation (203: the same, as
        // transformed by a proxy).
        200 | 203 => {
            let held = match (asked.ranged, answer.same_version) {
                (false, _) => Held::Nothing,
                (true, true) => Held::SameVersion,
                (true, false) => Held::OtherVersion,
            };
            Verdict::Whole {
                length: answer.content_length,
                held,
            }
        }
        416 => {
            // RFC 9110 §15.5.17: `Content-Range: bytes */N` tells the current length.
            let Some(ContentRange::Unsatisfied { complete }) = answer.content_range else {
                return Verdict::Restart(RestartReason::RangeNotSatisfiable);
            };
            if !answer.same_version || asked.length.is_some_and(|l| l != complete) {
                Verdict::Changed
            } else if start == complete && start > 0 {
                Verdict::Complete { length: complete }
            } else if start > complete {
                Verdict::Restart(RestartReason::PartialTooLong)
            } else {
                Verdict::Restart(RestartReason::RangeNotSatisfiable)
            }
        }
        _ => Verdict::Failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::content_range::parse;

    #[test]
    fn answers_to_ranged_gets() {
        use RestartReason::{PartialTooLong, RangeNotSatisfiable};
        use Verdict::*;
        let partial = |a: u64, b: u64, length: Option<u64>| Partial {
            range: a..b,
            length,
        };
        let whole = |length: Option<u64>, held| Whole { length, held };
        // (status, Content-Range, Content-Length, same version, asked start, length held, verdict)
        type Row = (
            u16,
            Option<&'static str>,
            Option<u64>,
            bool,
            u64,
            Option<u64>,
            Verdict,
        );
        #[rustfmt::skip]
        let table: Vec<Row> = vec![
            // RFC 9110 §15.3.7, §14.4: a 206 that holds the bytes asked for.
            (206, Some("bytes 100-999/1000"), Some(900), true, 100, Some(1000), partial(100, 1000, Some(1000))),
            // The length becomes known from the Content-Range.
            (206, Some("bytes 100-999/1000"), Some(900), true, 100, None, partial(100, 1000, Some(1000))),
            (206, Some("bytes 100-999/*"), None, true, 100, None, partial(100, 1000, None)),
            // Starting earlier is usable (the overlap is skipped); later, or ending before
            // the start, is not.
            (206, Some("bytes 90-999/1000"), Some(910), true, 100, Some(1000), partial(90, 1000, Some(1000))),
            (206, Some("bytes 110-999/1000"), Some(890), true, 100, Some(1000), Invalid("asked for bytes from 100, got 110-999".into())),
            (206, Some("bytes 0-99/1000"), Some(100), true, 100, Some(1000), Invalid("asked for bytes from 100, got 0-99".into())),
            // RFC 9110 §14.4: a body longer than its Content-Range (the first wrong file).
            (206, Some("bytes 1048576-1048675/3145728"), Some(2 << 20), true, 1 << 20, Some(3 << 20),
                Invalid("a body of 2097152 bytes for Content-Range bytes 1048576-1048675".into())),
            // §14.4: no, or an invalid, Content-Range.
            (206, None, Some(900), true, 100, Some(1000), Invalid("206 without a valid Content-Range".into())),
            (206, Some("bytes 100-1000/1000"), Some(901), true, 100, Some(1000), Invalid("206 without a valid Content-Range".into())),
            (206, Some("bytes 0-99/1000"), Some(100), true, 0, None, Invalid("206 to a request without Range".into())),
            // §13.1.5: another validator or another complete length is another version.
            (206, Some("bytes 100-999/1000"), Some(900), false, 100, Some(1000), Changed),
            (206, Some("bytes 100-1004/1005"), Some(905), true, 100, Some(1000), Changed),
            // §15.3.1: a 200 is the whole file; what it means for the bytes held.
            (200, None, Some(1000), true, 0, None, whole(Some(1000), Held::Nothing)),
            (200, None, None, true, 0, None, whole(None, Held::Nothing)),
            (200, None, Some(1000), true, 100, Some(1000), whole(Some(1000), Held::SameVersion)),
            (203, None, Some(1000), false, 100, Some(1000), whole(Some(1000), Held::OtherVersion)),
            // §15.5.17: 416 with `bytes */N`.
            (416, Some("bytes */1000"), None, true, 1000, Some(1000), Complete { length: 1000 }),
            (416, Some("bytes */1000"), None, true, 1000, None, Complete { length: 1000 }),
            (416, Some("bytes */1000"), None, true, 1010, None, Restart(PartialTooLong)),
            (416, Some("bytes */1000"), None, true, 500, Some(1000), Restart(RangeNotSatisfiable)),
            (416, Some("bytes */1000"), None, false, 1000, Some(1000), Changed),
            (416, Some("bytes */1005"), None, true, 1000, Some(1000), Changed),
            (416, None, None, true, 1000, Some(1000), Restart(RangeNotSatisfiable)),
            // Anything else is the caller's error status.
            (404, None, Some(10), true, 100, Some(1000), Failed),
            (304, None, None, true, 100, Some(1000), Failed),
        ];
        for (status, range, content_length, same_version, start, length, want) in table {
            let answer = Answer {
                status,
                content_range: range.and_then(parse),
                content_length,
                same_version,
            };
            let asked = Asked {
                start,
                ranged: start > 0,
                length,
            };
            assert_eq!(
                classify(asked, &answer),
                want,
                "{status} {range:?} {content_length:?} same={same_version} from {start} of {length:?}"
            );
        }
        // A segment asked from byte 0 is a ranged request too.
        let answer = Answer {
            status: 206,
            content_range: parse("bytes 0-99/1000"),
            content_length: Some(100),
            same_version: true,
        };
        let asked = Asked {
            start: 0,
            ranged: true,
            length: Some(1000),
        };
        assert_eq!(
            classify(asked, &answer),
            Verdict::Partial {
                range: 0..100,
                length: Some(1000)
            }
        );
    }
}

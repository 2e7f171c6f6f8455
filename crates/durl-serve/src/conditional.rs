//! Pure evaluation of conditional request headers (RFC 9110 §13).
//!
//! [`evaluate`] applies `If-Match`, `If-Unmodified-Since`, `If-None-Match`,
//! `If-Modified-Since` and `If-Range` in the order of RFC 9110 §13.2.2, given the request's
//! method and headers and the file's [`Validators`]. It does no I/O.
//!
//! Per RFC 9110 §13.2.1 the caller only gets here when the answer without conditions would be
//! 2xx: a missing file is a 404 whatever the preconditions say.

use std::time::SystemTime;

use http::Method;
use http::header::{
    HeaderMap, HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE, RANGE,
};

use crate::validators::Validators;

/// The result of evaluating the preconditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the representation. `use_range` is false when `If-Range` did not match, in which
    /// case the `Range` field must be ignored and the whole body sent (RFC 9110 §13.1.5).
    Proceed {
        /// Whether the `Range` field (if any) may be honoured.
        use_range: bool,
    },
    /// 304 Not Modified (RFC 9110 §15.4.5).
    NotModified,
    /// 412 Precondition Failed (RFC 9110 §15.5.13).
    Failed,
}

/// Evaluates the preconditions of a request in the order of RFC 9110 §13.2.2.
pub fn evaluate(method: &Method, headers: &HeaderMap, current: &Validators) -> Precondition {
    let get_or_head = method == Method::GET || method == Method::HEAD;

    // Step 1: If-Match (§13.1.1), strong comparison; false → 412.
    if headers.contains_key(IF_MATCH) {
        if !if_match(headers, current) {
            return Precondition::Failed;
        }
    } else if let Some(date) = single_date(headers, &IF_UNMODIFIED_SINCE) {
        // Step 2: If-Unmodified-Since (§13.1.4), only without If-Match; a value that is not a
        // valid HTTP-date is ignored. False (modified after the date) → 412.
        if current.last_modified > date {
            return Precondition::Failed;
        }
    }

    // Step 3: If-None-Match (§13.1.2), weak comparison; false → 304 for GET/HEAD, else 412.
    if headers.contains_key(IF_NONE_MATCH) {
        if !if_none_match(headers, &current.etag_opaque) {
            return if get_or_head {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if get_or_head && let Some(date) = single_date(headers, &IF_MODIFIED_SINCE) {
        // Step 4: If-Modified-Since (§13.1.3), only for GET/HEAD and without If-None-Match;
        // invalid dates are ignored. False (not modified since) → 304.
        if current.last_modified <= date {
            return Precondition::NotModified;
        }
    }

    // Step 5: If-Range (§13.1.5) decides whether Range applies. "A server MUST ignore an
    // If-Range header field received in a request that does not contain a Range header field."
    // We treat HEAD like GET so that HEAD answers carry the same header fields (§9.3.2).
    let use_range = !(get_or_head && headers.contains_key(RANGE) && headers.contains_key(IF_RANGE))
        || if_range(headers, current);
    Precondition::Proceed { use_range }
}

/// RFC 9110 §13.1.1: true for `*` (the file exists), or if any listed tag matches strongly.
/// A field we cannot parse is false: the client asked for a guarantee we cannot give.
fn if_match(headers: &HeaderMap, current: &Validators) -> bool {
    match entity_tags(headers, &IF_MATCH) {
        Some(Tags::Any) => true,
        Some(Tags::List(tags)) => tags.iter().any(|t| t.strong_eq(&current.etag_opaque)),
        None => false,
    }
}

/// RFC 9110 §13.1.2: false for `*` (the file exists), or if any listed tag matches weakly.
/// A field we cannot parse is true: sending the full answer is the safe side.
fn if_none_match(headers: &HeaderMap, opaque: &str) -> bool {
    match entity_tags(headers, &IF_NONE_MATCH) {
        Some(Tags::Any) => false,
        Some(Tags::List(tags)) => !tags.iter().any(|t| t.weak_eq(opaque)),
        None => true,
    }
}

/// Whether a GET or HEAD with these headers gets 304 for a representation that has only
/// an entity-tag (`opaque`, without quotes) and no Last-Modified: RFC 9110 §13.1.2, an
/// If-None-Match that evaluates to false. (With no Last-Modified, If-Modified-Since cannot
/// be evaluated and is ignored, §13.1.3.)
pub(crate) fn not_modified(headers: &HeaderMap, opaque: &str) -> bool {
    headers.contains_key(IF_NONE_MATCH) && !if_none_match(headers, opaque)
}

/// RFC 9110 §13.1.5: an entity-tag must match by strong comparison (so a weak tag never
/// matches); a date must equal Last-Modified exactly. Anything else is false.
fn if_range(headers: &HeaderMap, current: &Validators) -> bool {
    let mut values = headers.get_all(IF_RANGE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false; // If-Range is a single value, not a list.
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let value = value.trim();
    if value.starts_with('"') || value.starts_with("W/") {
        return match parse_tag_list(value) {
            Some(tags) if tags.len() == 1 => tags[0].strong_eq(&current.etag_opaque),
            _ => false,
        };
    }
    httpdate::parse_http_date(value).is_ok_and(|date| date == current.last_modified)
}

/// The single HTTP-date in `name`, or `None` if absent, repeated or invalid (all of which mean
/// "ignore the field", RFC 9110 §13.1.3, §13.1.4).
fn single_date(headers: &HeaderMap, name: &HeaderName) -> Option<SystemTime> {
    let mut values = headers.get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    httpdate::parse_http_date(value.to_str().ok()?.trim()).ok()
}

/// An entity-tag (RFC 9110 §8.8.3): optional weakness indicator plus the opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

impl EntityTag<'_> {
    /// RFC 9110 §8.8.3.2 strong comparison: both strong and the same opaque string. Our own
    /// tag is always strong.
    fn strong_eq(&self, ours: &str) -> bool {
        !self.weak && self.opaque == ours
    }

    /// RFC 9110 §8.8.3.2 weak comparison: the opaque strings match, weakness aside.
    fn weak_eq(&self, ours: &str) -> bool {
        self.opaque == ours
    }
}

enum Tags<'a> {
    Any,
    List(Vec<EntityTag<'a>>),
}

/// `"*" / #entity-tag` over every field line of `name` (lines are joined as one list, RFC 9110
/// §5.3). `None` on a syntax error.
fn entity_tags<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<Tags<'a>> {
    let mut all = Vec::new();
    let mut any = false;
    for value in headers.get_all(name) {
        let value = value.to_str().ok()?.trim();
        if value == "*" {
            any = true;
        } else {
            all.extend(parse_tag_list(value)?);
        }
    }
    match (any, all.is_empty()) {
        (true, true) => Some(Tags::Any),
        (true, false) => None, // "*" mixed with tags is not valid syntax
        (false, _) => Some(Tags::List(all)),
    }
}

/// Parses `#entity-tag`. An opaque-tag may contain commas, so this scans quotes rather than
/// splitting on commas. `entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE`.
fn parse_tag_list(mut s: &str) -> Option<Vec<EntityTag<'_>>> {
    let mut tags = Vec::new();
    loop {
        s = s.trim_start_matches([' ', '\t', ',']);
        if s.is_empty() {
            return Some(tags);
        }
        let weak = s.starts_with("W/");
        if weak {
            s = &s[2..];
        }
        let rest = s.strip_prefix('"')?;
        let close = rest.find('"')?;
        let opaque = &rest[..close];
        // etagc = %x21 / %x23-7E / obs-text: no controls, spaces or quotes.
        if opaque.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return None;
        }
        tags.push(EntityTag { weak, opaque });
        s = &rest[close + 1..];
        // After a tag: OWS then a comma or the end.
        let after = s.trim_start_matches([' ', '\t']);
        if !(after.is_empty() || after.starts_with(',')) {
            return None;
        }
        s = after;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use http::HeaderValue;

    use super::Precondition::{Failed, NotModified, Proceed};
    use super::*;

    /// Our file: ETag "abc", Last-Modified Sun, 06 Nov 1994 08:49:37 GMT.
    fn current() -> Validators {
        Validators {
            etag_opaque: "abc".to_owned(),
            last_modified: UNIX_EPOCH + Duration::from_secs(784_111_777),
        }
    }

    const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";
    const RANGE_OK: Precondition = Proceed { use_range: true };
    const NO_RANGE: Precondition = Proceed { use_range: false };

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    /// (method, header fields, expected outcome, why).
    type Case = (
        Method,
        &'static [(&'static str, &'static str)],
        Precondition,
        &'static str,
    );

    #[test]
    fn evaluate_table() {
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (Method::GET, &[], RANGE_OK, "no preconditions"),
            // --- §13.1.1 If-Match: strong comparison, 412 when false
            (Method::GET, &[("if-match", "\"abc\"")], RANGE_OK, "§13.1.1 strong match"),
            (Method::GET, &[("if-match", "\"xyz\", \"abc\"")], RANGE_OK, "§13.1.1 any member matches"),
            (Method::GET, &[("if-match", "\"xyz\""), ("if-match", "\"abc\"")], RANGE_OK, "§5.3 lines form one list"),
            (Method::GET, &[("if-match", "*")], RANGE_OK, "§13.1.1 * matches an existing file"),
            (Method::GET, &[("if-match", "\"xyz\"")], Failed, "§13.1.1 no match → 412"),
            (Method::GET, &[("if-match", "W/\"abc\"")], Failed, "§13.1.1 weak tag never matches strongly"),
            (Method::GET, &[("if-match", "abc")], Failed, "§8.8.3 unquoted tag is malformed → false"),
            (Method::HEAD, &[("if-match", "\"xyz\"")], Failed, "§13.1.1 HEAD too"),
            // --- §13.1.4 If-Unmodified-Since, only without If-Match
            (Method::GET, &[("if-unmodified-since", LM)], RANGE_OK, "§13.1.4 not modified since"),
            (Method::GET, &[("if-unmodified-since", AFTER)], RANGE_OK, "§13.1.4 later date"),
            (Method::GET, &[("if-unmodified-since", BEFORE)], Failed, "§13.1.4 modified after → 412"),
            (Method::GET, &[("if-unmodified-since", "yesterday")], RANGE_OK, "§13.1.4 invalid date ignored"),
            (Method::GET, &[("if-match", "\"abc\""), ("if-unmodified-since", BEFORE)], RANGE_OK, "§13.2.2 step 2 skipped with If-Match"),
            // --- §13.1.2 If-None-Match: weak comparison, 304 for GET/HEAD
            (Method::GET, &[("if-none-match", "\"abc\"")], NotModified, "§13.1.2 match → 304"),
            (Method::GET, &[("if-none-match", "W/\"abc\"")], NotModified, "§13.1.2 weak comparison"),
            (Method::HEAD, &[("if-none-match", "\"abc\"")], NotModified, "§13.1.2 HEAD → 304"),
            (Method::GET, &[("if-none-match", "\"x\", W/\"abc\"")], NotModified, "§13.1.2 list"),
            (Method::GET, &[("if-none-match", "*")], NotModified, "§13.1.2 * matches an existing file"),
            (Method::GET, &[("if-none-match", "\"xyz\"")], RANGE_OK, "§13.1.2 no match → proceed"),
            (Method::GET, &[("if-none-match", "garbage")], RANGE_OK, "malformed If-None-Match → full answer"),
            (Method::POST, &[("if-none-match", "\"abc\"")], Failed, "§13.1.2 other methods → 412"),
            (Method::GET, &[("if-match", "\"xyz\""), ("if-none-match", "\"abc\"")], Failed, "§13.2.2 If-Match before If-None-Match"),
            (Method::GET, &[("if-unmodified-since", BEFORE), ("if-none-match", "\"abc\"")], Failed, "§13.2.2 IUS before INM"),
            // --- §13.1.3 If-Modified-Since, only without If-None-Match, only GET/HEAD
            (Method::GET, &[("if-modified-since", LM)], NotModified, "§13.1.3 same date → 304"),
            (Method::GET, &[("if-modified-since", AFTER)], NotModified, "§13.1.3 later date → 304"),
            (Method::GET, &[("if-modified-since", BEFORE)], RANGE_OK, "§13.1.3 modified since → 200"),
            (Method::GET, &[("if-modified-since", "Sunday, 06-Nov-94 08:49:37 GMT")], NotModified, "§5.6.7 rfc850 date accepted"),
            (Method::GET, &[("if-modified-since", "Sun Nov  6 08:49:37 1994")], NotModified, "§5.6.7 asctime date accepted"),
            (Method::GET, &[("if-modified-since", "not a date")], RANGE_OK, "§13.1.3 invalid date ignored"),
            (Method::GET, &[("if-modified-since", LM), ("if-modified-since", LM)], RANGE_OK, "§13.1.3 more than one member ignored"),
            (Method::POST, &[("if-modified-since", LM)], RANGE_OK, "§13.1.3 ignored for other methods"),
            (Method::GET, &[("if-none-match", "\"xyz\""), ("if-modified-since", AFTER)], RANGE_OK, "§13.2.2 step 4 skipped with If-None-Match"),
            // --- §13.1.5 If-Range: strong comparison, exact date; decides whether Range applies
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", "\"abc\"")], RANGE_OK, "§13.1.5 strong tag matches"),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", "\"xyz\"")], NO_RANGE, "§13.1.5 other tag → whole body"),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", "W/\"abc\"")], NO_RANGE, "§13.1.5 weak tag never matches"),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", LM)], RANGE_OK, "§13.1.5 date equal to Last-Modified"),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", AFTER)], NO_RANGE, "§13.1.5 date must match exactly (later)"),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", BEFORE)], NO_RANGE, "§13.1.5 date must match exactly (earlier)"),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", "garbage")], NO_RANGE, "§13.1.5 neither tag nor date"),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", "\"abc\", \"abc\"")], NO_RANGE, "§13.1.5 a single tag only"),
            (Method::GET, &[("if-range", "\"xyz\"")], RANGE_OK, "§13.1.5 If-Range without Range is ignored"),
            (Method::HEAD, &[("range", "bytes=0-1"), ("if-range", "\"xyz\"")], NO_RANGE, "§9.3.2 HEAD mirrors GET"),
            (Method::GET, &[("range", "bytes=0-1"), ("if-range", "\"abc\""), ("if-none-match", "\"abc\"")], NotModified, "§13.2.2 304 before If-Range"),
        ];
        for (method, fields, want, why) in cases {
            let got = evaluate(method, &headers(fields), &current());
            assert_eq!(&got, want, "{method} {fields:?}: {why}");
        }
    }

    #[test]
    fn tag_list_parsing() {
        let tags = parse_tag_list("\"a,b\", W/\"c\" ,\"\"").unwrap();
        assert_eq!(
            tags,
            vec![
                EntityTag {
                    weak: false,
                    opaque: "a,b"
                },
                EntityTag {
                    weak: true,
                    opaque: "c"
                },
                EntityTag {
                    weak: false,
                    opaque: ""
                },
            ]
        );
        for bad in ["\"a", "a", "\"a\" \"b\"", "w/\"a\"", "\"a b\""] {
            assert_eq!(parse_tag_list(bad), None, "{bad:?}");
        }
    }
}

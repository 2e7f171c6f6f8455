//! Validators (`ETag`, `Last-Modified`) and the conditional request headers
//! evaluated against them (RFC 9110 §13).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::request::Request;

/// The validators of the representation being answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Validators {
    /// ETag as sent, e.g. `"x"` or `W/"x"`.
    pub(crate) etag: Option<String>,
    /// Last-Modified, truncated to whole seconds.
    pub(crate) last_modified: Option<SystemTime>,
}

/// Outcome of the preconditions other than `If-Range`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Carry on.
    Pass,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    Failed,
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn is_weak(tag: &str) -> bool {
    tag.starts_with("W/")
}

/// Strong comparison: both strong and identical.
fn strong_eq(a: &str, b: &str) -> bool {
    !is_weak(a) && !is_weak(b) && a == b
}

/// Weak comparison: identical opaque tags, ignoring `W/`.
fn weak_eq(a: &str, b: &str) -> bool {
    a.trim_start_matches("W/") == b.trim_start_matches("W/")
}

/// True if an entity-tag list (`*` or `"a", W/"b"`) matches `etag` with `eq`.
fn list_matches(list: &str, etag: Option<&str>, eq: fn(&str, &str) -> bool) -> bool {
    let Some(etag) = etag else { return false };
    if list.trim() == "*" {
        return true;
    }
    list.split(',').map(str::trim).any(|t| eq(t, etag))
}

fn parse_date(value: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(value.trim()).ok()
}

impl Validators {
    /// Validators with `Last-Modified` truncated to whole seconds, as sent.
    pub(crate) fn new(etag: Option<String>, last_modified: Option<SystemTime>) -> Validators {
        Validators {
            etag,
            last_modified: last_modified.map(whole_seconds),
        }
    }

    /// True if `If-Range: value` allows the range to be served: a strong ETag
    /// identical to ours, or a date identical to our `Last-Modified`.
    pub(crate) fn if_range_matches(&self, value: &str) -> bool {
        let value = value.trim();
        if value.starts_with('"') || is_weak(value) {
            return self.etag.as_deref().is_some_and(|e| strong_eq(value, e));
        }
        match (parse_date(value), self.last_modified) {
            (Some(d), Some(lm)) => d == lm,
            _ => false,
        }
    }

    /// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
    /// `If-Modified-Since` in the order of RFC 9110 §13.2.2.
    pub(crate) fn preconditions(&self, req: &Request) -> Precondition {
        let etag = self.etag.as_deref();
        if let Some(v) = req.header("if-match") {
            if !list_matches(v, etag, strong_eq) {
                return Precondition::Failed;
            }
        } else if let (Some(v), Some(lm)) = (req.header("if-unmodified-since"), self.last_modified)
            && parse_date(v).is_some_and(|d| lm > d)
        {
            return Precondition::Failed;
        }
        if let Some(v) = req.header("if-none-match") {
            if list_matches(v, etag, weak_eq) {
                return Precondition::NotModified;
            }
        } else if let (Some(v), Some(lm)) = (req.header("if-modified-since"), self.last_modified)
            && parse_date(v).is_some_and(|d| lm <= d)
        {
            return Precondition::NotModified;
        }
        Precondition::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_head;

    fn lm() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    #[test]
    fn if_range() {
        let v = Validators::new(
            Some("\"abc\"".into()),
            Some(lm() + Duration::from_millis(300)),
        );
        let date = httpdate::fmt_http_date(lm());
        let earlier = httpdate::fmt_http_date(lm() - Duration::from_secs(1));
        let cases: &[(&str, bool)] = &[
            ("\"abc\"", true),
            (" \"abc\" ", true),
            ("\"abd\"", false),
            ("W/\"abc\"", false),
            (&date, true),
            (&earlier, false),
            ("garbage", false),
        ];
        for (value, want) in cases {
            assert_eq!(v.if_range_matches(value), *want, "{value:?}");
        }
        let weak = Validators::new(Some("W/\"abc\"".into()), None);
        assert!(!weak.if_range_matches("W/\"abc\""));
        assert!(!weak.if_range_matches(&date));
        assert!(!Validators::default().if_range_matches("\"abc\""));
    }

    #[test]
    fn preconditions() {
        let v = Validators::new(Some("\"abc\"".into()), Some(lm()));
        let date = httpdate::fmt_http_date(lm());
        let earlier = httpdate::fmt_http_date(lm() - Duration::from_secs(10));
        let cases: Vec<(String, Precondition)> = vec![
            (String::new(), Precondition::Pass),
            ("If-Match: \"abc\"".into(), Precondition::Pass),
            ("If-Match: *".into(), Precondition::Pass),
            ("If-Match: \"x\", \"abc\"".into(), Precondition::Pass),
            ("If-Match: \"x\"".into(), Precondition::Failed),
            ("If-Match: W/\"abc\"".into(), Precondition::Failed),
            (format!("If-Unmodified-Since: {date}"), Precondition::Pass),
            (
                format!("If-Unmodified-Since: {earlier}"),
                Precondition::Failed,
            ),
            ("If-None-Match: W/\"abc\"".into(), Precondition::NotModified),
            ("If-None-Match: \"x\"".into(), Precondition::Pass),
            (
                format!("If-Modified-Since: {date}"),
                Precondition::NotModified,
            ),
            (format!("If-Modified-Since: {earlier}"), Precondition::Pass),
            (
                format!("If-None-Match: \"x\"\r\nIf-Modified-Since: {date}"),
                Precondition::Pass,
            ),
        ];
        for (headers, want) in cases {
            let head = format!("GET / HTTP/1.1\r\nHost: x\r\n{headers}\r\n\r\n");
            let head = head.replace("\r\n\r\n\r\n", "\r\n\r\n");
            let req = parse_head(head.as_bytes()).expect("parses");
            assert_eq!(v.preconditions(&req), want, "{headers:?}");
        }
    }
}

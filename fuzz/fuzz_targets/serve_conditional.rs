//! durl serve's conditional requests (RFC 9110 §13.2.2): checked against facts that hold
//! whatever else the request says.
#![no_main]

use std::time::Duration;

use durl_serve::conditional::{self, Precondition};
use durl_serve::validators::Validators;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use libfuzzer_sys::fuzz_target;

const FIELDS: [&str; 6] = [
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "if-range",
    "range",
];

fuzz_target!(|input: (u8, u32, u64, Vec<(u8, u8, &str)>)| {
    let (method, mtime, len, fields) = input;
    // At least 1 s after the epoch, so that one second earlier is still a date.
    let current = Validators::new(len, i64::from(mtime.max(1)), 0, 7);
    let etag = current.etag();
    let date = current.last_modified_header();
    let earlier = httpdate::fmt_http_date(current.last_modified - Duration::from_secs(1));
    let method = match method % 4 {
        0 => Method::GET,
        1 => Method::HEAD,
        2 => Method::PUT,
        _ => Method::DELETE,
    };
    let mut headers = HeaderMap::new();
    for (field, kind, text) in fields.iter().take(8) {
        // Values that matter (this file's tag and date, weak and strong) mixed with noise.
        let value = match kind % 8 {
            0 => etag.clone(),
            1 => format!("W/{etag}"),
            2 => "*".to_owned(),
            3 => date.clone(),
            4 => earlier.clone(),
            5 => format!("{etag}, {text}"),
            6 => "bytes=0-0".to_owned(),
            _ => (*text).to_owned(),
        };
        let Ok(value) = HeaderValue::from_str(&value) else {
            continue;
        };
        let name = HeaderName::from_static(FIELDS[usize::from(*field) % FIELDS.len()]);
        headers.append(name, value);
    }
    let got = conditional::evaluate(&method, &headers, &current);
    let get_or_head = method == Method::GET || method == Method::HEAD;
    let has = |n: &str| headers.contains_key(n);
    let only = |n: &str, v: &str| {
        let mut all = headers.get_all(n).iter();
        all.next().is_some_and(|x| x == v) && all.next().is_none()
    };
    // 304 only for GET and HEAD (§13.1.2, §13.1.3).
    if got == Precondition::NotModified {
        assert!(get_or_head && (has("if-none-match") || has("if-modified-since")));
    }
    // 412 needs a precondition that can fail.
    if got == Precondition::Failed {
        assert!(has("if-match") || has("if-unmodified-since") || has("if-none-match"));
    }
    // No condition at all: the plain answer, ranges honoured.
    if [
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "if-range",
    ]
    .iter()
    .all(|n| !has(n))
    {
        assert_eq!(got, Precondition::Proceed { use_range: true });
    }
    // If-Match with this file's strong tag, or *, passes step 1; If-None-Match with it (weak
    // comparison) or * fails step 3.
    let step1_passes = only("if-match", &etag) || only("if-match", "*");
    if step1_passes && !has("if-none-match") && !has("if-modified-since") && !has("if-range") {
        assert!(matches!(got, Precondition::Proceed { .. }), "{headers:?}");
    }
    let inm_fails = only("if-none-match", &etag)
        || only("if-none-match", &format!("W/{etag}"))
        || only("if-none-match", "*");
    if inm_fails && !has("if-match") && !has("if-unmodified-since") {
        let want = if get_or_head {
            Precondition::NotModified
        } else {
            Precondition::Failed
        };
        assert_eq!(got, want, "{headers:?}");
    }
    // If-Unmodified-Since at or after the file's date passes; before it fails (without
    // If-Match, §13.1.4).
    if !has("if-match") && !has("if-none-match") && !has("if-modified-since") {
        if only("if-unmodified-since", &earlier) {
            assert_eq!(got, Precondition::Failed, "{headers:?}");
        }
        if only("if-unmodified-since", &date) && !has("if-range") {
            assert_eq!(got, Precondition::Proceed { use_range: true });
        }
    }
    // If-Range (§13.1.5): only a strong match of this file's tag, or its exact date, keeps
    // the range; a weak tag never does.
    if get_or_head
        && has("range")
        && got != Precondition::NotModified
        && got != Precondition::Failed
    {
        if only("if-range", &format!("W/{etag}")) || only("if-range", &earlier) {
            assert_eq!(
                got,
                Precondition::Proceed { use_range: false },
                "{headers:?}"
            );
        }
        if only("if-range", &etag) || only("if-range", &date) {
            assert_eq!(
                got,
                Precondition::Proceed { use_range: true },
                "{headers:?}"
            );
        }
    }
});

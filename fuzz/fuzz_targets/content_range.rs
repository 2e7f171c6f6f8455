//! The client's `Content-Range` parser (RFC 9110 §14.4): what it accepts is a non-empty range
//! inside the complete length, and formatting it again gives a value that parses the same.
#![no_main]

use durl_fetch::fuzzing::content_range::{self, ContentRange};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|value: &str| {
    let Some(parsed) = content_range::parse(value) else {
        return;
    };
    let again = match &parsed {
        ContentRange::Satisfied { range, complete } => {
            assert!(range.start < range.end, "{value:?}: empty {range:?}");
            if let Some(c) = complete {
                assert!(range.end <= *c, "{value:?}: {range:?} past {c}");
            }
            let c = complete.map_or("*".to_owned(), |c| c.to_string());
            // The Range request durl would send for it names the same bytes.
            let asked = content_range::range_header(range);
            assert_eq!(asked, format!("bytes={}-{}", range.start, range.end - 1));
            format!("bytes {}-{}/{c}", range.start, range.end - 1)
        }
        ContentRange::Unsatisfied { complete } => format!("bytes */{complete}"),
    };
    assert_eq!(
        content_range::parse(&again),
        Some(parsed),
        "{value:?} -> {again:?}"
    );
});

//! durl serve's `Range` parser and evaluator (RFC 9110 §14) against a naive model: every
//! part lies inside the file, parts are disjoint and non-empty, every satisfiable spec is
//! covered, nothing is served that no spec asked for beyond the coalescing gap, and the
//! `Content-Range` the server writes reads back (through the client's parser) as that part.
#![no_main]

use durl_fetch::fuzzing::content_range::{self, ContentRange};
use durl_serve::range::{self, COALESCE_GAP, MAX_PARTS, MAX_SPECS, RangeOutcome};
use libfuzzer_sys::fuzz_target;

/// The specs as the RFC reads them, half-open against `len`; `None` when the field is
/// ignored (unknown unit, bad syntax, an invalid spec, too many specs).
fn model(value: &[u8], len: u64) -> Option<Vec<Option<std::ops::Range<u64>>>> {
    let text = std::str::from_utf8(value).ok()?;
    let (unit, set) = text.split_once('=')?;
    if !unit.eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut out = Vec::new();
    for element in set.split(',') {
        // As the server does: any ASCII whitespace before (only OWS can arrive over HTTP), OWS
        // after.
        let element = element.trim_ascii_start().trim_end_matches([' ', '\t']);
        if element.is_empty() {
            continue;
        }
        if out.len() == MAX_SPECS {
            return None;
        }
        let (first, last) = element.split_once('-')?;
        let num = |s: &str| -> Option<u128> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u128>().unwrap_or(u128::MAX))
        };
        let len = u128::from(len);
        let spec = if first.is_empty() {
            let n = num(last)?;
            (n > 0 && len > 0).then(|| (len.saturating_sub(n))..len)
        } else {
            // last < first makes the field invalid (RFC 9110 §14.1.1), compared as the
            // numbers are written: two positions past u128::MAX must not compare equal (found
            // by this target: the model's own saturation hid `100…0-655…0` with 53 vs 39 digits).
            let written = |s: &str| {
                let s = s.trim_start_matches('0');
                (s.len(), s.to_owned())
            };
            let below = !last.is_empty() && written(last) < written(first);
            let first = num(first)?;
            let last = if last.is_empty() {
                None
            } else {
                Some(num(last)?)
            };
            if below {
                return None;
            }
            (first < len).then(|| first..last.map_or(len, |l| l.min(len - 1) + 1))
        };
        out.push(spec.map(|r| r.start as u64..r.end as u64));
    }
    (!out.is_empty()).then_some(out)
}

fuzz_target!(|input: (u64, &[u8])| {
    let (len, value) = input;
    // Small files hit the edges; keep a few huge ones too.
    let len = if len & 1 == 0 {
        (len >> 1) % 4096
    } else {
        len >> 1
    };
    let outcome = range::evaluate(value, len);
    let specs = model(value, len);
    match &outcome {
        RangeOutcome::Ignore => {
            // Ignored: the field is invalid, a zero-length file with a suffix, or too many
            // parts after coalescing.
            if let Some(specs) = &specs
                && len > 0
            {
                assert!(
                    specs.iter().any(Option::is_some),
                    "a valid field with nothing satisfiable must be 416: {outcome:?}"
                );
            }
        }
        RangeOutcome::Unsatisfiable => {
            let specs = specs.expect("416 for a field the model ignores");
            assert!(specs.iter().all(Option::is_none), "416 although {specs:?}");
        }
        RangeOutcome::Satisfiable(parts) => {
            let specs = specs.expect("206 for a field the model ignores");
            assert!(len > 0 && !parts.is_empty() && parts.len() <= MAX_PARTS);
            for p in parts {
                assert!(p.start < p.end && p.end <= len, "{p:?} outside 0..{len}");
                let header = range::content_range(p, len);
                assert_eq!(
                    content_range::parse(&header),
                    Some(ContentRange::Satisfied {
                        range: p.clone(),
                        complete: Some(len)
                    }),
                    "{header}"
                );
            }
            let mut sorted = parts.clone();
            sorted.sort_by_key(|r| r.start);
            for w in sorted.windows(2) {
                assert!(
                    w[0].end.saturating_add(COALESCE_GAP) <= w[1].start,
                    "parts overlap or are not coalesced: {parts:?}"
                );
            }
            let asked: Vec<_> = specs.into_iter().flatten().collect();
            for a in &asked {
                assert!(
                    parts.iter().any(|p| p.start <= a.start && a.end <= p.end),
                    "{a:?} not served in {parts:?}"
                );
            }
            for p in parts {
                assert!(asked.iter().any(|a| a.start == p.start));
                assert!(asked.iter().any(|a| a.end == p.end));
            }
        }
    }
});

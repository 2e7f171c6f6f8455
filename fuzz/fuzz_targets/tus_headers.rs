//! The tus header parsers, server and client: `Upload-Offset`/`Upload-Length` (both sides
//! agree on every value, and a number reads back as itself), `Upload-Metadata` (pairs survive
//! a re-encoding; the file name is sanitised), `Upload-Checksum` (a digest of the
//! algorithm's length, re-encodable).
#![no_main]

use base64::Engine as _;
use durl_serve::fuzzing;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

/// Padding optional, as the server reads it (tus clients send it both ways).
const B64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

fn headers(name: &'static str, values: &[&[u8]]) -> Option<HeaderMap> {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(name, HeaderValue::from_bytes(v).ok()?);
    }
    Some(h)
}

fn integers(a: &[u8], b: &[u8], n: u64) {
    // One field line: server and client read the same number (or both refuse it), and
    // it is the decimal the value spells.
    if let Some(h) = headers("upload-offset", &[a]) {
        let server = fuzzing::integer_field(&h, "upload-offset");
        let client = durl_fetch::fuzzing::tus_number(&[a]);
        assert_eq!(server.ok().flatten(), client, "{a:?}");
        assert_eq!(fuzzing::non_negative(a), client, "{a:?}");
        if let Some(v) = client {
            let digits = std::str::from_utf8(a).unwrap().trim_matches([' ', '\t']);
            assert_eq!(
                digits.trim_start_matches('0').parse::<u64>().unwrap_or(0),
                v
            );
        }
    }
    // Two field lines: both refuse.
    if let Some(h) = headers("upload-offset", &[a, b]) {
        assert!(fuzzing::integer_field(&h, "upload-offset").is_err());
        assert_eq!(durl_fetch::fuzzing::tus_number(&[a, b]), None);
    }
    assert_eq!(fuzzing::non_negative(n.to_string().as_bytes()), Some(n));
    assert_eq!(
        durl_fetch::fuzzing::tus_number(&[n.to_string().as_bytes()]),
        Some(n)
    );
    // Creation: exactly one of Upload-Length and Upload-Defer-Length: 1.
    let mut h = headers("upload-length", &[a]).unwrap_or_default();
    if let Ok(v) = HeaderValue::from_bytes(b) {
        h.insert("upload-defer-length", v);
    }
    match fuzzing::creation_length(&h) {
        Ok(Some(len)) => {
            assert!(!h.contains_key("upload-defer-length"));
            assert_eq!(Some(len), fuzzing::non_negative(a));
        }
        Ok(None) => {
            assert!(!h.contains_key("upload-length"));
            assert_eq!(b.trim_ascii(), b"1");
        }
        Err(_) => {}
    }
}

fn metadata(value: &[u8]) {
    let keys = ["filename", "name", "filetype"];
    let Ok(parsed) = fuzzing::metadata(value, &keys) else {
        return;
    };
    // What is stored and echoed is visible ASCII and spaces only.
    assert!(
        parsed
            .raw
            .bytes()
            .all(|b| b == b' ' || b.is_ascii_graphic())
    );
    // Encoding the pairs again gives the same pairs.
    let pairs: Vec<String> = parsed
        .raw
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let p = p.trim();
            let (k, v) = p.split_once(' ').unwrap_or((p, ""));
            let decoded = B64.decode(v).expect("accepted value is base64");
            if decoded.is_empty() {
                k.to_owned()
            } else {
                format!("{k} {}", B64.encode(decoded))
            }
        })
        .collect();
    let again = fuzzing::metadata(pairs.join(",").as_bytes(), &keys).expect("re-encoded");
    assert_eq!(again.values, parsed.values, "{value:?}");
    if let Some(name) = &parsed.file_name {
        assert!(!name.is_empty() && name != "." && name != "..");
        assert!(!name.contains(['/', '\\', '\0']) && !name.starts_with('.'));
        assert!(
            !name
                .chars()
                .any(|c| c.is_control() || durl_fetch::fuzzing::filename::is_bidi_control(c))
        );
        assert!(name.len() <= 255);
        assert_eq!(
            fuzzing::sanitize_upload_name(name).as_deref(),
            Some(name.as_str())
        );
    }
}

fn checksum(value: &[u8]) {
    let Some(h) = headers("upload-checksum", &[value]) else {
        return;
    };
    let Ok(Some((algorithm, digest))) = fuzzing::checksum(&h) else {
        return;
    };
    let want = match algorithm {
        "sha1" => 20,
        "crc32c" => 4,
        _ => 32,
    };
    assert_eq!(digest.len(), want, "{value:?}");
    let again = format!("{algorithm} {}", B64.encode(&digest));
    let h = headers("upload-checksum", &[again.as_bytes()]).unwrap();
    assert_eq!(fuzzing::checksum(&h), Ok(Some((algorithm, digest))));
}

fuzz_target!(|input: (u8, u64, &[u8], &[u8])| {
    let (which, n, a, b) = input;
    match which % 3 {
        0 => integers(a, b, n),
        1 => metadata(a),
        _ => checksum(a),
    }
});

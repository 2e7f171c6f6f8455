//! Choosing a safe local file name from `Content-Disposition` (RFC 6266, with RFC 8187
//! `filename*`) or from the URL.
//!
//! A server-supplied name can never write outside the target directory: any directory part is
//! stripped, and names that are empty, `.`/`..`, or hold NUL or control characters are refused.

use percent_encoding::percent_decode_str;
use url::Url;

/// The longest name we produce, in bytes (the common file-system limit).
const MAX_NAME_BYTES: usize = 255;

/// Picks the file name for a download: the `Content-Disposition` name if it is present and
/// safe, else the last segment of the URL path (percent-decoded), else `index.html`.
pub fn choose(content_disposition: Option<&str>, url: &Url) -> String {
    content_disposition
        .and_then(disposition_filename)
        .and_then(|n| sanitize(&n))
        .or_else(|| url_filename(url))
        .unwrap_or_else(|| "index.html".to_owned())
}

/// The last segment of the URL path, percent-decoded and sanitised; `None` when the path ends
/// in `/` (a directory, which wget and curl also name `index.html`).
pub fn url_filename(url: &Url) -> Option<String> {
    let segment = url.path_segments()?.next_back()?;
    let decoded = percent_decode_str(segment).decode_utf8_lossy();
    sanitize(&decoded)
}

/// Extracts the file name from a `Content-Disposition` value. `filename*` (RFC 8187
/// ext-value, RFC 6266 §4.3) takes precedence over `filename`.
pub fn disposition_filename(value: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for (name, val) in params(value) {
        match name.to_ascii_lowercase().as_str() {
            "filename*" => extended = extended.or_else(|| decode_ext_value(&val)),
            "filename" => plain = plain.or(Some(val)),
            _ => {}
        }
    }
    extended.or(plain)
}

/// Splits `type; a=b; c="d; e"` into parameters, honouring quoted-strings (RFC 9110 §5.6.4).
fn params(value: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = value.chars().peekable();
    // Skip the disposition type.
    for c in chars.by_ref() {
        if c == ';' {
            break;
        }
    }
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ';') {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ';' {
                break;
            }
            name.push(c);
            chars.next();
        }
        if chars.peek().is_none() && name.trim().is_empty() {
            return out;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(escaped) = chars.next() {
                                val.push(escaped);
                            }
                        }
                        '"' => break,
                        c => val.push(c),
                    }
                }
                // Skip anything up to the next parameter.
                while chars.peek().is_some_and(|c| *c != ';') {
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ';' {
                        break;
                    }
                    val.push(c);
                    chars.next();
                }
                val = val.trim().to_owned();
            }
        }
        out.push((name.trim().to_owned(), val));
        if chars.peek().is_none() {
            return out;
        }
    }
}

/// Decodes an RFC 8187 §3.2 ext-value: `charset'[language]'pct-encoded`. UTF-8 and ISO-8859-1
/// are understood; anything else is refused.
fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?.to_ascii_lowercase();
    let _language = parts.next()?;
    let encoded = parts.next()?;
    let bytes: Vec<u8> = percent_decode_str(encoded).collect();
    match charset.as_str() {
        "utf-8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

/// Turns an untrusted name into a plain file name, or refuses it.
///
/// Any directory part (`/` or `\`) is dropped; `.`, `..`, empty names and names holding NUL or
/// control characters are refused; a leading dot is replaced by `_` so that a server cannot
/// plant a hidden file; the result is cut to 255 bytes on a character boundary.
pub fn sanitize(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty() || base == "." || base == ".." || base.chars().any(char::is_control) {
        return None;
    }
    let mut out = String::with_capacity(base.len());
    for (i, c) in base.chars().enumerate() {
        let c = if i == 0 && c == '.' { '_' } else { c };
        if out.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_filenames_per_rfc_6266() {
        let table: &[(&str, Option<&str>)] = &[
            ("attachment; filename=\"report.pdf\"", Some("report.pdf")),
            ("attachment; filename=plain.txt", Some("plain.txt")),
            ("attachment;filename=\"a;b.txt\"", Some("a;b.txt")),
            (
                "attachment; filename=\"quo\\\"te.txt\"",
                Some("quo\"te.txt"),
            ),
            // RFC 6266 §5: filename* wins whatever the order
            (
                "attachment; filename*=UTF-8''%e2%82%ac%20rates.txt; filename=\"EUR rates.txt\"",
                Some("€ rates.txt"),
            ),
            (
                "attachment; filename=\"EUR rates.txt\"; filename*=utf-8''%e2%82%ac%20rates.txt",
                Some("€ rates.txt"),
            ),
            (
                "attachment; filename*=iso-8859-1'en'%A3%20rates.txt",
                Some("£ rates.txt"),
            ),
            // an unknown charset in filename* falls back to filename
            (
                "attachment; filename*=koi8-r''%C1; filename=\"x.bin\"",
                Some("x.bin"),
            ),
            ("inline", None),
            ("attachment; size=10", None),
        ];
        for (value, want) in table {
            assert_eq!(
                disposition_filename(value).as_deref(),
                *want,
                "value {value:?}"
            );
        }
    }

    #[test]
    fn sanitize_refuses_traversal_and_control_characters() {
        let table: &[(&str, Option<&str>)] = &[
            ("file.iso", Some("file.iso")),
            ("../../etc/passwd", Some("passwd")),
            ("/etc/passwd", Some("passwd")),
            ("..\\..\\windows\\system.ini", Some("system.ini")),
            ("dir/..", None),
            ("..", None),
            (".", None),
            ("", None),
            ("   ", None),
            ("a\0b", None),
            ("line\nbreak", None),
            ("bell\u{7}", None),
            (".bashrc", Some("_bashrc")),
            ("C:\\evil.exe", Some("evil.exe")),
            ("ünïcødé.txt", Some("ünïcødé.txt")),
        ];
        for (input, want) in table {
            assert_eq!(sanitize(input).as_deref(), *want, "input {input:?}");
        }
        let long = "é".repeat(200);
        let cut = sanitize(&long).unwrap();
        assert!(cut.len() <= MAX_NAME_BYTES && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn choose_falls_back_from_header_to_url_to_index() {
        let url = Url::parse("http://h/dir/some%20file.tar.gz?x=1").unwrap();
        assert_eq!(
            choose(Some("attachment; filename=\"r.bin\""), &url),
            "r.bin"
        );
        assert_eq!(
            choose(Some("attachment; filename=\"..\""), &url),
            "some file.tar.gz"
        );
        assert_eq!(choose(None, &url), "some file.tar.gz");
        assert_eq!(
            choose(None, &Url::parse("http://h/dir/").unwrap()),
            "index.html"
        );
        assert_eq!(
            choose(None, &Url::parse("http://h/").unwrap()),
            "index.html"
        );
        assert_eq!(
            choose(None, &Url::parse("http://h/a%2F..%2Fb").unwrap()),
            "b"
        );
        assert_eq!(
            choose(None, &Url::parse("http://h/%2e%2e").unwrap()),
            "index.html"
        );
    }
}

//! Choosing a safe local file name, for every protocol: from the name the remote suggests
//! (HTTP `Content-Disposition`, RFC 6266, with RFC 8187 `filename*`) or from the URL.
//!
//! A server-supplied name can never write outside the target directory: any directory part is
//! stripped, and names that are empty, `.`/`..`, or hold NUL, control or bidi control
//! characters are refused.

use percent_encoding::percent_decode_str;
use url::Url;

/// The longest suffix durl appends to a name it chose: the state file's temporary
/// (`<out>` + `.durl-state` + the `.tmp` of `durable::replace`).
const LONGEST_SUFFIX: &str = ".durl-state.tmp";

/// The longest name we produce, in bytes: the common file-system limit (255) less the
/// longest suffix, so that every file durl makes beside the output can be created.
const MAX_NAME_BYTES: usize = 255 - LONGEST_SUFFIX.len();

/// The longest extension kept whole when a name is cut.
const MAX_EXTENSION_BYTES: usize = 16;

/// The name a download of `url` gets in a directory when the server suggests none: the
/// URL's last path segment, made safe (the same rule as a download itself uses).
pub fn file_name_for(url: &Url) -> String {
    choose(None, url)
}

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
/// Any directory part (`/` or `\`) is dropped; `.`, `..`, empty names and names holding NUL,
/// control characters or bidi controls (which make `\u{202E}txt.exe` read `exe.txt`) are
/// refused; a leading dot is replaced by `_` so that a server cannot plant a hidden file; a
/// long name is cut on a character boundary to 255 bytes less the longest suffix durl adds,
/// keeping its extension.
pub fn sanitize(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    if base.is_empty()
        || base == "."
        || base == ".."
        || base.chars().any(|c| c.is_control() || is_bidi_control(c))
    {
        return None;
    }
    let mut out = String::with_capacity(base.len());
    if let Some(rest) = base.strip_prefix('.') {
        out.push('_');
        out.push_str(rest);
    } else {
        out.push_str(base);
    }
    // A cut can end on a space, which sanitising again would trim: end on a visible character.
    Some(cut(out, MAX_NAME_BYTES).trim_end().to_owned())
}

/// The Unicode bidirectional formatting characters (Unicode Standard Annex #9 §2): the
/// embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069 and the marks
/// U+200E, U+200F and U+061C. None belongs in a file name; all can disguise one.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// `name` cut to at most `max` bytes on a character boundary; an extension of up to
/// [`MAX_EXTENSION_BYTES`] (`.iso`, or `.tar.gz` whole) is kept and the stem shortened.
fn cut(name: String, max: usize) -> String {
    if name.len() <= max {
        return name;
    }
    let ext_start = name
        .rfind('.')
        .filter(|&i| i > 0 && name.len() - i <= MAX_EXTENSION_BYTES)
        .map(|i| match name[..i].strip_suffix(".tar") {
            Some(stem) if !stem.is_empty() => stem.len(),
            _ => i,
        })
        .filter(|&i| name.len() - i <= MAX_EXTENSION_BYTES)
        .unwrap_or(name.len());
    let (stem, ext) = name.split_at(ext_start);
    let stem = &stem[..stem.floor_char_boundary(max - ext.len())];
    format!("{stem}{ext}")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

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
            // Bidi controls make `\u{202E}txt.exe` show as `exe.txt` (issue 13, item 9).
            ("\u{202E}txt.exe", None),
            ("a\u{202A}b", None),
            ("a\u{202B}b", None),
            ("a\u{202C}b", None),
            ("a\u{202D}b", None),
            ("a\u{2066}b", None),
            ("a\u{2067}b", None),
            ("a\u{2068}b", None),
            ("a\u{2069}b", None),
            ("a\u{200F}b", None),
            ("a\u{061C}b", None),
        ];
        for (input, want) in table {
            assert_eq!(sanitize(input).as_deref(), *want, "input {input:?}");
        }
        let long = "é".repeat(200);
        let cut = sanitize(&long).unwrap();
        assert!(cut.len() <= MAX_NAME_BYTES && cut.chars().all(|c| c == 'é'));
    }

    #[test]
    fn long_names_leave_room_for_every_suffix_and_keep_the_extension() {
        // Issue 13, item 12: a name the file system takes must still take `.durl-state.tmp`.
        for len in [230, 240, 241, 250, 255, 300] {
            let name = format!("{}.iso", "a".repeat(len));
            let cut = sanitize(&name).unwrap();
            let state_tmp = crate::store::durable::sibling(
                &crate::store::durable::sibling(Path::new(&cut), ".durl-state"),
                ".tmp",
            );
            let part = crate::store::durable::sibling(Path::new(&cut), ".durl-part");
            for p in [&state_tmp, &part] {
                let n = p.file_name().unwrap().len();
                assert!(n <= 255, "{len}: {n} bytes");
            }
            assert!(cut.ends_with(".iso"), "{len}: {cut}");
            if len + 4 <= MAX_NAME_BYTES {
                assert_eq!(cut, name);
            }
        }
        let cut = sanitize(&format!("{}.tar.gz", "b".repeat(250))).unwrap();
        assert!(
            cut.ends_with("b.tar.gz") && cut.len() == MAX_NAME_BYTES,
            "{cut}"
        );
        // Multi-byte characters are cut on a character boundary, before the extension.
        let cut = sanitize(&format!("{}.txt", "é".repeat(200))).unwrap();
        assert!(
            cut.len() <= MAX_NAME_BYTES && cut.ends_with("é.txt"),
            "{cut}"
        );
        // No extension worth keeping: a plain cut.
        let cut = sanitize(&"x".repeat(300)).unwrap();
        assert_eq!(cut, "x".repeat(MAX_NAME_BYTES));
        let long_ext = format!("a.{}", "e".repeat(300));
        assert_eq!(sanitize(&long_ext).unwrap().len(), MAX_NAME_BYTES);
        // Found by fuzz/content_disposition: a cut that ends on a space left it there, and
        // sanitising the result again gave another name.
        let spaced = format!("{} {}", "s".repeat(MAX_NAME_BYTES - 1), "t".repeat(20));
        let cut = sanitize(&spaced).unwrap();
        assert_eq!(cut, "s".repeat(MAX_NAME_BYTES - 1));
        assert_eq!(sanitize(&cut), Some(cut));
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

//! The `-i/--input-file` list format (aria2c's input-file style):
//!
//! ```text
//! # comments and blank lines are skipped
//! https://example.com/a.iso<TAB>https://mirror.example.org/a.iso
//!   out=debian.iso
//!   dir=isos
//!   checksum=sha-256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//! https://example.com/b.tar.gz
//! ```
//!
//! One entry per URL line; several URLs on one line, separated by tabs, are mirrors of the
//! same file; indented `key=value` lines under an entry set its options. Any malformed line
//! is reported with its line number before anything is downloaded.

use std::path::PathBuf;

use durl_fetch::Checksum;

/// One file to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The URL and its mirrors (the first is the primary).
    pub urls: Vec<String>,
    /// `out=`: the file name.
    pub out: Option<PathBuf>,
    /// `dir=`: the directory (relative to `-d`).
    pub dir: Option<PathBuf>,
    /// `checksum=ALGO=HEX`.
    pub checksum: Option<Checksum>,
    /// Where the entry starts in its file (1-based), for messages.
    pub line: usize,
}

/// The text of the list at `path`, or of standard input for `-`.
pub fn read(path: &std::path::Path) -> Result<String, crate::exit::UsageError> {
    if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(path)
    }
    .map_err(|e| crate::exit::UsageError(format!("cannot read the list {}: {e}", path.display())))
}

/// A syntax error, with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

impl Entry {
    /// An entry for a URL given on the command line.
    pub fn url(url: &str) -> Entry {
        Entry {
            urls: vec![url.to_owned()],
            out: None,
            dir: None,
            checksum: None,
            line: 0,
        }
    }
}

/// Parses a whole list.
///
/// # Errors
/// The first malformed line.
pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let mut entries: Vec<Entry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| ParseError { line, message };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            let entry = entries
                .last_mut()
                .ok_or_else(|| err("an option line comes before any URL".into()))?;
            let (key, value) = trimmed
                .split_once('=')
                .ok_or_else(|| err(format!("expected key=value, found {trimmed:?}")))?;
            let value = value.trim();
            if value.is_empty() {
                return Err(err(format!("{key}= needs a value")));
            }
            match key.trim() {
                "out" => {
                    let path = PathBuf::from(value);
                    if path.is_absolute()
                        || path
                            .components()
                            .any(|c| matches!(c, std::path::Component::ParentDir))
                    {
                        return Err(err(format!("out={value} must be a plain relative name")));
                    }
                    entry.out = Some(path);
                }
                "dir" => entry.dir = Some(PathBuf::from(value)),
                "checksum" => {
                    entry.checksum = Some(value.parse().map_err(|e| err(format!("{e}")))?);
                }
                other => {
                    return Err(err(format!(
                        "unknown option {other:?} (out, dir, checksum)"
                    )));
                }
            }
            continue;
        }
        let urls: Vec<String> = trimmed
            .split('\t')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        for u in &urls {
            // The URL parser drops CR and LF inside a URL (WHATWG URL "remove all ASCII tab or
            // newline"): a list with old Mac line endings would be one line whose URLs run
            // together into one wrong URL. Found by fuzz/input_list.
            if u.contains(char::is_control) {
                return Err(err(format!(
                    "control character in URL {u:?} (a list needs LF or CRLF line endings)"
                )));
            }
            let parsed = url::Url::parse(u).map_err(|e| err(format!("invalid URL {u:?}: {e}")))?;
            match parsed.scheme() {
                // Mirrors of one file speak one protocol: the engine proves each segment is of
                // the same version with that protocol's validators.
                "http" | "https" | "ftp"
                    if urls.iter().any(|other| is_ftp(other)) != (parsed.scheme() == "ftp") =>
                {
                    return Err(err(format!(
                        "{u:?}: ftp:// and http(s):// URLs cannot be mirrors of one file"
                    )));
                }
                "http" | "https" | "ftp" => {}
                _ => {
                    return Err(err(format!(
                        "unsupported scheme in {u:?} (http, https and ftp)"
                    )));
                }
            }
        }
        entries.push(Entry {
            urls,
            out: None,
            dir: None,
            checksum: None,
            line,
        });
    }
    Ok(entries)
}

/// Whether `url` (as written in the list) is an `ftp://` URL.
fn is_ftp(url: &str) -> bool {
    url.as_bytes()
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"ftp:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_options_and_mirrors() {
        let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let text = format!(
            "# a list\n\nhttp://a/x.iso\thttp://m/x.iso\n  out=y.iso\n\tdir=isos\n  checksum=sha-256={sha}\n\nhttp://b/z\n"
        );
        let entries = parse(&text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].urls, ["http://a/x.iso", "http://m/x.iso"]);
        assert_eq!(entries[0].out, Some(PathBuf::from("y.iso")));
        assert_eq!(entries[0].dir, Some(PathBuf::from("isos")));
        assert_eq!(
            entries[0].checksum.as_ref().unwrap().to_string(),
            format!("sha256={sha}")
        );
        assert_eq!(entries[0].line, 3);
        assert_eq!(
            entries[1],
            Entry {
                line: 8,
                ..Entry::url("http://b/z")
            }
        );
    }

    #[test]
    fn ftp_entries_are_accepted_alone() {
        let entries = parse("ftp://h/pub/f.iso\n  out=f.iso\nhttp://b/z\n").unwrap();
        assert_eq!(entries[0].urls, ["ftp://h/pub/f.iso"]);
        assert_eq!(entries[0].out, Some(PathBuf::from("f.iso")));
        assert_eq!(entries[1].urls, ["http://b/z"]);
    }

    #[test]
    fn ftp_urls_are_mirrors_of_each_other() {
        let entries = parse("ftp://a/f\tFTP://b/f\n").unwrap();
        assert_eq!(entries[0].urls, ["ftp://a/f", "FTP://b/f"]);
    }

    #[test]
    fn errors_name_the_line() {
        let table: &[(&str, usize, &str)] = &[
            ("  out=x\nhttp://a/b\n", 1, "before any URL"),
            ("http://a/b\n  out\n", 2, "key=value"),
            ("http://a/b\n  speed=3\n", 2, "unknown option"),
            ("http://a/b\n  out=\n", 2, "needs a value"),
            ("http://a/b\n  out=../x\n", 2, "plain relative"),
            ("http://a/b\n  out=/etc/x\n", 2, "plain relative"),
            ("http://a/b\n  checksum=sha256=12\n", 2, "invalid checksum"),
            ("# c\nnot a url\n", 2, "invalid URL"),
            ("gopher://a/b\n", 1, "unsupported scheme"),
            ("http://a/b\tftp://m/b\n", 1, "cannot be mirrors"),
            ("ftp://a/b\thttps://m/b\n", 1, "cannot be mirrors"),
            ("http://a/b\thttp://[bad\n", 1, "invalid URL"),
            ("http://a/b\rhttp://a/c\r", 1, "control character in URL"),
        ];
        for (text, line, needle) in table {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e:?}");
            assert!(e.message.contains(needle), "{text:?}: {}", e.message);
        }
    }
}

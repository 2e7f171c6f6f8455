//! The `durl put -i/--input-file` list format, in the style of `durl get`'s lists:
//!
//! ```text
//! # comments and blank lines are skipped
//! videos/day1.mp4
//! videos/day2.mp4
//!   to=ftp://backup.example.org/videos/
//! ```
//!
//! One local file per line (the whole line is the path, so names may hold spaces); an
//! indented `to=URL` line under an entry sends that file there instead of to the URL given
//! on the command line. Any malformed line is reported with its line number before anything
//! is sent.

use std::path::PathBuf;

use crate::input_file::ParseError;

/// One file to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutEntry {
    /// The local file.
    pub local: PathBuf,
    /// `to=`: where it goes, if not to the command line's URL.
    pub to: Option<String>,
    /// Where the entry is in its list (1-based; 0 for the command line), for messages.
    pub line: usize,
}

/// Parses a list.
pub fn parse(text: &str) -> Result<Vec<PutEntry>, ParseError> {
    let mut entries: Vec<PutEntry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let error = |message: String| ParseError { line, message };
        if raw.starts_with([' ', '\t']) {
            let Some(entry) = entries.last_mut() else {
                return Err(error("an option line before any file".into()));
            };
            let (key, value) = trimmed
                .split_once('=')
                .ok_or_else(|| error(format!("expected key=value, not {trimmed:?}")))?;
            match key.trim() {
                "to" if entry.to.is_some() => return Err(error("to= given twice".into())),
                "to" if value.trim().is_empty() => return Err(error("to= needs a URL".into())),
                "to" => entry.to = Some(value.trim().to_owned()),
                other => return Err(error(format!("unknown option {other:?} (only to=)"))),
            }
            continue;
        }
        entries.push(PutEntry {
            local: PathBuf::from(raw.trim_end()),
            to: None,
            line,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(local: &str, to: Option<&str>, line: usize) -> PutEntry {
        PutEntry {
            local: local.into(),
            to: to.map(str::to_owned),
            line,
        }
    }

    #[test]
    fn files_options_comments() {
        let text = "# uploads\n\na.bin\nmy video.mp4  \r\n  to=ftp://h/up/\n\t# note\nc\n";
        assert_eq!(
            parse(text).unwrap(),
            [
                entry("a.bin", None, 3),
                entry("my video.mp4", Some("ftp://h/up/"), 4),
                entry("c", None, 7),
            ]
        );
        assert_eq!(parse("").unwrap(), []);
    }

    #[test]
    fn malformed_lines_name_their_line() {
        let table: &[(&str, usize, &str)] = &[
            ("  to=x\n", 1, "before any file"),
            ("a\n  to\n", 2, "key=value"),
            ("a\n  out=b\n", 2, "unknown option"),
            ("a\n  to=u\n  to=v\n", 3, "twice"),
            ("a\n  to= \n", 2, "needs a URL"),
        ];
        for (text, line, says) in table {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}");
            assert!(e.message.contains(says), "{text:?}: {}", e.message);
        }
    }
}

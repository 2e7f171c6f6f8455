//! The state file (`<out>.durl-state`): what a later run needs to continue a download safely.
//!
//! It is a few lines of text, rewritten whole at every checkpoint (temporary file, fsync,
//! rename, fsync of the directory), so after a crash it is always one complete version. Its one invariant: `have` never
//! claims a byte that was not fsync'd in the part file before the state was written.
//! `have` lists the held byte ranges, half-open (`0-524288` is the first 512 KiB); a
//! single-connection download holds one range, a split one a range per segment.
//!
//! ```text
//! durl-state 2
//! url https://example.com/a.iso
//! final-url https://cdn.example.com/a.iso
//! length 1048576
//! etag "abc"
//! last-modified Tue, 01 Jan 2030 00:00:00 GMT
//! if-range "abc"
//! have 0-524288 1048576-1572864
//! ```
//!
//! Version 1 (which had `durable N` for a prefix instead of `have`) is still read.

use std::fs;
use std::io;
use std::path::Path;

use crate::download::ranges::RangeSet;
use crate::http::validator::Validators;
use crate::store::durable;

/// The current format version. Version 1 is read too; any other version is not trusted.
pub const VERSION: u32 = 2;
const MAGIC: &str = "durl-state";

/// One download's recoverable state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The URL the user asked for.
    pub url: String,
    /// The URL after redirects, where the bytes came from.
    pub final_url: String,
    /// The complete length of the remote file, if the server told it.
    pub length: Option<u64>,
    /// The validators of the version whose bytes are in the part file.
    pub validators: Validators,
    /// The byte ranges of the part file that are fsync'd and belong to that version.
    pub have: RangeSet,
}

/// Why a state file was not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a durl state file, or an unknown version.
    #[error("not a durl state file of version 1 or {VERSION}")]
    Version,
    /// A line is malformed or a required field is missing.
    #[error("malformed state file: {0}")]
    Malformed(&'static str),
}

/// How a URL is written in a state file: without its password (the state file and the mark
/// sit beside the download, readable by whoever can read it). Also what a state's URL is
/// compared with.
pub fn url_key(url: &url::Url) -> String {
    crate::Redacted(url).to_string()
}

impl State {
    /// The state of a download that has nothing yet: no bytes, nothing known about the
    /// remote file.
    pub fn fresh(url: &url::Url) -> State {
        State {
            url: url_key(url),
            final_url: url_key(url),
            length: None,
            validators: Validators::default(),
            have: RangeSet::new(),
        }
    }

    /// How many bytes are held.
    pub fn durable(&self) -> u64 {
        self.have.total()
    }

    /// Encodes the state as text.
    pub fn encode(&self) -> String {
        use std::fmt::Write as _;
        let mut s = format!("{MAGIC} {VERSION}\n");
        let _ = writeln!(s, "url {}", self.url);
        let _ = writeln!(s, "final-url {}", self.final_url);
        match self.length {
            Some(n) => {
                let _ = writeln!(s, "length {n}");
            }
            None => s.push_str("length unknown\n"),
        }
        let v = &self.validators;
        for (key, value) in [
            ("etag", &v.etag),
            ("last-modified", &v.last_modified),
            ("if-range", &v.if_range),
        ] {
            if let Some(value) = value {
                let _ = writeln!(s, "{key} {value}");
            }
        }
        let _ = writeln!(s, "have {}", self.have);
        s
    }

    /// Decodes a state file's text.
    ///
    /// # Errors
    /// [`DecodeError`] when the text is not a complete state of this version.
    pub fn decode(text: &str) -> Result<State, DecodeError> {
        let mut lines = text.lines();
        let version = match lines.next() {
            Some(l) if l == format!("{MAGIC} 1") => 1,
            Some(l) if l == format!("{MAGIC} {VERSION}") => VERSION,
            _ => return Err(DecodeError::Version),
        };
        let (mut url, mut final_url, mut length, mut have) = (None, None, None, None);
        let mut validators = Validators::default();
        for line in lines {
            let (key, value) = line.split_once(' ').ok_or(DecodeError::Malformed("line"))?;
            // durl writes none (URLs and header values hold no controls); a value ending in
            // `\r` would not even read back the same through `lines()`.
            if value.contains(char::is_control) {
                return Err(DecodeError::Malformed("control character"));
            }
            let value = value.to_owned();
            match key {
                "url" => url = Some(value),
                "final-url" => final_url = Some(value),
                "length" => {
                    length = Some(match value.as_str() {
                        "unknown" => None,
                        n => Some(n.parse().map_err(|_| DecodeError::Malformed("length"))?),
                    });
                }
                "etag" => validators.etag = Some(value),
                "last-modified" => validators.last_modified = Some(value),
                "if-range" => validators.if_range = Some(value),
                // Version 1: a durable prefix.
                "durable" if version == 1 => {
                    let n = value
                        .parse()
                        .map_err(|_| DecodeError::Malformed("durable"))?;
                    have = Some(RangeSet::prefix(n));
                }
                "have" if version >= 2 => {
                    have = Some(RangeSet::parse(&value).ok_or(DecodeError::Malformed("have"))?);
                }
                _ => return Err(DecodeError::Malformed("unknown key")),
            }
        }
        let state = State {
            url: url.ok_or(DecodeError::Malformed("url"))?,
            final_url: final_url.ok_or(DecodeError::Malformed("final-url"))?,
            length: length.ok_or(DecodeError::Malformed("length"))?,
            validators,
            have: have.ok_or(DecodeError::Malformed("have"))?,
        };
        if state.length.is_some_and(|len| state.have.end() > len) {
            return Err(DecodeError::Malformed("have beyond length"));
        }
        Ok(state)
    }

    /// Writes the state atomically and durably to `path`.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn store(&self, path: &Path) -> io::Result<()> {
        durable::replace(path, self.encode().as_bytes())
    }

    /// Loads the state at `path`: `Ok(None)` when there is none.
    ///
    /// # Errors
    /// I/O errors other than "not found"; a file that does not decode is reported as
    /// `Ok(Some(Err(..)))` so the caller can say why it starts over.
    pub fn load(path: &Path) -> io::Result<Option<Result<State, DecodeError>>> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(
                String::from_utf8(bytes)
                    .map_err(|_| DecodeError::Malformed("not UTF-8"))
                    .and_then(|t| State::decode(&t)),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        State {
            url: "https://example.com/a b.iso".into(),
            final_url: "https://cdn.example.com/a.iso".into(),
            length: Some(5_000_000_000),
            validators: Validators {
                etag: Some("\"abc def\"".into()),
                last_modified: Some("Tue, 01 Jan 2030 00:00:00 GMT".into()),
                if_range: Some("\"abc def\"".into()),
            },
            have: {
                let mut have = RangeSet::prefix(4_294_967_296);
                have.insert(4_500_000_000..4_600_000_000);
                have
            },
        }
    }

    #[test]
    fn round_trips() {
        let s = sample();
        assert_eq!(State::decode(&s.encode()), Ok(s.clone()));
        let bare = State {
            length: None,
            validators: Validators::default(),
            have: RangeSet::new(),
            ..s
        };
        assert_eq!(State::decode(&bare.encode()), Ok(bare));
    }

    #[test]
    fn refuses_other_versions_and_damage() {
        let text = sample().encode();
        let have = "have 0-4294967296 4500000000-4600000000";
        let table: &[(String, DecodeError)] = &[
            (
                text.replace("durl-state 2", "durl-state 3"),
                DecodeError::Version,
            ),
            (String::new(), DecodeError::Version),
            (
                text.replace(&format!("{have}\n"), ""),
                DecodeError::Malformed("have"),
            ),
            (
                text.replace(have, "have 0-x"),
                DecodeError::Malformed("have"),
            ),
            (
                text.replace(have, "have 10-5"),
                DecodeError::Malformed("have"),
            ),
            (
                text.replace(have, "have 0-6000000000"),
                DecodeError::Malformed("have beyond length"),
            ),
            (
                text.replace(have, "durable 5"),
                DecodeError::Malformed("unknown key"),
            ),
            (
                text.replace("length 5000000000", "length -1"),
                DecodeError::Malformed("length"),
            ),
            (
                format!("{text}bogus line\n"),
                DecodeError::Malformed("unknown key"),
            ),
            (format!("{text}novalue\n"), DecodeError::Malformed("line")),
            // decode(encode(x)) == x needs values without controls: `etag x\r` at the end
            // would come back as `x` once encoded (`lines()` strips `\r\n`, not a bare `\r`).
            (
                format!("{text}etag \"x\"\r"),
                DecodeError::Malformed("control character"),
            ),
            (
                format!("{text}etag a\u{1b}b\n"),
                DecodeError::Malformed("control character"),
            ),
        ];
        for (input, want) in table {
            assert_eq!(State::decode(input).as_ref(), Err(want), "input {input:?}");
        }
        // A truncated file (which durable::replace never leaves) is refused, not half-read.
        let cut = &text[..text.len() / 2];
        assert!(State::decode(cut).is_err());
    }

    #[test]
    fn reads_version_1() {
        let v1 = "durl-state 1\nurl http://h/f\nfinal-url http://h/f\nlength 100\netag \"a\"\ndurable 40\n";
        let state = State::decode(v1).unwrap();
        assert_eq!(state.have, RangeSet::prefix(40));
        assert_eq!(state.validators.etag.as_deref(), Some("\"a\""));
        let bad = v1.replace("durable 40", "have 0-40");
        assert_eq!(
            State::decode(&bad),
            Err(DecodeError::Malformed("unknown key"))
        );
    }

    #[test]
    fn url_key_drops_the_password() {
        let url = url::Url::parse("ftp://bob:s3cret@host/f").unwrap();
        assert_eq!(url_key(&url), "ftp://bob@host/f");
        assert!(!State::fresh(&url).encode().contains("s3cret"));
    }

    #[test]
    fn store_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.durl-state");
        assert_eq!(State::load(&path).unwrap(), None);
        sample().store(&path).unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(Ok(sample())));
        fs::write(&path, b"garbage").unwrap();
        assert_eq!(State::load(&path).unwrap(), Some(Err(DecodeError::Version)));
    }
}

//! The state file (`<out>.durl-state`): what a later run needs to continue a download safely.
//!
//! It is a few lines of text, rewritten whole through [`durable::replace`] at every checkpoint,
//! so after a crash it is always one complete version. Its one invariant: `durable` never
//! exceeds the bytes that were fsync'd in the part file before the state was written.
//!
//! ```text
//! durl-state 1
//! url https://example.com/a.iso
//! final-url https://cdn.example.com/a.iso
//! length 1048576
//! etag "abc"
//! last-modified Tue, 01 Jan 2030 00:00:00 GMT
//! if-range "abc"
//! durable 524288
//! ```

use std::fs;
use std::io;
use std::path::Path;

use crate::durable;
use crate::validator::Validators;

/// The current format version. A file with any other version is not trusted.
pub const VERSION: u32 = 1;
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
    /// Bytes `0..durable` of the part file are fsync'd and belong to that version.
    pub durable: u64,
}

/// Why a state file was not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a durl state file, or an unknown version.
    #[error("not a durl state file of version {VERSION}")]
    Version,
    /// A line is malformed or a required field is missing.
    #[error("malformed state file: {0}")]
    Malformed(&'static str),
}

impl State {
    /// The state of a download that has nothing yet: no bytes, nothing known about the
    /// remote file.
    pub fn fresh(url: &url::Url) -> State {
        State {
            url: url.to_string(),
            final_url: url.to_string(),
            length: None,
            validators: Validators::default(),
            durable: 0,
        }
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
        let _ = writeln!(s, "durable {}", self.durable);
        s
    }

    /// Decodes a state file's text.
    ///
    /// # Errors
    /// [`DecodeError`] when the text is not a complete state of this version.
    pub fn decode(text: &str) -> Result<State, DecodeError> {
        let mut lines = text.lines();
        if lines.next() != Some(&format!("{MAGIC} {VERSION}")) {
            return Err(DecodeError::Version);
        }
        let (mut url, mut final_url, mut length, mut durable) = (None, None, None, None);
        let mut validators = Validators::default();
        for line in lines {
            let (key, value) = line.split_once(' ').ok_or(DecodeError::Malformed("line"))?;
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
                "durable" => {
                    durable = Some(
                        value
                            .parse()
                            .map_err(|_| DecodeError::Malformed("durable"))?,
                    );
                }
                _ => return Err(DecodeError::Malformed("unknown key")),
            }
        }
        let state = State {
            url: url.ok_or(DecodeError::Malformed("url"))?,
            final_url: final_url.ok_or(DecodeError::Malformed("final-url"))?,
            length: length.ok_or(DecodeError::Malformed("length"))?,
            validators,
            durable: durable.ok_or(DecodeError::Malformed("durable"))?,
        };
        if state.length.is_some_and(|len| state.durable > len) {
            return Err(DecodeError::Malformed("durable beyond length"));
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
            durable: 4_294_967_296,
        }
    }

    #[test]
    fn round_trips() {
        let s = sample();
        assert_eq!(State::decode(&s.encode()), Ok(s.clone()));
        let bare = State {
            length: None,
            validators: Validators::default(),
            durable: 0,
            ..s
        };
        assert_eq!(State::decode(&bare.encode()), Ok(bare));
    }

    #[test]
    fn refuses_other_versions_and_damage() {
        let text = sample().encode();
        let table: &[(String, DecodeError)] = &[
            (
                text.replace("durl-state 1", "durl-state 2"),
                DecodeError::Version,
            ),
            (String::new(), DecodeError::Version),
            (
                text.replace("durable 4294967296\n", ""),
                DecodeError::Malformed("durable"),
            ),
            (
                text.replace("durable 4294967296", "durable x"),
                DecodeError::Malformed("durable"),
            ),
            (
                text.replace("durable 4294967296", "durable 6000000000"),
                DecodeError::Malformed("durable beyond length"),
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
        ];
        for (input, want) in table {
            assert_eq!(State::decode(input).as_ref(), Err(want), "input {input:?}");
        }
        // A truncated file (which durable::replace never leaves) is refused, not half-read.
        let cut = &text[..text.len() / 2];
        assert!(State::decode(cut).is_err());
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

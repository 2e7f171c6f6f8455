//! The state file (`<out>.durl-state`): what a later run needs to continue a download safely.
//!
//! It is a few lines of text, rewritten whole at every checkpoint (temporary file, fsync,
//! rename, fsync of the directory), so after a crash it is always one complete version. Its
//! one invariant: `have` never claims a byte that was not fsync'd in the part file before the
//! state was written. `have` lists the held byte ranges, half-open (`0-524288` is the first
//! 512 KiB); a single-connection download holds one range, a split one a range per segment.
//! The `version` lines are the [`Version`] its transport minted, `version NAME VALUE` each.
//!
//! ```text
//! durl-state 3
//! url https://example.com/a.iso
//! final-url https://cdn.example.com/a.iso
//! length 1048576
//! version etag "abc"
//! version last-modified Tue, 01 Jan 2030 00:00:00 GMT
//! version if-range "abc"
//! have 0-524288 1048576-1572864
//! ```
//!
//! Versions 1 and 2, written by earlier releases, are still read: their `etag`,
//! `last-modified` and `if-range` lines become the version's values of those names, except
//! that an `ftp://` download stored its `MDTM` as `last-modified`, which becomes `mdtm`.
//! Version 1 had `durable N` (a prefix) instead of `have`.

use std::fs;
use std::io;
use std::path::Path;

use crate::download::ranges::RangeSet;
use crate::store::durable;
use crate::version::Version;

/// The current format version. Versions 1 and 2 are read too; any other is not trusted.
pub const VERSION: u32 = 3;
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
    /// The version whose bytes are in the part file.
    pub version: Version,
    /// The byte ranges of the part file that are fsync'd and belong to that version.
    pub have: RangeSet,
}

/// Why a state file was not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a durl state file, or an unknown version.
    #[error("not a durl state file of version 1 to {VERSION}")]
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
            version: Version::new(),
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
        for (name, value) in self.version.iter() {
            let _ = writeln!(s, "version {name} {value}");
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
        let format = match lines.next().and_then(|l| l.strip_prefix(MAGIC)) {
            Some(" 1") => 1,
            Some(" 2") => 2,
            Some(" 3") => 3,
            _ => return Err(DecodeError::Version),
        };
        let (mut url, mut final_url, mut length, mut have) = (None, None, None, None);
        let mut version = Version::new();
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
                "version" if format >= 3 => {
                    let (name, value) = value
                        .split_once(' ')
                        .filter(|(name, _)| !name.is_empty())
                        .ok_or(DecodeError::Malformed("version"))?;
                    version.set(name, value.to_owned());
                }
                // Versions 1 and 2: HTTP's validators (FTP's MDTM as `last-modified`).
                "etag" | "last-modified" | "if-range" if format <= 2 => {
                    version.set(key, value);
                }
                // Version 1: a durable prefix.
                "durable" if format == 1 => {
                    let n = value
                        .parse()
                        .map_err(|_| DecodeError::Malformed("durable"))?;
                    have = Some(RangeSet::prefix(n));
                }
                "have" if format >= 2 => {
                    have = Some(RangeSet::parse(&value).ok_or(DecodeError::Malformed("have"))?);
                }
                _ => return Err(DecodeError::Malformed("unknown key")),
            }
        }
        let url = url.ok_or(DecodeError::Malformed("url"))?;
        if format <= 2
            && url.starts_with("ftp:")
            && let Some(mdtm) = version.get("last-modified")
        {
            // Versions 1 and 2 stored an FTP download's MDTM where HTTP keeps Last-Modified.
            version = Version::new().with("mdtm", mdtm);
        }
        let state = State {
            url,
            final_url: final_url.ok_or(DecodeError::Malformed("final-url"))?,
            length: length.ok_or(DecodeError::Malformed("length"))?,
            version,
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

    /// Writes the state atomically but not durably ([`durable::replace_unsynced`]): for a
    /// first state that claims no byte, whose loss in a crash costs nothing.
    ///
    /// # Errors
    /// Any I/O error.
    pub fn store_unsynced(&self, path: &Path) -> io::Result<()> {
        durable::replace_unsynced(path, self.encode().as_bytes())
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
            version: Version::new()
                .with("etag", "\"abc def\"")
                .with("last-modified", "Tue, 01 Jan 2030 00:00:00 GMT")
                .with("if-range", "\"abc def\""),
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
            version: Version::new(),
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
                text.replace("durl-state 3", "durl-state 4"),
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
                format!("{text}version etag \"x\"\r"),
                DecodeError::Malformed("control character"),
            ),
            (
                format!("{text}version etag a\u{1b}b\n"),
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
        assert_eq!(state.version.get("etag"), Some("\"a\""));
        let bad = v1.replace("durable 40", "have 0-40");
        assert_eq!(
            State::decode(&bad),
            Err(DecodeError::Malformed("unknown key"))
        );
    }

    #[test]
    fn reads_version_2_and_writes_version_3() {
        let v2 = "durl-state 2\nurl http://h/f\nfinal-url http://h/f\nlength 100\n\
                  etag \"a\"\nlast-modified Tue, 01 Jan 2030 00:00:00 GMT\nif-range \"a\"\n\
                  have 0-40 60-80\n";
        let state = State::decode(v2).unwrap();
        let want = Version::new()
            .with("etag", "\"a\"")
            .with("last-modified", "Tue, 01 Jan 2030 00:00:00 GMT")
            .with("if-range", "\"a\"");
        assert_eq!(state.version, want);
        assert_eq!(state.have.ranges(), [0..40, 60..80]);
        let v3 = state.encode();
        assert!(v3.starts_with("durl-state 3\n"), "{v3}");
        assert!(v3.contains("\nversion etag \"a\"\n"), "{v3}");
        assert!(v3.contains("\nversion last-modified Tue, 01 Jan 2030 00:00:00 GMT\n"));
        assert_eq!(State::decode(&v3), Ok(state));
        // Version 3 has no bare validator lines; `version` needs a name.
        let bare = v3.replace("version etag", "etag");
        assert_eq!(
            State::decode(&bare),
            Err(DecodeError::Malformed("unknown key"))
        );
        let nameless = format!("{v3}version x\n");
        assert_eq!(
            State::decode(&nameless),
            Err(DecodeError::Malformed("version"))
        );
        // Version 2 has no `version` lines.
        let mixed = format!("{v2}version etag \"b\"\n");
        assert_eq!(
            State::decode(&mixed),
            Err(DecodeError::Malformed("unknown key"))
        );
    }

    #[test]
    fn an_ftp_state_of_versions_1_and_2_keeps_its_mdtm_as_mdtm() {
        for head in ["durl-state 1", "durl-state 2"] {
            let held = if head.ends_with('1') {
                "durable 40"
            } else {
                "have 0-40"
            };
            let old = format!(
                "{head}\nurl ftp://h/f\nfinal-url ftp://h/f\nlength 100\n\
                 last-modified 2030-01-01 00:00:00\n{held}\n"
            );
            let state = State::decode(&old).unwrap();
            assert_eq!(
                state.version,
                Version::new().with("mdtm", "2030-01-01 00:00:00")
            );
            assert_eq!(State::decode(&state.encode()), Ok(state));
        }
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

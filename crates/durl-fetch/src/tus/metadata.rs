//! tus `Upload-Metadata` (Creation › Headers › Upload-Metadata): the pairs a creation sends,
//! `filename` (the local name) first, then the caller's. Pure, with table tests.
//!
//! The spec's rules: "one or more comma-separated key-value pairs", key and value "separated
//! by a space"; the key "MUST NOT contain spaces and commas and MUST NOT be empty", "SHOULD be
//! ASCII"; the value "MUST be Base64 encoded" and "MAY be empty", in which case the space
//! "MAY be left out"; "All keys MUST be unique" (a key given again replaces the earlier
//! value: [`crate::PutRequest::metadata`]).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

/// One pair of `Upload-Metadata` given by the caller, e.g. durl serve's `directory` (where
/// the file lands) and `onconflict` (`refuse`, `keep` or `replace`), or whatever a tusd hook
/// reads. Made from `KEY=VALUE`; the key is checked, the value is any text (sent in base64).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadMetadata {
    key: String,
    value: String,
}

/// Why a `KEY=VALUE` is not a metadata pair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// No `=`.
    #[error("{0:?} is not KEY=VALUE")]
    NoEquals(String),
    /// The key is empty or holds a space, a comma or a character that is not printable ASCII.
    #[error(
        "{0:?} is not a tus metadata key (printable ASCII without spaces or commas, not empty)"
    )]
    BadKey(String),
}

impl UploadMetadata {
    /// The pair `key` = `value`, if `key` is a valid key.
    ///
    /// # Errors
    /// [`MetadataError::BadKey`].
    pub fn new(key: &str, value: &str) -> Result<Self, MetadataError> {
        // Creation › Upload-Metadata: not empty, no spaces or commas; ASCII (SHOULD), and
        // printable, since the key travels in a header as it is.
        let printable = |b: u8| b.is_ascii_graphic() && b != b',';
        if key.is_empty() || !key.bytes().all(printable) {
            return Err(MetadataError::BadKey(key.to_owned()));
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl FromStr for UploadMetadata {
    type Err = MetadataError;

    /// `KEY=VALUE` (the value may be empty and may hold `=`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, value) = s
            .split_once('=')
            .ok_or_else(|| MetadataError::NoEquals(s.to_owned()))?;
        Self::new(key, value)
    }
}

impl fmt::Display for UploadMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// The name the server is told: the caller's `filename` pair, else `local_name`.
pub(crate) fn file_name<'a>(local_name: &'a str, given: &'a [UploadMetadata]) -> &'a str {
    given
        .iter()
        .find(|p| p.key == "filename")
        .map_or(local_name, |p| p.value.as_str())
}

/// The `Upload-Metadata` value: `filename` (see [`file_name`]) first, then the other pairs
/// in the order given; an empty value is the key alone.
pub(crate) fn header(local_name: &str, given: &[UploadMetadata]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    let name = file_name(local_name, given);
    let pairs = std::iter::once(("filename", name))
        .chain(
            given
                .iter()
                .filter(|p| p.key != "filename")
                .map(|p| (p.key.as_str(), p.value.as_str())),
        )
        .map(|(key, value)| match value {
            "" => key.to_owned(),
            value => format!("{key} {}", b64.encode(value)),
        });
    pairs.collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_from_key_equals_value() {
        let ok = |s: &str| s.parse::<UploadMetadata>().map(|p| (p.key, p.value));
        type Parsed = Result<(&'static str, &'static str), MetadataError>;
        let table: &[(&str, Parsed)] = &[
            ("directory=/photos/2026", Ok(("directory", "/photos/2026"))),
            ("onconflict=keep", Ok(("onconflict", "keep"))),
            ("empty=", Ok(("empty", ""))),
            ("a=b=c", Ok(("a", "b=c"))),
            ("name=é ü, x", Ok(("name", "é ü, x"))), // any value: it goes in base64
            ("noequals", Err(MetadataError::NoEquals("noequals".into()))),
            ("=v", Err(MetadataError::BadKey(String::new()))),
            ("a b=v", Err(MetadataError::BadKey("a b".into()))),
            ("a,b=v", Err(MetadataError::BadKey("a,b".into()))),
            ("é=v", Err(MetadataError::BadKey("é".into()))),
            ("a\tb=v", Err(MetadataError::BadKey("a\tb".into()))),
        ];
        for (input, want) in table {
            let want = want.clone().map(|(k, v)| (k.to_owned(), v.to_owned()));
            assert_eq!(ok(input), want, "{input:?}");
        }
        let pair = |s: &str| s.parse::<UploadMetadata>().unwrap();
        assert_eq!(pair("k=v=w").to_string(), "k=v=w");
    }

    #[test]
    fn the_header_sends_the_file_name_first_and_each_value_in_base64() {
        let pair = |s: &str| s.parse::<UploadMetadata>().unwrap();
        // Creation's own example: "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential".
        let given = [pair("is_confidential=")];
        assert_eq!(
            header("world_domination_plan.pdf", &given),
            "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential"
        );
        assert_eq!(header("a.txt", &[]), "filename YS50eHQ=");
        // The caller's filename replaces the local name, in first place.
        let given = [pair("directory=/up"), pair("filename=b.txt")];
        assert_eq!(file_name("a.txt", &given), "b.txt");
        assert_eq!(header("a.txt", &given), "filename Yi50eHQ=,directory L3Vw");
    }
}

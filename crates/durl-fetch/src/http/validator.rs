//! Validators: what identifies one version of the remote file, and what may go into `If-Range`.
//!
//! RFC 9110 §13.1.5: a client must not send a weak entity tag in `If-Range`, and may send a
//! date only when it has no entity tag and the date is a strong validator (§8.8.2.2: the
//! `Last-Modified` is at least 60 seconds before the response's `Date`).

use std::time::Duration;

use reqwest::header::{DATE, ETAG, HeaderMap, LAST_MODIFIED};

use super::digest::Digests;
use crate::version::Version;

/// The names of HTTP's values in a [`Version`] (and the state file's lines before version 3).
const ETAG_NAME: &str = "etag";
const LAST_MODIFIED_NAME: &str = "last-modified";
const IF_RANGE_NAME: &str = "if-range";
/// A [`Version`]'s digest values are `repr-sha-256` and `repr-sha-512` (base64).
pub(crate) const DIGEST_PREFIX: &str = "repr-";

/// The validators a response carried, as raw header values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` value, verbatim (including `W/` and quotes).
    pub etag: Option<String>,
    /// The `Last-Modified` value, verbatim.
    pub last_modified: Option<String>,
    /// The value to send in `If-Range` when resuming, if any is allowed.
    pub if_range: Option<String>,
    /// The representation's digests (RFC 9530 `Repr-Digest`): not validators in RFC 9110's
    /// sense, but two answers whose digests differ are of two versions all the same.
    pub(crate) digests: Digests,
}

impl Validators {
    /// Reads the validators of a response.
    pub fn from_headers(headers: &HeaderMap) -> Validators {
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let etag = text(ETAG);
        let last_modified = text(LAST_MODIFIED);
        let date = text(DATE);
        let if_range = if_range_value(etag.as_deref(), last_modified.as_deref(), date.as_deref());
        let digests = Digests::parse(
            headers
                .get_all("repr-digest")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        Validators {
            etag,
            last_modified,
            if_range,
            digests,
        }
    }

    /// Reads the validators of an answer with status `status`: [`Self::from_headers`], and
    /// for a 200 sent without a content coding its `Content-Digest` when it has no
    /// `Repr-Digest` (RFC 9530 §2, §3: the content of such a 200 is the whole representation,
    /// so its content digest is the representation's).
    pub(crate) fn from_answer(status: reqwest::StatusCode, headers: &HeaderMap) -> Validators {
        let mut seen = Validators::from_headers(headers);
        if seen.digests.is_empty()
            && status == reqwest::StatusCode::OK
            && !headers.contains_key(reqwest::header::CONTENT_ENCODING)
        {
            seen.digests = Digests::parse(
                headers
                    .get_all("content-digest")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
            );
        }
        seen
    }

    /// The [`Version`] these validators make: `etag`, `last-modified` and `if-range` values.
    pub(crate) fn to_version(&self) -> Version {
        let mut version = Version::new();
        for (name, value) in [
            (ETAG_NAME, &self.etag),
            (LAST_MODIFIED_NAME, &self.last_modified),
            (IF_RANGE_NAME, &self.if_range),
        ] {
            if let Some(value) = value {
                version.set(name, value.clone());
            }
        }
        for (algorithm, value) in self.digests.encoded() {
            version.set(&format!("{DIGEST_PREFIX}{algorithm}"), value);
        }
        version
    }

    /// The validators an HTTP [`Version`] holds.
    pub(crate) fn from_version(version: &Version) -> Validators {
        let value = |name| version.get(name).map(str::to_owned);
        let mut digests = Digests::default();
        for (name, value) in version.iter() {
            if let Some(algorithm) = name.strip_prefix(DIGEST_PREFIX) {
                digests.set_encoded(algorithm, value);
            }
        }
        Validators {
            etag: value(ETAG_NAME),
            last_modified: value(LAST_MODIFIED_NAME),
            if_range: value(IF_RANGE_NAME),
            digests,
        }
    }

    /// Whether a later response plausibly describes the same version of the file as `self`.
    ///
    /// Only validators that both responses carry are compared: a server that stops sending one
    /// is not proof of change, but a different value is. Entity tags use the weak comparison of
    /// RFC 9110 §8.8.3.2 here (`W/"a"` matches `"a"`), because a 206 that honoured our strong
    /// `If-Range` is already proven by the server; this check catches servers that ignore
    /// `If-Range`.
    pub fn same_version_as(&self, later: &Validators) -> bool {
        // RFC 9530 §2: one representation has one digest per algorithm.
        if !self.digests.agree(&later.digests) {
            return false;
        }
        if let (Some(a), Some(b)) = (&self.etag, &later.etag) {
            return opaque_tag(a) == opaque_tag(b);
        }
        if let (Some(a), Some(b)) = (&self.last_modified, &later.last_modified) {
            return match (httpdate::parse_http_date(a), httpdate::parse_http_date(b)) {
                (Ok(x), Ok(y)) => x == y,
                _ => a == b,
            };
        }
        true
    }
}

impl Validators {
    /// Whether `later` carries exactly the strong validator held (the one `If-Range` would
    /// carry): the proof of version that an answer to a request without `If-Range` must give
    /// itself. RFC 9110 §8.8.3.2's strong comparison for entity tags; a date must be the same
    /// instant. Without a strong validator held, nothing proves it.
    pub fn proves_same(&self, later: &Validators) -> bool {
        self.if_range.is_some()
            && self.digests.agree(&later.digests)
            && match (
                &self.etag,
                &later.etag,
                &self.last_modified,
                &later.last_modified,
            ) {
                (Some(a), Some(b), ..) => is_strong_etag(a) && a == b,
                (Some(_), None, ..) => false,
                (None, _, Some(a), Some(b)) => {
                    match (httpdate::parse_http_date(a), httpdate::parse_http_date(b)) {
                        (Ok(x), Ok(y)) => x == y,
                        _ => false,
                    }
                }
                (None, ..) => false,
            }
    }
}

/// True for a strong entity tag (RFC 9110 §8.8.3: weak ones start with `W/`).
pub fn is_strong_etag(etag: &str) -> bool {
    etag.starts_with('"') && etag.ends_with('"') && etag.len() >= 2
}

fn opaque_tag(etag: &str) -> &str {
    etag.strip_prefix("W/").unwrap_or(etag)
}

/// Chooses the `If-Range` value (RFC 9110 §13.1.5).
fn if_range_value(
    etag: Option<&str>,
    last_modified: Option<&str>,
    date: Option<&str>,
) -> Option<String> {
    if let Some(etag) = etag {
        // A weak tag never goes into If-Range; with an entity tag present, a date must not
        // be used either ("unless the client has no entity tag").
        return is_strong_etag(etag).then(|| etag.to_owned());
    }
    let raw = last_modified?;
    let lm = httpdate::parse_http_date(raw).ok()?;
    let date = httpdate::parse_http_date(date?).ok()?;
    // §8.8.2.2: a Last-Modified is strong for a client if it is at least 60 s before Date.
    let strong = lm
        .checked_add(Duration::from_secs(60))
        .is_some_and(|t| t <= date);
    // Sent back verbatim: §13.1.5 has the server compare the date exactly.
    strong.then(|| raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LM: &str = "Tue, 01 Jan 2030 00:00:00 GMT";
    const DATE_LATER: &str = "Tue, 01 Jan 2030 01:00:00 GMT";
    const DATE_SOON: &str = "Tue, 01 Jan 2030 00:00:30 GMT";

    #[test]
    fn if_range_follows_rfc_9110_section_13_1_5() {
        // (ETag, Last-Modified, Date) -> If-Range
        type Row = (
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
            Option<&'static str>,
        );
        let table: &[Row] = &[
            (Some("\"abc\""), None, None, Some("\"abc\"")),
            (Some("\"abc\""), Some(LM), Some(DATE_LATER), Some("\"abc\"")),
            // weak tag: never in If-Range, and the date may not stand in for it
            (Some("W/\"abc\""), Some(LM), Some(DATE_LATER), None),
            // date only when strong: Last-Modified at least 60 s before Date
            (None, Some(LM), Some(DATE_LATER), Some(LM)),
            (None, Some(LM), Some(DATE_SOON), None),
            (None, Some(LM), None, None),
            (None, Some("yesterday"), Some(DATE_LATER), None),
            (None, None, Some(DATE_LATER), None),
        ];
        for (etag, lm, date, want) in table {
            assert_eq!(
                if_range_value(*etag, *lm, *date).as_deref(),
                *want,
                "etag {etag:?} lm {lm:?} date {date:?}"
            );
        }
    }

    #[test]
    fn proof_without_if_range_needs_the_strong_validator_held() {
        let v = |etag: Option<&str>, lm: Option<&str>| {
            let if_range = if_range_value(etag, lm, Some("Wed, 01 Jan 2031 00:00:00 GMT"));
            Validators {
                etag: etag.map(str::to_owned),
                last_modified: lm.map(str::to_owned),
                if_range,
                digests: Digests::default(),
            }
        };
        let later_lm = "Tue, 01 Jan 2030 00:00:01 GMT";
        // (held, answer, proves)
        let table = [
            (v(Some("\"a\""), None), v(Some("\"a\""), None), true),
            (
                v(Some("\"a\""), Some(LM)),
                v(Some("\"a\""), Some(later_lm)),
                true,
            ),
            // §8.8.3.2: strong comparison, no weak match, no missing tag.
            (v(Some("\"a\""), None), v(Some("W/\"a\""), None), false),
            (v(Some("\"a\""), None), v(Some("\"b\""), None), false),
            (v(Some("\"a\""), Some(LM)), v(None, Some(LM)), false),
            // A date held: the answer must carry the same instant.
            (v(None, Some(LM)), v(None, Some(LM)), true),
            (v(None, Some(LM)), v(None, Some(later_lm)), false),
            (v(None, Some(LM)), v(None, None), false),
            // Nothing strong held: nothing proves the version.
            (v(Some("W/\"a\""), None), v(Some("W/\"a\""), None), false),
            (v(None, None), v(None, None), false),
        ];
        for (held, answer, want) in table {
            assert_eq!(held.proves_same(&answer), want, "{held:?} {answer:?}");
        }
    }

    #[test]
    fn same_version_compares_what_both_carry() {
        let v = |etag: Option<&str>, lm: Option<&str>| Validators {
            etag: etag.map(str::to_owned),
            last_modified: lm.map(str::to_owned),
            if_range: None,
            digests: Digests::default(),
        };
        assert!(v(Some("\"a\""), None).same_version_as(&v(Some("\"a\""), None)));
        assert!(v(Some("\"a\""), None).same_version_as(&v(Some("W/\"a\""), None)));
        assert!(!v(Some("\"a\""), None).same_version_as(&v(Some("\"b\""), None)));
        assert!(v(Some("\"a\""), Some(LM)).same_version_as(&v(None, Some(LM))));
        assert!(!v(None, Some(LM)).same_version_as(&v(None, Some(DATE_LATER))));
        assert!(v(None, None).same_version_as(&v(Some("\"x\""), None)));
        // RFC 9530: one version, one digest per algorithm; a missing digest proves nothing.
        let with = |d: u8| Validators {
            digests: Digests {
                sha256: Some(vec![d; 32]),
                sha512: None,
            },
            ..v(Some("\"a\""), None)
        };
        assert!(with(1).same_version_as(&with(1)));
        assert!(with(1).same_version_as(&v(Some("\"a\""), None)));
        assert!(!with(1).same_version_as(&with(2)));
        let strong = |d: u8| Validators {
            if_range: Some("\"a\"".into()),
            ..with(d)
        };
        assert!(strong(1).proves_same(&with(1)));
        assert!(!strong(1).proves_same(&with(2)));
        // Kept in the version (and so in the state file), and read back.
        let version = with(1).to_version();
        assert!(version.get("repr-sha-256").is_some());
        assert_eq!(Validators::from_version(&version), with(1));
    }
}

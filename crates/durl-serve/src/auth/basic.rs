//! HTTP Basic authentication (RFC 7617): the header parsed, and the `--auth USER:PASS`
//! shortcut compared in constant time.

use std::fmt;

use base64::Engine;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use subtle::{ConstantTimeEq, ConstantTimeLess};

/// One accepted `user:password` pair.
#[derive(Clone)]
pub struct BasicAuth {
    /// `user:password` as bytes, the form the client sends base64-encoded.
    credentials: Vec<u8>,
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BasicAuth { .. }")
    }
}

impl BasicAuth {
    /// Accepts requests that present this user and password.
    pub fn new(user: &str, password: &str) -> Self {
        Self {
            credentials: format!("{user}:{password}").into_bytes(),
        }
    }

    /// Whether the request's `Authorization` field carries our credentials.
    #[cfg(test)]
    pub(crate) fn allows(&self, headers: &HeaderMap) -> bool {
        presented(headers).is_some_and(|p| self.matches(&p))
    }

    /// Whether `presented` (the decoded `user:password`) is ours, in constant time.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(&self.credentials, presented)
    }
}

/// The decoded `user:password` of a Basic `Authorization` field, if there is one.
pub(crate) fn presented(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(AUTHORIZATION)?.as_bytes();
    // RFC 7617 §2: `Basic` (case-insensitive scheme, RFC 9110 §11.1) SP token68.
    let (scheme, token) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    base64::engine::general_purpose::STANDARD
        .decode(token.trim_ascii())
        .ok()
}

/// Compares in time that depends only on the length of `expected`, so neither a matching
/// prefix nor the presented length leaks through timing.
fn constant_time_eq(expected: &[u8], presented: &[u8]) -> bool {
    let mut same = (expected.len() as u64).ct_eq(&(presented.len() as u64));
    for (i, e) in expected.iter().enumerate() {
        let in_bounds = (i as u64).ct_lt(&(presented.len() as u64));
        let p = presented.get(i).copied().unwrap_or(0);
        same &= e.ct_eq(&p) & in_bounds;
    }
    bool::from(same)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_auth_table() {
        let auth = BasicAuth::new("Aladdin", "open sesame");
        // RFC 7617 §2 example: Aladdin / open sesame.
        let cases = [
            ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", true),
            ("basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", true),
            ("BASIC  QWxhZGRpbjpvcGVuIHNlc2FtZQ== ", true),
            ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZR==", false),
            ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ", false),
            ("Basic QWxhZGRpbjpvcGVu", false),
            ("Basic QWxhZGRpbjpvcGVuIHNlc2FtZWU=", false),
            ("Bearer QWxhZGRpbjpvcGVuIHNlc2FtZQ==", false),
            ("Basic", false),
            ("", false),
        ];
        for (value, want) in cases {
            assert_eq!(auth.allows(&with_auth(value)), want, "{value:?}");
        }
        assert!(!auth.allows(&HeaderMap::new()));
    }

    #[test]
    fn debug_hides_the_password() {
        let auth = BasicAuth::new("u", "secret");
        assert!(!format!("{auth:?}").contains("secret"));
    }
}

//! What the server serves at a path: a body plus its metadata.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use crate::corpus::Body;

/// The fixed `Last-Modified` of resources made by [`Resource::pattern`] and
/// [`Resource::bytes`]: 2023-11-14T22:13:20Z.
pub const DEFAULT_LAST_MODIFIED_UNIX: u64 = 1_700_000_000;

/// A redirect answer, see [`Resource::redirect`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    /// Status code, e.g. 301, 302, 307 or 308.
    pub status: u16,
    /// The `Location` header, sent verbatim (relative or absolute).
    pub location: String,
}

/// A resource served at one path. Build it with [`Resource::pattern`],
/// [`Resource::bytes`] or [`Resource::redirect`] and the `with_*` setters.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The representation's bytes.
    pub body: Body,
    /// The `ETag`, sent verbatim, e.g. `"\"abc\""` or `"W/\"abc\""`.
    pub etag: Option<String>,
    /// `Last-Modified`, sent as an IMF-fixdate (whole seconds).
    pub last_modified: Option<SystemTime>,
    /// If false, `Range` is ignored entirely (always 200 with the full body)
    /// and no `Accept-Ranges` header is sent.
    pub accept_ranges: bool,
    /// `Content-Disposition`, sent verbatim.
    pub content_disposition: Option<String>,
    /// `Content-Type`; `application/octet-stream` when `None`.
    pub content_type: Option<String>,
    /// More response headers, sent verbatim after the others.
    pub extra_headers: Vec<(String, String)>,
    /// Throttle: body bytes per second.
    pub rate_limit: Option<u64>,
    /// If set, every request is answered with this redirect instead of the body.
    pub redirect: Option<Redirect>,
    /// If set, a request without `Authorization: Basic` for this user and password (RFC 7617)
    /// is answered 401 with `WWW-Authenticate: Basic realm="durl-testkit"`.
    pub basic_auth: Option<(String, String)>,
}

/// 64-bit FNV-1a, a stable content hash for [`Resource::bytes`] ETags.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Resource {
    fn with_body(body: Body, etag: String) -> Resource {
        Resource {
            body,
            etag: Some(etag),
            last_modified: Some(
                SystemTime::UNIX_EPOCH + Duration::from_secs(DEFAULT_LAST_MODIFIED_UNIX),
            ),
            accept_ranges: true,
            content_disposition: None,
            content_type: None,
            extra_headers: Vec::new(),
            rate_limit: None,
            redirect: None,
            basic_auth: None,
        }
    }

    /// `len` bytes of the deterministic pattern `seed`, with the strong ETag
    /// `"s{seed}-{len}"`, a fixed `Last-Modified` and range support.
    pub fn pattern(seed: u64, len: u64) -> Resource {
        Resource::with_body(Body::Pattern { seed, len }, format!("\"s{seed}-{len}\""))
    }

    /// Literal bytes, with a strong ETag derived from a hash of the content,
    /// a fixed `Last-Modified` and range support.
    pub fn bytes(data: impl Into<Vec<u8>>) -> Resource {
        let data: Vec<u8> = data.into();
        let etag = format!("\"b{:016x}-{}\"", fnv1a(&data), data.len());
        Resource::with_body(Body::Bytes(Bytes::from(data)), etag)
    }

    /// Answers every request with `status` and `Location: location` (verbatim).
    pub fn redirect(status: u16, location: &str) -> Resource {
        let mut r = Resource::with_body(
            Body::Bytes(Bytes::from_static(b"redirecting\n")),
            String::new(),
        );
        r.etag = None;
        r.last_modified = None;
        r.content_type = Some("text/plain".to_owned());
        r.redirect = Some(Redirect {
            status,
            location: location.to_owned(),
        });
        r
    }

    /// Sets or removes the ETag (sent verbatim).
    pub fn with_etag(mut self, etag: Option<&str>) -> Resource {
        self.etag = etag.map(str::to_owned);
        self
    }

    /// Sets or removes `Last-Modified`.
    pub fn with_last_modified(mut self, last_modified: Option<SystemTime>) -> Resource {
        self.last_modified = last_modified;
        self
    }

    /// Disables range support: `Range` is ignored and no `Accept-Ranges` is sent.
    pub fn without_ranges(mut self) -> Resource {
        self.accept_ranges = false;
        self
    }

    /// Sets `Content-Disposition` (sent verbatim).
    pub fn with_content_disposition(mut self, value: &str) -> Resource {
        self.content_disposition = Some(value.to_owned());
        self
    }

    /// Sets `Content-Type`.
    pub fn with_content_type(mut self, value: &str) -> Resource {
        self.content_type = Some(value.to_owned());
        self
    }

    /// Adds a response header (sent verbatim).
    pub fn with_header(mut self, name: &str, value: &str) -> Resource {
        self.extra_headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Requires HTTP Basic credentials (RFC 7617) for `user` and `password`: any other
    /// request is answered 401 with a `WWW-Authenticate` challenge.
    pub fn with_basic_auth(mut self, user: &str, password: &str) -> Resource {
        self.basic_auth = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Throttles the body to `bytes_per_sec` (at least 1).
    pub fn with_rate_limit(mut self, bytes_per_sec: u64) -> Resource {
        self.rate_limit = Some(bytes_per_sec.max(1));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_defaults() {
        let p = Resource::pattern(3, 1000);
        assert_eq!(p.etag.as_deref(), Some("\"s3-1000\""));
        assert!(p.accept_ranges && p.last_modified.is_some() && p.redirect.is_none());
        let a = Resource::bytes("abc");
        let b = Resource::bytes("abd");
        assert_ne!(a.etag, b.etag);
        assert_eq!(a.etag, Resource::bytes(b"abc".to_vec()).etag);
        let r = Resource::redirect(302, "/x");
        assert_eq!(
            r.redirect,
            Some(Redirect {
                status: 302,
                location: "/x".into()
            })
        );
        let w = Resource::pattern(1, 1)
            .with_etag(Some("W/\"x\""))
            .without_ranges();
        assert_eq!(w.etag.as_deref(), Some("W/\"x\""));
        assert!(!w.accept_ranges);
    }
}

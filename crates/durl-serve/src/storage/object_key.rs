//! Pure rules of the object-store backend: the storage URL (`s3://BUCKET[/PREFIX]`), the
//! object key a request path maps to, and when a plain-HTTP endpoint may be used.
//!
//! A key is the prefix's segments and the request's, joined by `/`. The request's segments
//! were already checked (`resolve.rs`: no `..` or `.` in any spelling, no empty segment, no
//! `/`, `\` or NUL), so no key lies outside the prefix; here each segment must also be UTF-8
//! without control characters (S3 keys are UTF-8; `object_store` refuses control characters).

use std::net::IpAddr;

use object_store::path::Path;

/// Where the served objects live: a bucket and a key prefix inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BucketUrl {
    /// The bucket's name.
    pub(crate) bucket: String,
    /// The prefix's segments (none: the whole bucket).
    pub(crate) prefix: Vec<String>,
}

/// Why a storage URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BucketUrlError {
    /// Not `s3://…`.
    #[error("the storage URL must start with s3:// (s3://BUCKET[/PREFIX])")]
    Scheme,
    /// No bucket name, or one S3 would refuse.
    #[error("the bucket name {0:?} is not valid (3-63 characters: a-z, 0-9, '.', '-')")]
    Bucket(String),
    /// A prefix segment that is empty, `.` or `..`, or holds a control character.
    #[error("the key prefix segment {0:?} is not allowed (no empty, '.' or '..' segments)")]
    Prefix(String),
}

impl BucketUrl {
    /// Parses `s3://BUCKET[/PREFIX][/]`.
    pub(crate) fn parse(url: &str) -> Result<Self, BucketUrlError> {
        let rest = url.strip_prefix("s3://").ok_or(BucketUrlError::Scheme)?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3 bucket naming rules (AWS S3 User Guide, "Bucket naming rules"), as far as they
        // matter here: what would not be a host label or a path segment is refused.
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-'])
            && !bucket.contains("..");
        if !valid_bucket {
            return Err(BucketUrlError::Bucket(bucket.to_owned()));
        }
        let prefix = if prefix.is_empty() {
            Vec::new()
        } else {
            prefix
                .split('/')
                .map(|segment| {
                    if valid_segment(segment) {
                        Ok(segment.to_owned())
                    } else {
                        Err(BucketUrlError::Prefix(segment.to_owned()))
                    }
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Self {
            bucket: bucket.to_owned(),
            prefix,
        })
    }

    /// The key of the object (or the directory prefix) `segments` name below the prefix;
    /// `None` when no object can have that name.
    pub(crate) fn key(&self, segments: &[Vec<u8>]) -> Option<Path> {
        let mut key = self.prefix.join("/");
        for segment in segments {
            let segment = std::str::from_utf8(segment).ok()?;
            if !valid_segment(segment) {
                return None;
            }
            if !key.is_empty() {
                key.push('/');
            }
            key.push_str(segment);
        }
        Path::parse(key).ok()
    }

    /// `s3://BUCKET/PREFIX`, for messages.
    pub(crate) fn display(&self) -> String {
        let mut out = format!("s3://{}", self.bucket);
        for segment in &self.prefix {
            out.push('/');
            out.push_str(segment);
        }
        out
    }
}

/// A key segment: not empty, `.` or `..`, no `/`, no control character.
fn valid_segment(segment: &str) -> bool {
    !matches!(segment, "" | "." | "..") && !segment.chars().any(|c| c == '/' || c.is_control())
}

/// Whether the endpoint URL `endpoint` may be used: `https://` always; `http://` only when its
/// host is a loopback address (`localhost`, `127.0.0.0/8`, `::1`), or with `allow_http`
/// (credentials and data then cross the network in the clear).
pub(crate) fn endpoint_allowed(endpoint: &str, allow_http: bool) -> bool {
    if endpoint.starts_with("https://") {
        return true;
    }
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    if allow_http {
        return true;
    }
    // RFC 3986 §3.2: authority up to the first '/', '?' or '#'; userinfo before '@'.
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls() {
        let ok = |url: &str, bucket: &str, prefix: &[&str]| {
            assert_eq!(
                BucketUrl::parse(url),
                Ok(BucketUrl {
                    bucket: bucket.to_owned(),
                    prefix: prefix.iter().map(|s| (*s).to_owned()).collect(),
                }),
                "{url}"
            );
        };
        ok("s3://files", "files", &[]);
        ok("s3://files/", "files", &[]);
        ok("s3://my.files-2/site", "my.files-2", &["site"]);
        ok("s3://files/a/b c/", "files", &["a", "b c"]);
        #[rustfmt::skip]
        let refused: &[(&str, BucketUrlError)] = &[
            ("/srv/files", BucketUrlError::Scheme),
            ("gs://files", BucketUrlError::Scheme),
            ("s3://", BucketUrlError::Bucket(String::new())),
            ("s3://ab", BucketUrlError::Bucket("ab".into())),
            ("s3://Files", BucketUrlError::Bucket("Files".into())),
            ("s3://a..b", BucketUrlError::Bucket("a..b".into())),
            ("s3://-files", BucketUrlError::Bucket("-files".into())),
            ("s3://user@files", BucketUrlError::Bucket("user@files".into())),
            ("s3://files//a", BucketUrlError::Prefix(String::new())),
            ("s3://files/a/../b", BucketUrlError::Prefix("..".into())),
            ("s3://files/./b", BucketUrlError::Prefix(".".into())),
            ("s3://files/a\nb", BucketUrlError::Prefix("a\nb".into())),
        ];
        for (url, err) in refused {
            assert_eq!(BucketUrl::parse(url).as_ref(), Err(err), "{url}");
        }
    }

    #[test]
    fn keys_stay_below_the_prefix() {
        let url = BucketUrl::parse("s3://files/site").unwrap();
        let bare = BucketUrl::parse("s3://files").unwrap();
        let seg = |s: &[&str]| s.iter().map(|s| s.as_bytes().to_vec()).collect::<Vec<_>>();
        #[rustfmt::skip]
        let cases: &[(&BucketUrl, &[&str], Option<&str>)] = &[
            (&url, &[], Some("site")),
            (&url, &["a.txt"], Some("site/a.txt")),
            (&url, &["d", "e f%20.bin"], Some("site/d/e f%20.bin")),
            (&bare, &[], Some("")),
            (&bare, &["a.txt"], Some("a.txt")),
            // resolve.rs refuses these before; refused here again.
            (&url, &[".."], None),
            (&url, &["."], None),
            (&url, &[""], None),
            (&url, &["a/b"], None),
            (&url, &["a\u{7}"], None),
        ];
        for (base, segments, want) in cases {
            let got = base.key(&seg(segments));
            assert_eq!(got.as_ref().map(Path::as_ref), *want, "{segments:?}");
        }
        // Not UTF-8: no S3 key has that name.
        assert_eq!(url.key(&[vec![0xff, b'a']]), None);
        assert_eq!(url.display(), "s3://files/site");
    }

    #[test]
    fn plain_http_only_to_loopback_unless_allowed() {
        #[rustfmt::skip]
        let cases: &[(&str, bool, bool)] = &[
            ("https://s3.example.com", false, true),
            ("http://127.0.0.1:8333", false, true),
            ("http://127.8.9.1", false, true),
            ("http://localhost:9000/", false, true),
            ("http://[::1]:9000", false, true),
            ("http://user@127.0.0.1:1", false, true),
            ("http://s3.example.com", false, false),
            ("http://127.0.0.1.example.com", false, false),
            ("http://[::2]:9000", false, false),
            ("http://s3.example.com", true, true),
            ("ftp://127.0.0.1", true, false),
            ("127.0.0.1:8333", false, false),
        ];
        for (endpoint, allow, want) in cases {
            assert_eq!(
                endpoint_allowed(endpoint, *allow),
                *want,
                "{endpoint} {allow}"
            );
        }
    }
}

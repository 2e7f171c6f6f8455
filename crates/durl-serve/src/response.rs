//! Building answers: the file answer (steps 3–8 of the pipeline in the crate docs) and the
//! small fixed answers (errors, redirects, 405, 401).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, ALLOW, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    ETAG, HeaderMap, HeaderValue, LAST_MODIFIED, LOCATION, RANGE, VARY, WWW_AUTHENTICATE,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{Method, Response, StatusCode};

use crate::body::{Body, Segment};
use crate::conditional::{self, Precondition};
use crate::range::{self, RangeOutcome};
use crate::storage::{Content, Stat};
use crate::validators::Validators;

/// Answers a GET or HEAD for an open file of any storage (steps 4–8 of the pipeline). The
/// storage may read the first chunk of the body before this returns.
pub(crate) async fn file<F: Content>(
    method: &Method,
    headers: &HeaderMap,
    file: F,
    sandbox: Sandbox,
) -> io::Result<Response<Body>> {
    let Stat {
        len,
        ref validators,
        ref name,
    } = *file.stat();
    let validators = &validators.clone();
    let mime = mime_guess::from_path(name)
        .first_raw()
        .unwrap_or("application/octet-stream");
    let head_only = method == Method::HEAD;

    // Step 4: preconditions, in RFC 9110 §13.2.2 order.
    let use_range = match conditional::evaluate(method, headers, validators) {
        Precondition::NotModified => {
            // RFC 9110 §15.4.5: a 304 carries the validators a 200 would have had.
            return Ok(with_validators(
                StatusCode::NOT_MODIFIED,
                validators,
                Body::empty(),
            ));
        }
        Precondition::Failed => {
            return Ok(with_validators(
                StatusCode::PRECONDITION_FAILED,
                validators,
                Body::empty(),
            ));
        }
        Precondition::Proceed { use_range } => use_range,
    };

    // Step 5: Range. More than one Range field line is not a valid ranges-specifier: ignore.
    let outcome = if use_range {
        let mut values = headers.get_all(RANGE).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => range::evaluate(value.as_bytes(), len),
            _ => RangeOutcome::Ignore,
        }
    } else {
        RangeOutcome::Ignore
    };

    let content_type = HeaderValue::from_static(mime);
    // Only active types are looked at (a read of the upload mark, one system call).
    let sandboxed = is_active(mime) && sandbox.applies_to(file.upload_mark());

    // Steps 6 and 7: status, body layout and header fields.
    let (status, segments, content_type, content_range) = match outcome {
        RangeOutcome::Ignore => (
            StatusCode::OK,
            vec![Segment::Slice(0..len)],
            content_type,
            None,
        ),
        RangeOutcome::Unsatisfiable => {
            // RFC 9110 §15.5.17: 416 with `Content-Range: bytes */len`.
            let mut response =
                with_validators(StatusCode::RANGE_NOT_SATISFIABLE, validators, Body::empty());
            let h = response.headers_mut();
            h.insert(CONTENT_RANGE, header_value(range::unsatisfied_range(len)));
            h.insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
            return Ok(response);
        }
        RangeOutcome::Satisfiable(parts) if parts.len() == 1 => {
            // RFC 9110 §15.3.7.1: one part, Content-Range in the header section.
            let content_range = range::content_range(&parts[0], len);
            (
                StatusCode::PARTIAL_CONTENT,
                vec![Segment::Slice(parts[0].clone())],
                content_type,
                Some(content_range),
            )
        }
        RangeOutcome::Satisfiable(parts) => {
            // RFC 9110 §15.3.7.2: several parts as multipart/byteranges.
            let (boundary, segments) = multipart(&parts, len, &content_type);
            let ct = header_value(format!("multipart/byteranges; boundary={boundary}"));
            (StatusCode::PARTIAL_CONTENT, segments, ct, None)
        }
    };

    let content_length = segments.iter().map(Segment::len).sum::<u64>();
    let body = if head_only {
        // Step 8 (RFC 9110 §9.3.2): HEAD gets the same header fields, and no content.
        Body::empty()
    } else {
        file.body(segments).await?
    };
    let mut response = with_validators(status, validators, body);
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, content_type);
    // Browsers must not guess a type (a text file read as HTML), and a file of an active type
    // (which an uploader may have written) runs with no script, no plugin, no same-origin
    // access: it cannot act as the server's origin (stored XSS through uploads).
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if sandboxed {
        h.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(FILE_POLICY),
        );
    }
    h.insert(CONTENT_LENGTH, HeaderValue::from(content_length));
    if let Some(content_range) = content_range {
        h.insert(CONTENT_RANGE, header_value(content_range));
    }
    Ok(response)
}

/// Which files of an active type get [`FILE_POLICY`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sandbox {
    /// Every one (`--sandbox all`), not only uploaded ones.
    pub(crate) all: bool,
    /// Uploads are on: where the upload mark cannot be read (no xattrs), sandbox anyway.
    pub(crate) uploads_on: bool,
}

/// The extended attribute a finished upload carries (`upload/place.rs`): the file came from
/// a client, not from the people who run the site.
pub(crate) const UPLOAD_MARK: &str = "user.durl.upload";

impl Sandbox {
    /// Whether a file is sandboxed: always with `all`; else if it carries the upload mark,
    /// or if the mark cannot be read (a file system without user xattrs) while uploads are on.
    fn applies_to(self, mark: io::Result<bool>) -> bool {
        self.all
            || match mark {
                Ok(mark) => mark,
                Err(_) => self.uploads_on,
            }
    }
}

/// The policy of files of an active type ([`is_active`]): a sandbox with no exception, so the
/// document gets a unique opaque origin and runs no script (CSP Level 3 `sandbox`, HTML
/// §7.5.4 "sandboxing flags").
const FILE_POLICY: &str = "sandbox";

/// Whether a browser would run or render `mime` as an active document or script: HTML, XHTML,
/// SVG, XML (XSLT can script), JavaScript. These get [`FILE_POLICY`].
fn is_active(mime: &str) -> bool {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "image/svg+xml"
            | "text/xml"
            | "application/xml"
            | "text/xsl"
            | "text/javascript"
            | "application/javascript"
            | "application/x-javascript"
            | "text/ecmascript"
            | "application/ecmascript"
    ) || essence.ends_with("+xml")
}

/// A response with `Accept-Ranges`, `ETag` and `Last-Modified` set.
fn with_validators(status: StatusCode, validators: &Validators, body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(ETAG, header_value(validators.etag()));
    h.insert(
        LAST_MODIFIED,
        header_value(validators.last_modified_header()),
    );
    response
}

/// Lays out a multipart/byteranges body (RFC 9110 §14.6): for each part a delimiter line,
/// Content-Type and Content-Range, a blank line, then the slice; finally the close delimiter.
/// Only the small part headers are built here; the slices are read when sent.
fn multipart(parts: &[Range<u64>], len: u64, content_type: &HeaderValue) -> (String, Vec<Segment>) {
    let boundary = boundary();
    let content_type = String::from_utf8_lossy(content_type.as_bytes());
    let mut segments = Vec::with_capacity(parts.len() * 2 + 1);
    for (i, part) in parts.iter().enumerate() {
        // The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1); the first
        // one has nothing before it to end.
        let lead = if i == 0 { "" } else { "\r\n" };
        let head = format!(
            "{lead}--{boundary}\r\nContent-Type: {content_type}\r\nContent-Range: {}\r\n\r\n",
            range::content_range(part, len)
        );
        segments.push(Segment::Bytes(Bytes::from(head)));
        segments.push(Segment::Slice(part.clone()));
    }
    segments.push(Segment::Bytes(Bytes::from(format!(
        "\r\n--{boundary}--\r\n"
    ))));
    (boundary, segments)
}

/// A boundary that file content cannot predict: 128 bits from std's randomly keyed SipHash
/// over a counter, so a file crafted to contain our delimiter cannot forge parts.
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = RandomState::new();
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut h = state.build_hasher();
        h.write_u64(n);
        h.write_usize(i);
        *word = h.finish();
    }
    format!("durl-{:016x}{:016x}", words[0], words[1])
}

/// A plain-text answer for errors and refusals.
pub(crate) fn status(status: StatusCode) -> Response<Body> {
    let text = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut response = Response::new(Body::bytes(text.clone()));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    response
}

/// 405 with `Allow` (RFC 9110 §15.5.6).
pub(crate) fn method_not_allowed() -> Response<Body> {
    let mut response = status(StatusCode::METHOD_NOT_ALLOWED);
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// 401 with a Basic challenge (RFC 7617 §2).
pub(crate) fn unauthorized() -> Response<Body> {
    let mut response = status(StatusCode::UNAUTHORIZED);
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"durl\", charset=\"UTF-8\""),
    );
    response
}

/// 429 with `Retry-After` (RFC 6585 §4): too many failed logins from this address.
pub(crate) fn too_many_logins(wait: std::time::Duration) -> Response<Body> {
    let mut response = status(StatusCode::TOO_MANY_REQUESTS);
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}

/// 301 to `location` (a normalised, encoded path).
pub(crate) fn redirect(location: &str) -> Response<Body> {
    let mut response = status(StatusCode::MOVED_PERMANENTLY);
    response
        .headers_mut()
        .insert(LOCATION, header_value(location.to_owned()));
    response
}

/// The Content-Security-Policy of our HTML pages (W3C CSP Level 3): scripts, styles and
/// requests from this origin only, nothing inline, no framing. The upload page's script is
/// served from `/.durl/` (`assets.rs`) and talks to `/.durl/uploads/` (same origin).
pub(crate) const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// An HTML page, with [`PAGE_POLICY`]. HEAD gets the header fields only.
#[cfg(test)]
pub(crate) fn html(page: String, head_only: bool) -> Response<Body> {
    listing(page, "text/html; charset=utf-8", head_only)
}

/// A directory listing (HTML or JSON, chosen by `Accept` among others: `Vary: Accept`, RFC
/// 9110 §12.5.5), with [`PAGE_POLICY`]. HEAD gets the header fields only.
pub(crate) fn listing(page: String, content_type: &'static str, head_only: bool) -> Response<Body> {
    let len = page.len();
    let body = if head_only {
        Body::empty()
    } else {
        Body::bytes(page)
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(VARY, HeaderValue::from_static("accept"));
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    response
}

/// Header values we build are ASCII by construction (numbers, hex, encoded paths).
fn header_value(s: String) -> HeaderValue {
    HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_layout() {
        let ct = HeaderValue::from_static("text/plain");
        let (boundary, segments) = multipart(&[0..2, 5..10], 20, &ct);
        let heads: Vec<String> = segments
            .iter()
            .filter_map(|s| match s {
                Segment::Bytes(b) => Some(String::from_utf8(b.to_vec()).unwrap()),
                Segment::Slice(_) => None,
            })
            .collect();
        assert_eq!(
            heads,
            vec![
                format!(
                    "--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n"
                ),
                format!(
                    "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-9/20\r\n\r\n"
                ),
                format!("\r\n--{boundary}--\r\n"),
            ]
        );
    }

    /// A file held in memory: the pipeline above the storage, without any storage.
    struct Memory {
        stat: Stat,
        bytes: Bytes,
    }

    impl Content for Memory {
        fn stat(&self) -> &Stat {
            &self.stat
        }

        fn upload_mark(&self) -> io::Result<bool> {
            Ok(false)
        }

        async fn digests(&self) -> Option<crate::digest::Digests> {
            None
        }

        async fn body(self, segments: Vec<Segment>) -> io::Result<Body> {
            let mut out = Vec::new();
            for segment in segments {
                match segment {
                    Segment::Bytes(b) => out.extend_from_slice(&b),
                    Segment::Slice(r) => {
                        let r = usize::try_from(r.start).unwrap()..usize::try_from(r.end).unwrap();
                        out.extend_from_slice(&self.bytes[r]);
                    }
                }
            }
            Ok(Body::bytes(out))
        }
    }

    /// Handler-level tests: `file` answers without any socket (SWS style).
    fn answer(method: Method, fields: &[(&str, &str)], content: &[u8]) -> Response<Body> {
        use futures_util::FutureExt as _;
        let mut headers = HeaderMap::new();
        for (name, value) in fields {
            headers.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let len = content.len() as u64;
        let file = Memory {
            stat: Stat {
                len,
                validators: Validators::new(len, 1_700_000_000, 0, 7),
                name: "x.txt".into(),
            },
            bytes: Bytes::copy_from_slice(content),
        };
        let sandbox = Sandbox {
            all: true,
            uploads_on: false,
        };
        self::file(&method, &headers, file, sandbox)
            .now_or_never()
            .expect("an in-memory body is ready at once")
            .unwrap()
    }

    fn field<'a>(r: &'a Response<Body>, name: &str) -> Option<&'a str> {
        r.headers().get(name).map(|v| v.to_str().unwrap())
    }

    /// (method, fields, status, Content-Length, Content-Range).
    type FileCase = (
        Method,
        &'static [(&'static str, &'static str)],
        u16,
        Option<&'static str>,
        Option<&'static str>,
    );

    #[test]
    fn file_answers_without_sockets() {
        let text = b"0123456789abcdefgh";
        #[rustfmt::skip]
        let cases: &[FileCase] = &[
            (Method::GET, &[], 200, Some("18"), None),
            (Method::HEAD, &[], 200, Some("18"), None),
            (Method::GET, &[("range", "bytes=12-20")], 206, Some("6"), Some("bytes 12-17/18")),
            (Method::HEAD, &[("range", "bytes=-4")], 206, Some("4"), Some("bytes 14-17/18")),
            (Method::GET, &[("range", "bytes=-0")], 416, Some("0"), Some("bytes */18")),
            (Method::GET, &[("range", "bytes=5-2")], 200, Some("18"), None),
            (Method::GET, &[("range", "bytes=0-0"), ("range", "bytes=1-1")], 200, Some("18"), None),
            (Method::GET, &[("if-none-match", "*")], 304, None, None),
            (Method::GET, &[("if-match", "\"nope\"")], 412, None, None),
        ];
        for (method, fields, status, length, range) in cases {
            let r = answer(method.clone(), fields, text);
            assert_eq!(r.status().as_u16(), *status, "{method} {fields:?}");
            assert_eq!(field(&r, "content-length"), *length, "{method} {fields:?}");
            assert_eq!(field(&r, "content-range"), *range, "{method} {fields:?}");
            assert_eq!(field(&r, "accept-ranges"), Some("bytes"));
            assert!(field(&r, "etag").is_some_and(|e| e.starts_with('"')));
            assert!(field(&r, "last-modified").is_some());
            if *method == Method::HEAD {
                assert!(http_body::Body::is_end_stream(r.body()), "HEAD has no body");
            }
        }
        let r = answer(Method::GET, &[], text);
        assert_eq!(field(&r, "content-type"), Some("text/plain"));
        let r = answer(
            Method::GET,
            &[("range", "bytes=0-0,500-500")],
            &[b'x'; 1000],
        );
        assert!(
            field(&r, "content-type")
                .unwrap()
                .starts_with("multipart/byteranges; boundary=")
        );
    }

    #[test]
    fn pages_allow_only_scripts_and_requests_from_their_origin() {
        let r = html("<p>x</p>".to_owned(), false);
        let csp = field(&r, "content-security-policy").unwrap();
        assert!(
            csp.starts_with("default-src 'none'; script-src 'self';"),
            "{csp}"
        );
        assert!(csp.contains("connect-src 'self'"));
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(field(&r, "content-length"), Some("8"));
        let r = html("<p>x</p>".to_owned(), true);
        assert!(http_body::Body::is_end_stream(r.body()), "HEAD has no body");
        assert!(field(&r, "content-security-policy").is_some());
    }

    #[test]
    fn active_types() {
        for active in [
            "text/html",
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "application/xml",
            "text/xml",
            "application/rss+xml",
            "text/javascript",
            "application/javascript",
            "TEXT/HTML",
        ] {
            assert!(is_active(active), "{active}");
        }
        for inert in [
            "text/plain",
            "image/png",
            "application/octet-stream",
            "application/json",
            "text/css",
        ] {
            assert!(!is_active(inert), "{inert}");
        }
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(boundary(), boundary());
        assert!(
            boundary().len() <= 70,
            "RFC 2046 §5.1.1: at most 70 characters"
        );
    }
}

//! Deciding the response to a request: status, headers, which bytes to send
//! and how to deliver them, with faults applied. Pure: no I/O here.

use std::io::Write as _;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::corpus::{Body, pattern_bytes};
use crate::fault::Fault;
use crate::range::{RangeOutcome, parse_range, resolve};
use crate::request::Request;
use crate::resource::{DEFAULT_LAST_MODIFIED_UNIX, Resource};
use crate::validators::{Precondition, Validators};

/// The bytes a response carries after its head.
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// `range` of a resource body, generated chunk by chunk while writing.
    Slice { body: Body, range: Range<u64> },
    /// Bytes made for this response (error pages, gzip).
    Owned(Bytes),
    /// `range` of a resource body followed by `garbage` bytes that belong to no resource.
    Padded {
        body: Body,
        range: Range<u64>,
        garbage: u64,
    },
}

impl Payload {
    fn empty() -> Payload {
        Payload::Owned(Bytes::new())
    }

    fn text(s: &'static str) -> Payload {
        Payload::Owned(Bytes::from_static(s.as_bytes()))
    }

    /// Number of bytes.
    pub(crate) fn len(&self) -> u64 {
        match self {
            Payload::Slice { range, .. } => range.end - range.start,
            Payload::Owned(b) => b.len() as u64,
            Payload::Padded { range, garbage, .. } => range.end - range.start + garbage,
        }
    }

    /// Bytes `offset..offset + n` of the payload (relative to its start).
    pub(crate) fn chunk(&self, offset: u64, n: u64) -> Vec<u8> {
        let end = (offset + n).min(self.len());
        match self {
            Payload::Slice { body, range } => body.slice(range.start + offset..range.start + end),
            Payload::Owned(b) => b[offset as usize..end as usize].to_vec(),
            Payload::Padded { body, range, .. } => {
                let claimed = range.end - range.start;
                let mut out =
                    body.slice(range.start + offset.min(claimed)..range.start + end.min(claimed));
                out.extend(pattern_bytes(
                    GARBAGE_SEED,
                    offset.max(claimed) - claimed..end.max(claimed) - claimed,
                ));
                out
            }
        }
    }
}

/// How the end of the body is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length` (absent for 304).
    Length,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// No length; the server closes the connection.
    CloseDelimited,
}

/// How the body bytes are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// All of it.
    Normal,
    /// `k` bytes then FIN.
    Cut(u64),
    /// `k` bytes then RST.
    Reset(u64),
    /// `k` bytes, a pause, the rest.
    Stall(u64, Duration),
    /// All of it, `k` garbage bytes, then FIN.
    Long(u64),
}

/// A complete decision about one response.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Status code.
    pub(crate) status: u16,
    /// All header fields, framing included (but not `Date`/`Server`).
    pub(crate) headers: Vec<(String, String)>,
    /// Bytes to send after the head (empty for HEAD).
    pub(crate) payload: Payload,
    /// Body framing.
    pub(crate) framing: Framing,
    /// Body delivery.
    pub(crate) delivery: Delivery,
    /// Body bytes per second, if throttled.
    pub(crate) rate_limit: Option<u64>,
    /// Close the connection after this response.
    pub(crate) close: bool,
    /// The response has no body at all (HEAD, 304), whatever its headers say.
    pub(crate) no_body: bool,
}

/// Reason phrase for the status line.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Serialises the status line and headers, adding `Date` and `Server`.
pub(crate) fn head_bytes(plan: &Plan) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {} {}\r\n", plan.status, reason(plan.status));
    out.push_str(&format!(
        "Date: {}\r\nServer: durl-testkit\r\n",
        httpdate::fmt_http_date(SystemTime::now())
    ));
    for (name, value) in &plan.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// Seed of the garbage appended by `LongBody` and sent past the claimed range by
/// `OverlongRange`.
pub(crate) const GARBAGE_SEED: u64 = 0xDEAD_BEEF_0BAD_F00D;

/// Status, headers (without framing) and payload, before delivery is decided.
struct Draft {
    status: u16,
    headers: Vec<(String, String)>,
    payload: Payload,
}

impl Draft {
    fn text(status: u16, body: &'static str) -> Draft {
        Draft {
            status,
            headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
            payload: Payload::text(body),
        }
    }
}

/// A plan for responses that do not depend on the request's path: bad
/// requests and the like. Always closes the connection.
pub(crate) fn error_plan(status: u16, body: &'static str) -> Plan {
    let draft = Draft::text(status, body);
    finish(draft, None, None, false, true)
}

/// Headers describing the representation: type, ranges, validators, extras.
fn representation_headers(res: &Resource, v: &Validators, ranges: bool) -> Vec<(String, String)> {
    let mut h = vec![(
        "Content-Type".to_owned(),
        res.content_type
            .clone()
            .unwrap_or_else(|| "application/octet-stream".into()),
    )];
    if ranges {
        h.push(("Accept-Ranges".into(), "bytes".into()));
    }
    if let Some(etag) = &v.etag {
        h.push(("ETag".into(), etag.clone()));
    }
    if let Some(lm) = v.last_modified {
        h.push(("Last-Modified".into(), httpdate::fmt_http_date(lm)));
    }
    if let Some(cd) = &res.content_disposition {
        h.push(("Content-Disposition".into(), cd.clone()));
    }
    h.extend(res.extra_headers.iter().cloned());
    h
}

/// The validators this response advertises, after `ChangeEtag`/`NoValidators`.
fn validators(res: &Resource, fault: Option<&Fault>) -> Validators {
    match fault {
        Some(Fault::ChangeEtag(etag)) => {
            let base = res
                .last_modified
                .unwrap_or(UNIX_EPOCH + Duration::from_secs(DEFAULT_LAST_MODIFIED_UNIX));
            Validators::new(Some(etag.clone()), Some(base + Duration::from_secs(86_400)))
        }
        Some(Fault::NoValidators) => Validators::default(),
        _ => Validators::new(res.etag.clone(), res.last_modified),
    }
}

fn gzip(data: &[u8]) -> Bytes {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    Bytes::from(enc.finish().unwrap_or_default())
}

/// The range actually sent for a requested `range`, after `ShiftContentRange`.
fn shifted(range: Range<u64>, shift: i64, len: u64) -> Range<u64> {
    let n = range.end - range.start;
    let start = (i128::from(range.start) + i128::from(shift)).clamp(0, i128::from(len - 1));
    let start = start as u64;
    start..(start + n).min(len)
}

/// The status, headers and payload for a resource that exists.
fn draft_resource(req: &Request, res: &Resource, fault: Option<&Fault>) -> Draft {
    if let Some((user, password)) = &res.basic_auth {
        // RFC 7617 §2: `Basic base64(user ":" password)`; the scheme is case-insensitive.
        let expected =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let sent = req.header("authorization").and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then(|| token.trim())
        });
        if sent != Some(expected.as_str()) {
            let mut d = Draft::text(401, "unauthorized\n");
            d.headers.push((
                "WWW-Authenticate".into(),
                "Basic realm=\"durl-testkit\"".into(),
            ));
            return d;
        }
    }
    if let Some(redirect) = &res.redirect {
        let mut d = Draft::text(redirect.status, "redirecting\n");
        d.headers
            .push(("Location".into(), redirect.location.clone()));
        return d;
    }
    let len = res.body.len();
    let v = validators(res, fault);
    let full = Payload::Slice {
        body: res.body.clone(),
        range: 0..len,
    };
    match v.preconditions(req) {
        Precondition::Pass => {}
        Precondition::Failed => return Draft::text(412, "precondition failed\n"),
        Precondition::NotModified => {
            let mut headers = Vec::new();
            if let Some(etag) = &v.etag {
                headers.push(("ETag".into(), etag.clone()));
            }
            if let Some(lm) = v.last_modified {
                headers.push(("Last-Modified".into(), httpdate::fmt_http_date(lm)));
            }
            return Draft {
                status: 304,
                headers,
                payload: Payload::empty(),
            };
        }
    }
    if fault == Some(&Fault::Gzip) {
        let mut headers = representation_headers(res, &v, false);
        headers.push(("Content-Encoding".into(), "gzip".into()));
        headers.push(("Vary".into(), "Accept-Encoding".into()));
        let payload = Payload::Owned(gzip(&res.body.slice(0..len)));
        return Draft {
            status: 200,
            headers,
            payload,
        };
    }
    let mut headers = representation_headers(res, &v, res.accept_ranges);
    let unsatisfiable = |mut headers: Vec<(String, String)>| {
        headers[0].1 = "text/plain; charset=utf-8".into();
        headers.push(("Content-Range".into(), format!("bytes */{len}")));
        Draft {
            status: 416,
            headers,
            payload: Payload::text("range not satisfiable\n"),
        }
    };
    if fault == Some(&Fault::Unsatisfiable) {
        return unsatisfiable(headers);
    }
    let spec = match req.header("range") {
        Some(r) if res.accept_ranges && fault != Some(&Fault::IgnoreRange) => parse_range(r),
        _ => None,
    };
    let if_range_ok = match req.header("if-range") {
        _ if fault == Some(&Fault::IgnoreIfRange) => true,
        None => true,
        // RFC 9110 §8.8.3: an entity tag is quoted (`"x"` or `W/"x"`); a date is not.
        Some(ir) if fault == Some(&Fault::IgnoreIfRangeEtag) => {
            !(ir.starts_with('"') || ir.starts_with("W/")) && v.if_range_matches(ir)
        }
        Some(ir) => v.if_range_matches(ir),
    };
    let outcome = match spec {
        Some(spec) if if_range_ok => resolve(spec, len),
        _ => RangeOutcome::Full,
    };
    match outcome {
        RangeOutcome::Full => Draft {
            status: 200,
            headers,
            payload: full,
        },
        RangeOutcome::Unsatisfiable => unsatisfiable(headers),
        RangeOutcome::Partial(range) => {
            if let Some(Fault::OverlongRange(claimed)) = fault {
                let asked = range.end - range.start;
                let claimed = (*claimed).clamp(1, asked);
                let range = range.start..range.start + claimed;
                let value = format!("bytes {}-{}/{len}", range.start, range.end - 1);
                headers.push(("Content-Range".into(), value));
                return Draft {
                    status: 206,
                    headers,
                    payload: Payload::Padded {
                        body: res.body.clone(),
                        range,
                        garbage: asked - claimed,
                    },
                };
            }
            let (range, total) = match fault {
                Some(Fault::ShiftContentRange(shift)) => (shifted(range, *shift, len), len),
                Some(Fault::WrongTotal(total)) => (range, *total),
                _ => (range, len),
            };
            let value = format!("bytes {}-{}/{total}", range.start, range.end - 1);
            headers.push(("Content-Range".into(), value));
            Draft {
                status: 206,
                headers,
                payload: Payload::Slice {
                    body: res.body.clone(),
                    range,
                },
            }
        }
    }
}

/// Adds framing and delivery to a draft.
fn finish(
    draft: Draft,
    fault: Option<&Fault>,
    rate_limit: Option<u64>,
    head: bool,
    close: bool,
) -> Plan {
    let Draft {
        status,
        mut headers,
        payload,
    } = draft;
    let (framing, delivery) = match fault {
        Some(Fault::CutAfter(k)) => (Framing::Length, Delivery::Cut(*k)),
        Some(Fault::CutAtOffset(at)) => {
            let start = match &payload {
                Payload::Slice { range, .. } | Payload::Padded { range, .. } => range.start,
                Payload::Owned(_) => 0,
            };
            (Framing::Length, Delivery::Cut(at.saturating_sub(start)))
        }
        Some(Fault::ResetAfter(k)) => (Framing::Length, Delivery::Reset(*k)),
        Some(Fault::StallAfter(k, d)) => (Framing::Length, Delivery::Stall(*k, *d)),
        Some(Fault::LongBody(k)) => (Framing::Length, Delivery::Long(*k)),
        Some(Fault::CloseDelimited) => (Framing::CloseDelimited, Delivery::Normal),
        Some(Fault::Chunked) => (Framing::Chunked, Delivery::Normal),
        _ => (Framing::Length, Delivery::Normal),
    };
    let mut close = close;
    match framing {
        Framing::Length if status != 304 => {
            headers.push(("Content-Length".into(), payload.len().to_string()));
        }
        Framing::Length => {}
        Framing::Chunked => headers.push(("Transfer-Encoding".into(), "chunked".into())),
        Framing::CloseDelimited => close = true,
    }
    if close {
        headers.push(("Connection".into(), "close".into()));
    }
    // LongBody closes after its garbage without announcing it: the headers stay correct.
    let close = close || matches!(delivery, Delivery::Long(_));
    let no_body = head || status == 304;
    let payload = if no_body { Payload::empty() } else { payload };
    Plan {
        status,
        headers,
        payload,
        framing,
        delivery,
        rate_limit,
        close,
        no_body,
    }
}

/// Decides the response to `req` for `resource` (None: not found) with an
/// optional `fault`.
pub(crate) fn plan(req: &Request, resource: Option<&Resource>, fault: Option<&Fault>) -> Plan {
    let head = req.method == "HEAD";
    if req.method != "GET" && !head {
        let mut draft = Draft::text(405, "method not allowed\n");
        draft.headers.push(("Allow".into(), "GET, HEAD".into()));
        return finish(draft, None, None, false, true);
    }
    let close = !req.keep_alive() || req.has_body();
    let draft = match (fault, resource) {
        (Some(Fault::Status { code, retry_after }), _) => {
            let mut d = Draft::text(*code, "error page");
            if let Some(ra) = retry_after {
                d.headers.push(("Retry-After".into(), ra.clone()));
            }
            d
        }
        (_, None) => Draft::text(404, "not found\n"),
        (_, Some(res)) => draft_resource(req, res, fault),
    };
    finish(
        draft,
        fault,
        resource.and_then(|r| r.rate_limit),
        head,
        close,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_head;

    fn req(method: &str, headers: &[&str]) -> Request {
        let mut head = format!("{method} /f HTTP/1.1\r\nHost: x\r\n");
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        parse_head(head.as_bytes()).expect("test request parses")
    }

    fn header<'a>(plan: &'a Plan, name: &str) -> Option<&'a str> {
        let found = plan
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        found.map(|(_, v)| v.as_str())
    }

    /// Method, request headers, fault, then the expected status,
    /// `Content-Length`, payload length and close.
    type Case<'a> = (
        &'a str,
        &'a [&'a str],
        Option<Fault>,
        u16,
        Option<&'a str>,
        u64,
        bool,
    );

    #[test]
    fn status_and_framing_table() {
        let res = Resource::pattern(1, 100);
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("GET", &[], None, 200, Some("100"), 100, false),
            ("HEAD", &[], None, 200, Some("100"), 0, false),
            ("GET", &["Range: bytes=10-19"], None, 206, Some("10"), 10, false),
            ("HEAD", &["Range: bytes=10-19"], None, 206, Some("10"), 0, false),
            ("GET", &["Range: bytes=100-"], None, 416, Some("22"), 22, false),
            ("GET", &["Connection: close"], None, 200, Some("100"), 100, true),
            ("GET", &["If-None-Match: \"s1-100\""], None, 304, None, 0, false),
            ("GET", &[], Some(Fault::Chunked), 200, None, 100, false),
            ("GET", &[], Some(Fault::CloseDelimited), 200, None, 100, true),
            ("GET", &[], Some(Fault::LongBody(5)), 200, Some("100"), 100, true),
            ("GET", &[], Some(Fault::CutAfter(5)), 200, Some("100"), 100, false),
            ("GET", &["Range: bytes=0-9"], Some(Fault::IgnoreRange), 200, Some("100"), 100, false),
            ("GET", &["Range: bytes=0-9"], Some(Fault::Unsatisfiable), 416, Some("22"), 22, false),
            ("GET", &["Range: bytes=10-59"], Some(Fault::OverlongRange(5)), 206, Some("50"), 50, false),
            ("POST", &[], None, 405, Some("19"), 19, true),
            ("GET", &["Content-Length: 3"], None, 200, Some("100"), 100, true),
        ];
        for (method, headers, fault, status, length, payload, close) in cases {
            let plan = plan(&req(method, headers), Some(&res), fault.as_ref());
            let what = format!("{method} {headers:?} {fault:?}");
            assert_eq!(plan.status, *status, "{what}");
            assert_eq!(header(&plan, "content-length"), *length, "{what}");
            assert_eq!(plan.payload.len(), *payload, "{what}");
            assert_eq!(plan.close, *close, "{what}");
        }
    }

    #[test]
    fn an_overlong_range_claims_k_bytes_and_pads_with_garbage() {
        let res = Resource::pattern(3, 100);
        let plan = plan(
            &req("GET", &["Range: bytes=10-59"]),
            Some(&res),
            Some(&Fault::OverlongRange(5)),
        );
        assert_eq!(header(&plan, "content-range"), Some("bytes 10-14/100"));
        let body = plan.payload.chunk(0, 50);
        assert_eq!(body[..5], pattern_bytes(3, 10..15)[..]);
        assert_eq!(body[5..], pattern_bytes(GARBAGE_SEED, 0..45)[..]);
        assert_ne!(body[5..], pattern_bytes(3, 15..60)[..]);
        // Read in pieces across the boundary, the same bytes.
        let mut pieces = plan.payload.chunk(0, 3);
        pieces.extend(plan.payload.chunk(3, 47));
        assert_eq!(pieces, body);
    }

    #[test]
    fn a_cut_at_an_offset_ends_every_response_at_that_byte_of_the_file() {
        let res = Resource::pattern(1, 100);
        // (request headers, body bytes sent before the cut)
        for (headers, want) in [
            (&[][..], 60),
            (&["Range: bytes=10-"][..], 50),
            (&["Range: bytes=60-"][..], 0),
            (&["Range: bytes=70-79"][..], 0),
        ] {
            let plan = plan(
                &req("GET", headers),
                Some(&res),
                Some(&Fault::CutAtOffset(60)),
            );
            assert!(
                matches!(plan.delivery, Delivery::Cut(k) if k == want),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn announced_close_only_when_not_a_surprise() {
        let res = Resource::pattern(1, 100);
        let get = req("GET", &[]);
        let long = plan(&get, Some(&res), Some(&Fault::LongBody(1)));
        assert_eq!(header(&long, "connection"), None);
        let delimited = plan(&get, Some(&res), Some(&Fault::CloseDelimited));
        assert_eq!(header(&delimited, "connection"), Some("close"));
        let chunked = plan(&get, Some(&res), Some(&Fault::Chunked));
        assert_eq!(header(&chunked, "transfer-encoding"), Some("chunked"));
    }

    #[test]
    fn shifted_ranges_are_clamped() {
        let cases: &[(Range<u64>, i64, u64, Range<u64>)] = &[
            (100..200, 10, 1000, 110..210),
            (100..200, -10, 1000, 90..190),
            (100..200, -1000, 1000, 0..100),
            (900..1000, 50, 1000, 950..1000),
            (900..1000, 5000, 1000, 999..1000),
        ];
        for (range, shift, len, want) in cases {
            assert_eq!(
                shifted(range.clone(), *shift, *len),
                *want,
                "{range:?} {shift}"
            );
        }
    }

    #[test]
    fn payload_chunks() {
        let p = Payload::Slice {
            body: Body::Pattern { seed: 2, len: 1000 },
            range: 100..200,
        };
        assert_eq!(p.chunk(0, 10), crate::corpus::pattern_bytes(2, 100..110));
        assert_eq!(p.chunk(95, 10), crate::corpus::pattern_bytes(2, 195..200));
        let o = Payload::text("abc");
        assert_eq!(o.chunk(1, 5), b"bc");
    }

    #[test]
    fn head_serialisation() {
        let plan = error_plan(400, "bad request\n");
        let text = String::from_utf8(head_bytes(&plan)).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 400 Bad Request\r\nDate: "),
            "{text}"
        );
        assert!(
            text.contains("\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"),
            "{text}"
        );
    }
}

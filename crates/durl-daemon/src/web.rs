//! The web page at `/`: HTML, script and style sheet compiled into the binary. No CDN, no
//! build step, no inline script or style, so a strict Content-Security-Policy holds: the
//! page may load only its own two files and talk only to its own origin (`connect-src
//! 'self'` covers the same-origin WebSocket in CSP Level 3, §6.7.2.8).

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use hyper::header::{self, HeaderValue};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = include_str!("web/index.html");

/// Path, media type, bytes.
const ASSETS: [(&str, &str, &str); 2] = [
    (
        "/daemon.js",
        // RFC 9239 §6.
        "text/javascript; charset=utf-8",
        include_str!("web/daemon.js"),
    ),
    (
        "/daemon.css",
        "text/css; charset=utf-8",
        include_str!("web/daemon.css"),
    ),
];

fn respond(content_type: &'static str, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// The page.
pub(crate) fn page() -> Response<Full<Bytes>> {
    respond("text/html; charset=utf-8", PAGE)
}

/// The asset at `path`, if there is one.
pub(crate) fn asset(path: &str) -> Option<Response<Full<Bytes>>> {
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, content_type, body)| respond(content_type, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_no_inline_script_or_style() {
        let lower = PAGE.to_ascii_lowercase();
        assert!(!lower.contains("<style"), "inline style element");
        assert!(!lower.contains(" style="), "style attribute");
        // No inline event handlers: no attribute of any tag is named on….
        for tag in lower.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or_default();
            for word in tag.split_whitespace().skip(1) {
                assert!(
                    !(word.starts_with("on") && word.contains('=')),
                    "handler in <{tag}>"
                );
            }
        }
        for (i, _) in lower.match_indices("<script") {
            let tag = &lower[i..i + lower[i..].find('>').unwrap()];
            assert!(tag.contains("src=\"/daemon.js\""), "inline script: {tag}");
        }
        for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//"] {
            assert!(!lower.contains(attr), "no CDN: {attr}");
        }
    }
}

//! The browser upload page's script and style sheet, compiled into the binary and served at
//! fixed paths under `/.durl/` when uploads are on (the listing page links them; it has no
//! inline script, so a `script-src 'self'` Content-Security-Policy holds).
//!
//! Each asset has a strong ETag (RFC 9110 §8.8.3), the hex SHA-256 of its bytes, computed
//! once; `Cache-Control: no-cache` (RFC 9111 §5.2.2.4) makes browsers revalidate it on every
//! use, and a matching `If-None-Match` gets 304 (RFC 9110 §13.1.2, §15.4.5), so a newer
//! durl's script is picked up at once while an unchanged one costs one small request.

use std::fmt::Write as _;
use std::sync::OnceLock;

use http::header::{
    CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{Method, Response, StatusCode};
use sha2::{Digest as _, Sha256};

use crate::body::Body;
use crate::conditional;
use crate::response;

/// The tus client of the listing page.
pub(crate) const SCRIPT_PATH: &str = "/.durl/upload.js";
/// The listing page's upload area style.
pub(crate) const STYLE_PATH: &str = "/.durl/upload.css";
/// The listing page's style (served whether or not uploads are on).
pub(crate) const LISTING_STYLE_PATH: &str = "/.durl/listing.css";
/// The icon browsers fetch on every visit; a file of that name in the root wins.
pub(crate) const FAVICON_PATH: &str = "/favicon.ico";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    bytes: fn() -> &'static [u8],
}

const ASSETS: [Asset; 4] = [
    Asset {
        path: SCRIPT_PATH,
        // RFC 9239 §6: text/javascript is the media type for JavaScript.
        content_type: "text/javascript; charset=utf-8",
        bytes: || include_bytes!("../assets/upload.js"),
    },
    Asset {
        path: STYLE_PATH,
        content_type: "text/css; charset=utf-8",
        bytes: || include_bytes!("../assets/upload.css"),
    },
    Asset {
        path: LISTING_STYLE_PATH,
        content_type: "text/css; charset=utf-8",
        bytes: || include_bytes!("../assets/listing.css"),
    },
    Asset {
        path: FAVICON_PATH,
        content_type: "image/x-icon",
        bytes: crate::favicon::bytes,
    },
];

/// Whether `path` (the raw request path) names an asset of the upload page.
pub(crate) fn is_upload_asset_path(path: &str) -> bool {
    path == SCRIPT_PATH || path == STYLE_PATH
}

fn find(path: &str) -> Option<(usize, &'static Asset)> {
    ASSETS.iter().enumerate().find(|(_, a)| a.path == path)
}

/// The entity-tag's opaque part for asset `i`: the hex SHA-256 of its bytes.
fn etag_opaque(i: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let mut hex = String::with_capacity(64);
                for b in Sha256::digest((a.bytes)()) {
                    let _ = write!(hex, "{b:02x}");
                }
                hex
            })
            .collect()
    });
    &tags[i]
}

/// Answers a request for the asset at `path` (which [`is_asset_path`] accepted): GET and
/// HEAD only (405 otherwise, RFC 9110 §15.5.6), 304 when the client's copy is current.
pub(crate) fn answer(method: &Method, path: &str, headers: &HeaderMap) -> Response<Body> {
    let Some((i, asset)) = find(path) else {
        return response::status(StatusCode::NOT_FOUND);
    };
    if method != Method::GET && method != Method::HEAD {
        return response::method_not_allowed();
    }
    let etag = HeaderValue::try_from(format!("\"{}\"", etag_opaque(i)))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let not_modified = conditional::not_modified(headers, etag_opaque(i));
    let body = if not_modified || method == Method::HEAD {
        Body::empty()
    } else {
        Body::bytes((asset.bytes)())
    };
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(ETAG, etag);
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if not_modified {
        // RFC 9110 §15.4.5: a 304 carries the ETag and Cache-Control a 200 would have had.
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    h.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(CONTENT_LENGTH, HeaderValue::from((asset.bytes)().len()));
    response
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    fn field<'a>(r: &'a Response<Body>, name: &str) -> Option<&'a str> {
        r.headers().get(name).map(|v| v.to_str().unwrap())
    }

    fn with(fields: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    async fn body(r: Response<Body>) -> Vec<u8> {
        r.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    #[test]
    fn only_the_fixed_paths_are_assets() {
        assert!(is_upload_asset_path("/.durl/upload.js"));
        assert!(is_upload_asset_path("/.durl/upload.css"));
        assert!(!is_upload_asset_path(LISTING_STYLE_PATH));
        assert!(find(LISTING_STYLE_PATH).is_some() && find(FAVICON_PATH).is_some());
        for other in [
            "/.durl/",
            "/.durl/upload.js/",
            "/.durl/upload.jsx",
            "/.durl/uploads/",
            "/upload.js",
            "/.durl/Upload.js",
        ] {
            assert!(
                !is_upload_asset_path(other) && find(other).is_none(),
                "{other}"
            );
        }
    }

    #[tokio::test]
    async fn the_script_has_its_type_a_strong_etag_and_revalidates() {
        let r = answer(&Method::GET, SCRIPT_PATH, &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            field(&r, "content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(field(&r, "x-content-type-options"), Some("nosniff"));
        assert_eq!(field(&r, "cache-control"), Some("no-cache"));
        let etag = field(&r, "etag").unwrap().to_owned();
        // Strong (no W/), quoted, the SHA-256 of the bytes in hex.
        assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() == 66);
        let len: usize = field(&r, "content-length").unwrap().parse().unwrap();
        let bytes = body(r).await;
        assert_eq!(bytes.len(), len);
        assert_eq!(bytes, include_bytes!("../assets/upload.js"));
        let mut hex = String::new();
        for b in Sha256::digest(&bytes) {
            let _ = write!(hex, "{b:02x}");
        }
        assert_eq!(etag, format!("\"{hex}\""));

        // The same ETag back: 304 with no body; weak comparison (RFC 9110 §13.1.2).
        for tag in [etag.clone(), format!("W/{etag}"), format!("\"x\", {etag}")] {
            let r = answer(&Method::GET, SCRIPT_PATH, &with(&[("if-none-match", &tag)]));
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{tag}");
            assert_eq!(field(&r, "etag"), Some(etag.as_str()));
            assert_eq!(field(&r, "cache-control"), Some("no-cache"));
            assert!(body(r).await.is_empty());
        }
        // Another tag, or a date (no Last-Modified to compare with): the whole script.
        for fields in [
            &[("if-none-match", "\"old\"")][..],
            &[("if-modified-since", "Sun, 06 Nov 2095 08:49:37 GMT")][..],
        ] {
            let r = answer(&Method::GET, SCRIPT_PATH, &with(fields));
            assert_eq!(r.status(), StatusCode::OK, "{fields:?}");
            assert_eq!(body(r).await.len(), len);
        }
    }

    #[tokio::test]
    async fn head_has_the_fields_without_content_and_other_methods_get_405() {
        let get = answer(&Method::GET, STYLE_PATH, &HeaderMap::new());
        let head = answer(&Method::HEAD, STYLE_PATH, &HeaderMap::new());
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(
            field(&head, "content-type"),
            Some("text/css; charset=utf-8")
        );
        assert_eq!(field(&head, "etag"), field(&get, "etag"));
        assert_eq!(
            field(&head, "content-length"),
            field(&get, "content-length")
        );
        assert_ne!(
            field(&get, "etag"),
            {
                let js = answer(&Method::GET, SCRIPT_PATH, &HeaderMap::new());
                field(&js, "etag").map(str::to_owned)
            }
            .as_deref()
        );
        assert!(body(head).await.is_empty());
        let post = answer(&Method::POST, SCRIPT_PATH, &HeaderMap::new());
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(field(&post, "allow"), Some("GET, HEAD"));
    }
}

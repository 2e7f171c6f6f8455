//! The HTTP side: building the client, sending one request, and reading what a response
//! says about the remote file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use reqwest::header::{
    ACCEPT_ENCODING, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, HOST, HeaderMap,
    HeaderValue, IF_RANGE, LOCATION, RANGE, RETRY_AFTER, USER_AGENT,
};
use reqwest::{Client, Response, redirect};
use url::Url;

use crate::network::Credentials;
use crate::store::retry;
use crate::{Error, GetRequest};
use content_range::ContentRange;

mod classify;
pub(crate) mod content_range;
pub(crate) mod digest;
pub(crate) mod head;
pub(crate) mod stream;
pub(crate) mod transport;
pub(crate) mod validator;

pub(crate) use classify::{Asked, Held, Verdict};

/// What `resp` means for the bytes asked for ([`classify::classify`]); `same_version` says
/// whether its validators name the version held.
pub(crate) fn classify(resp: &Response, asked: Asked, same_version: bool) -> Verdict {
    let answer = classify::Answer {
        status: resp.status().as_u16(),
        content_range: content_range(resp),
        content_length: content_length(resp),
        same_version,
    };
    classify::classify(asked, &answer)
}

/// Builds the client for a request: no automatic decompression (bytes are stored as sent and
/// ranges count encoded octets), `Accept-Encoding: identity`, TLS roots. Redirects are
/// followed by [`send`], not by reqwest, so that the caller's `-H` headers go only to the
/// origin they were meant for; no `Referer` is ever sent (the source URL may be signed).
pub(crate) fn client(req: &GetRequest) -> Result<Client, Error> {
    // The caller's headers go on each request (`send`): reqwest's default headers keep only
    // the first value of a repeated name.
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    let builder = Client::builder()
        .user_agent(req.user_agent.clone())
        .default_headers(headers)
        .connect_timeout(req.network.connect_timeout)
        .redirect(redirect::Policy::none())
        .referer(false);
    let builder = req.network.apply_proxy(builder)?;
    finish_client(
        builder,
        &req.network.root_certificates,
        req.network.insecure,
    )
}

pub(crate) use crate::network::same_origin;

/// Builds the client with durl's TLS configuration ([`crate::tls`]: the system roots, the
/// PEM certificates in `roots`, a pinned self-signed `--cacert`, or `insecure`), offering
/// HTTP/2 and HTTP/1.1.
pub(crate) fn finish_client(
    builder: reqwest::ClientBuilder,
    roots: &[std::path::PathBuf],
    insecure: bool,
) -> Result<Client, Error> {
    let mut tls = (*crate::tls::client_config(roots, insecure)?).clone();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    builder
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| Error::Setup {
            what: "cannot build the HTTP client".into(),
            source: Some(Box::new(e)),
        })
}

/// Sends a GET (or HEAD) for `url` (the request's URL or a mirror), asking for `range`, and
/// follows up to `max_redirects` redirects (RFC 9110 §15.4: 301, 302, 303, 307 and 308 with a
/// `Location`), stopping a loop as soon as a URL repeats. The caller's headers and the URL's
/// login go only to `url`'s origin unless `--location-trusted`; waiting for each response
/// head counts against the stall timeout.
pub(crate) async fn send(
    client: &Client,
    req: &GetRequest,
    url: &Url,
    head: bool,
    range: RangeAsk<'_>,
) -> Result<Response, Error> {
    let mut seen = vec![url.clone()];
    let mut current = url.clone();
    let login = req.network.credentials(url, &req.url);
    loop {
        let trusted = req.location_trusted || same_origin(url, &current);
        let login = login.as_ref().filter(|_| trusted);
        let resp = send_one(client, req, &current, head, &range, trusted, login).await?;
        let Some(mut next) = redirect_target(&resp, &current) else {
            return Ok(resp);
        };
        let fail = |detail: String| Error::Redirect {
            url: url.clone(),
            detail,
        };
        if !matches!(next.scheme(), "http" | "https") {
            return Err(fail(format!(
                "redirect to a URL that is not http(s): {}",
                crate::Redacted(&next)
            )));
        }
        if next.username().is_empty() && (req.location_trusted || same_origin(url, &next)) {
            // The login the user gave goes on within its origin (reqwest kept its
            // Authorization header there too).
            let _ = next.set_username(url.username());
            let _ = next.set_password(url.password());
        }
        if seen.iter().any(|u| u == &next) {
            return Err(fail(format!("redirect loop at {}", crate::Redacted(&next))));
        }
        if seen.len() > req.max_redirects {
            return Err(fail(format!("more than {} redirects", req.max_redirects)));
        }
        seen.push(next.clone());
        current = next;
    }
}

/// Where a redirect response points, resolved against the URL that gave it; `None` for any
/// other response (or a `Location` that is no URL, which is then answered as a status).
fn redirect_target(resp: &Response, current: &Url) -> Option<Url> {
    if !matches!(resp.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = resp.headers().get(LOCATION)?.to_str().ok()?;
    current.join(location).ok()
}

/// One request of [`send`], with the caller's headers when `trusted`, and `login` as Basic
/// credentials (RFC 7617; a `-H 'Authorization: …'` replaces them, as in curl).
async fn send_one(
    client: &Client,
    req: &GetRequest,
    url: &Url,
    head: bool,
    range: &RangeAsk<'_>,
    trusted: bool,
    login: Option<&Credentials>,
) -> Result<Response, Error> {
    // The URL's own login is in `login` already (reqwest would add a second Authorization).
    let mut bare = url.clone();
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    let mut rb = if head {
        client.head(bare)
    } else {
        client.get(bare)
    };
    // Set here rather than as the client's defaults, so that the request built is what is
    // sent (and what `-v` shows); a `-H` of the same name replaces them.
    let mut own = HeaderMap::new();
    if let Ok(ua) = HeaderValue::try_from(req.user_agent.as_str()) {
        own.insert(USER_AGENT, ua);
    }
    own.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    if !head {
        // RFC 9530 §4: the digest checked before the file gets its name.
        own.insert("want-repr-digest", HeaderValue::from_static(digest::WANT));
    }
    rb = rb.headers(own);
    if let Some(login) = login {
        rb = rb.basic_auth(&login.user, Some(&login.password));
    }
    if trusted {
        rb = rb.headers(req.network.headers.clone());
    }
    // Set after the caller's headers and replacing them: the range is durl's to ask.
    let mut ranges = HeaderMap::new();
    let (value, if_range) = match range {
        RangeAsk::None => (None, None),
        RangeAsk::From { start, if_range } => (Some(content_range::range_from(*start)), *if_range),
        RangeAsk::Bounded { range, if_range } => {
            (Some(content_range::range_header(range)), *if_range)
        }
    };
    if let Some(value) = value.and_then(|v| HeaderValue::try_from(v).ok()) {
        ranges.insert(RANGE, value);
    }
    if let Some(value) = if_range.and_then(|v| HeaderValue::try_from(v).ok()) {
        ranges.insert(IF_RANGE, value);
    }
    rb = rb.headers(ranges);
    let request = rb.build().map_err(|e| transport_error(url, e))?;
    let id = observe_request(&req.network, &request, url);
    match tokio::time::timeout(req.network.stall_timeout, client.execute(request)).await {
        Err(_) => Err(Error::Stalled {
            url: crate::redacted(url),
            timeout: req.network.stall_timeout,
        }),
        Ok(Err(e)) => Err(transport_error(url, e)),
        Ok(Ok(resp)) => {
            observe_response(&req.network, id, &resp);
            Ok(resp)
        }
    }
}

/// The request numbers of [`Wire`](crate::Wire), unique in the process.
static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// Shows `request` (to `url`, which may hold the login) to the network's wire observer, if
/// any, with `Host` first; returns its number.
pub(crate) fn observe_request(
    network: &crate::Network,
    request: &reqwest::Request,
    url: &Url,
) -> u64 {
    let id = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
    if let Some(hook) = &network.wire {
        let mut headers = HeaderMap::new();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        if let Ok(host) = HeaderValue::try_from(host) {
            headers.insert(HOST, host);
        }
        for (name, value) in request.headers() {
            headers.append(name.clone(), value.clone());
        }
        hook.0.observe(crate::Wire::Request {
            id,
            method: request.method().as_str(),
            url,
            headers: &headers,
        });
    }
    id
}

/// Shows the head of the response to request `id` to the network's wire observer, if any.
pub(crate) fn observe_response(network: &crate::Network, id: u64, resp: &Response) {
    if let Some(hook) = &network.wire {
        let version = format!("{:?}", resp.version());
        hook.0.observe(crate::Wire::Response {
            id,
            version: &version,
            status: resp.status().as_u16(),
            reason: resp.status().canonical_reason().unwrap_or(""),
            headers: resp.headers(),
        });
    }
}

/// What to put in the `Range` header.
#[derive(Debug, Clone)]
pub(crate) enum RangeAsk<'a> {
    /// No `Range`.
    None,
    /// `bytes=start-`, with `If-Range` if given.
    From {
        start: u64,
        if_range: Option<&'a str>,
    },
    /// `bytes=a-b` for the half-open range, with `If-Range` if given.
    Bounded {
        range: std::ops::Range<u64>,
        if_range: Option<&'a str>,
    },
}

/// Maps a reqwest error to ours.
pub(crate) fn transport_error(url: &Url, e: reqwest::Error) -> Error {
    Error::Network {
        url: crate::redacted(url),
        source: crate::error::TransportError::new(e),
    }
}

/// The error for a non-success status, with its `Retry-After`.
pub(crate) fn status_error(resp: &Response) -> Error {
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
    Error::Refused {
        url: resp.url().clone(),
        reply: Box::new(crate::error::Reply::Http {
            status: resp.status().as_u16(),
            retry_after,
        }),
    }
}

/// The parsed `Content-Range` of a response, if it has a valid one.
pub(crate) fn content_range(resp: &Response) -> Option<ContentRange> {
    resp.headers()
        .get(CONTENT_RANGE)?
        .to_str()
        .ok()
        .and_then(content_range::parse)
}

/// The `Content-Length` of a response (the body length, not the file length for a 206).
pub(crate) fn content_length(resp: &Response) -> Option<u64> {
    resp.headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The raw `Content-Disposition` of a response.
pub(crate) fn content_disposition(resp: &Response) -> Option<String> {
    resp.headers()
        .get(CONTENT_DISPOSITION)?
        .to_str()
        .ok()
        .map(str::to_owned)
}

/// Reads the next chunk of a body; silence longer than `stall` is an error.
pub(crate) async fn next_chunk(
    resp: &mut Response,
    stall: Duration,
    url: &Url,
) -> Result<Option<bytes::Bytes>, Error> {
    match tokio::time::timeout(stall, resp.chunk()).await {
        Err(_) => Err(Error::Stalled {
            url: url.clone(),
            timeout: stall,
        }),
        Ok(Err(e)) => Err(transport_error(url, e)),
        Ok(Ok(chunk)) => Ok(chunk),
    }
}

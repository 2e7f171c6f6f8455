//! The HTTP side: building the client, sending one request, and reading what a response
//! says about the remote file.

use std::fs;
use std::time::{Duration, SystemTime};

use reqwest::header::{
    ACCEPT_ENCODING, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, HeaderMap, HeaderValue,
    IF_RANGE, RANGE, RETRY_AFTER,
};
use reqwest::{Client, Response, redirect};
use url::Url;

use crate::store::retry;
use crate::{Error, GetRequest};
use content_range::ContentRange;

mod classify;
pub mod content_range;
pub mod filename;
pub(crate) mod get;
pub(crate) mod transfer;
pub(crate) mod transport;
pub mod validator;

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
/// ranges count encoded octets), `Accept-Encoding: identity`, the redirect policy, TLS roots.
pub(crate) fn client(req: &GetRequest) -> Result<Client, Error> {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    for (name, value) in &req.headers {
        headers.insert(name.clone(), value.clone());
    }
    let builder = Client::builder()
        .user_agent(req.user_agent.clone())
        .default_headers(headers)
        .connect_timeout(req.connect_timeout)
        .redirect(redirect_policy(req.max_redirects))
        .tls_danger_accept_invalid_certs(req.insecure);
    finish_client(builder, &req.root_certificates)
}

/// Adds the PEM certificates in `roots` to the system roots and builds the client.
pub(crate) fn finish_client(
    mut builder: reqwest::ClientBuilder,
    roots: &[std::path::PathBuf],
) -> Result<Client, Error> {
    let mut certs = Vec::new();
    for path in roots {
        let pem = fs::read(path).map_err(|e| Error::Setup {
            what: format!("cannot read certificate file {}", path.display()),
            source: Some(Box::new(e)),
        })?;
        let bundle = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Setup {
            what: format!("no PEM certificate in {}", path.display()),
            source: Some(Box::new(e)),
        })?;
        if bundle.is_empty() {
            return Err(Error::Setup {
                what: format!("no PEM certificate in {}", path.display()),
                source: None,
            });
        }
        certs.extend(bundle);
    }
    if !certs.is_empty() {
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| Error::Setup {
        what: "cannot build the HTTP client".into(),
        source: Some(Box::new(e)),
    })
}

/// Follows up to `max` redirects and stops a loop as soon as a URL repeats.
fn redirect_policy(max: usize) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().contains(attempt.url()) {
            let e = format!("redirect loop at {}", attempt.url());
            attempt.error(e)
        } else if attempt.previous().len() > max {
            attempt.error(format!("more than {max} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// Sends a GET (or HEAD) for `url` (the request's URL or a mirror), asking for `range_start..` with `If-Range` when
/// `range_start` is given, or for exactly `bounded` when that is given. Waiting for the
/// response head counts against the stall timeout.
pub(crate) async fn send(
    client: &Client,
    req: &GetRequest,
    url: &Url,
    head: bool,
    range: RangeAsk<'_>,
) -> Result<Response, Error> {
    let mut rb = if head {
        client.head(url.clone())
    } else {
        client.get(url.clone())
    };
    match range {
        RangeAsk::None => {}
        RangeAsk::From { start, if_range } => {
            rb = rb.header(RANGE, content_range::range_from(start));
            if let Some(v) = if_range {
                rb = rb.header(IF_RANGE, v);
            }
        }
        RangeAsk::Bounded { range, if_range } => {
            rb = rb.header(RANGE, content_range::range_header(&range));
            if let Some(v) = if_range {
                rb = rb.header(IF_RANGE, v);
            }
        }
    }
    match tokio::time::timeout(req.stall_timeout, rb.send()).await {
        Err(_) => Err(Error::Stalled {
            url: url.clone(),
            timeout: req.stall_timeout,
        }),
        Ok(Err(e)) => Err(transport_error(url, e)),
        Ok(Ok(resp)) => Ok(resp),
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
    if e.is_redirect() {
        Error::Redirect {
            url: url.clone(),
            source: e,
        }
    } else {
        Error::Network {
            url: url.clone(),
            source: e,
        }
    }
}

/// The error for a non-success status, with its `Retry-After`.
pub(crate) fn status_error(resp: &Response) -> Error {
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
    Error::Status {
        url: resp.url().clone(),
        status: resp.status().as_u16(),
        retry_after,
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

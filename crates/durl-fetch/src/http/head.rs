//! [`head`]: the response head of a URL, what `durl get -I` prints.

use reqwest::header::HeaderMap;
use url::Url;

use super::RangeAsk;
use crate::error::Reply;
use crate::{Error, GetRequest};

/// A response head: status line and headers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Head {
    /// The URL that answered, after redirects (without its password).
    pub url: Url,
    /// `HTTP/1.1`, `HTTP/2`, ...
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The status's reason phrase, if it has a standard one.
    pub reason: String,
    /// The headers, in the order received.
    pub headers: HeaderMap,
    /// The server refused `HEAD` (405 or 501) and this is the head of a `GET`, whose body was
    /// not read.
    pub from_get: bool,
}

impl Head {
    /// The error an error status (4xx, 5xx) stands for, as a download would report it.
    pub fn refusal(&self) -> Option<Error> {
        (self.status >= 400).then(|| Error::Refused {
            url: self.url.clone(),
            reply: Box::new(Reply::Http {
                status: self.status,
                retry_after: None,
            }),
        })
    }
}

/// Sends `HEAD` for the request's URL (following redirects, with its headers and login as a
/// download sends them) and returns the response head. A server that refuses `HEAD` (405
/// Method Not Allowed or 501 Not Implemented, RFC 9110 §9.3.2 makes it optional only in
/// name) is asked with a `GET` instead, whose body is dropped after the head. One attempt:
/// no retries. An error status is a head like any other ([`Head::refusal`]).
///
/// # Errors
/// [`Error::UnsupportedScheme`] for `ftp://`; network, stall and redirect errors.
pub async fn head(req: &GetRequest) -> Result<Head, Error> {
    if !matches!(req.url.scheme(), "http" | "https") {
        return Err(Error::UnsupportedScheme {
            scheme: req.url.scheme().to_owned(),
            url: crate::redacted(&req.url),
        });
    }
    let client = super::client(req)?;
    let mut resp = super::send(&client, req, &req.url, true, RangeAsk::None).await?;
    let mut from_get = false;
    if matches!(resp.status().as_u16(), 405 | 501) {
        // Dropping the response after its head closes the connection mid-body.
        resp = super::send(&client, req, &req.url, false, RangeAsk::None).await?;
        from_get = true;
    }
    Ok(Head {
        url: crate::redacted(resp.url()),
        version: format!("{:?}", resp.version()),
        status: resp.status().as_u16(),
        reason: resp
            .status()
            .canonical_reason()
            .unwrap_or_default()
            .to_owned(),
        headers: resp.headers().clone(),
        from_get,
    })
}

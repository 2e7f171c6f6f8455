//! `-v/--verbose`: every HTTP request head durl sends and response head it receives, on
//! stderr, each line prefixed by the request's number (redirects, ranges, retries and
//! segments each have their own), with the secrets masked: the values of `Authorization`,
//! `Proxy-Authorization` (all but the scheme), `Cookie` and `Set-Cookie`, and URL passwords.

use std::io::Write as _;

#[cfg(test)]
use durl_fetch::header::HeaderMap;
use durl_fetch::header::HeaderName;
use durl_fetch::{Redacted, Wire, WireObserver};

/// Prints [`Wire`] heads on stderr.
#[derive(Debug, Default)]
pub struct Verbose;

impl WireObserver for Verbose {
    fn observe(&self, wire: Wire<'_>) {
        let text = render(&wire);
        // One write per head, so that heads of concurrent requests do not interleave.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// The lines of one head.
pub fn render(wire: &Wire<'_>) -> String {
    let (id, arrow, first, headers) = match wire {
        Wire::Request {
            id,
            method,
            url,
            headers,
        } => (*id, '>', format!("{method} {}", Redacted(url)), *headers),
        Wire::Response {
            id,
            version,
            status,
            reason,
            headers,
        } => (*id, '<', format!("{version} {status} {reason}"), *headers),
        _ => return String::new(),
    };
    let mut out = format!("[{id}] {arrow} {}\n", first.trim_end());
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.push_str(&format!(
            "[{id}] {arrow} {name}: {}\n",
            masked(name, &value)
        ));
    }
    out
}

/// `value` of header `name` with its secret masked: credentials keep their scheme
/// (`Basic ****`), cookies are masked whole.
fn masked(name: &HeaderName, value: &str) -> String {
    match name.as_str() {
        "authorization" | "proxy-authorization" => match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} ****"),
            None => "****".to_owned(),
        },
        "cookie" | "set-cookie" => "****".to_owned(),
        _ => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_the_rest_shown() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("host", "h:8080"),
            ("authorization", "Basic YW5uOnMzY3JldA=="),
            ("proxy-authorization", "opaque"),
            ("cookie", "session=abc"),
            ("x-a", "1"),
            ("x-a", "2"),
        ] {
            headers.append(HeaderName::from_static(name), value.parse().unwrap());
        }
        let url = url::Url::parse("http://ann:s3cret@h:8080/f").unwrap();
        let text = render(&Wire::Request {
            id: 7,
            method: "GET",
            url: &url,
            headers: &headers,
        });
        assert_eq!(
            text,
            "[7] > GET http://ann@h:8080/f\n\
             [7] > host: h:8080\n\
             [7] > authorization: Basic ****\n\
             [7] > proxy-authorization: ****\n\
             [7] > cookie: ****\n\
             [7] > x-a: 1\n\
             [7] > x-a: 2\n"
        );
    }
}

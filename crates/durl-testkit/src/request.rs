//! Parsing of HTTP/1.1 request heads (request line and header fields).

/// Largest request head accepted; larger heads get 431 and a closed connection.
pub(crate) const MAX_HEAD: usize = 64 * 1024;

/// A parsed request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Request {
    /// Method, as sent (case-sensitive).
    pub(crate) method: String,
    /// Request target, as sent (path and query).
    pub(crate) target: String,
    /// True for HTTP/1.0.
    pub(crate) http10: bool,
    /// Header fields, names lowercased, values trimmed, in order.
    pub(crate) headers: Vec<(String, String)>,
}

/// Why a request head could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Not a valid request line or header field: answer 400.
    Malformed,
    /// HTTP version other than 1.0 or 1.1: answer 505.
    Version,
}

impl Request {
    /// First value of header `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True if `name` contains `token` in its comma-separated list (case-insensitive).
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// True if the connection may be reused after this request.
    pub(crate) fn keep_alive(&self) -> bool {
        if self.http10 {
            self.has_token("connection", "keep-alive")
        } else {
            !self.has_token("connection", "close")
        }
    }

    /// True if the request carries a body (which this server never reads).
    pub(crate) fn has_body(&self) -> bool {
        self.header("transfer-encoding").is_some()
            || self
                .header("content-length")
                .is_some_and(|v| v.trim() != "0")
    }
}

/// Index just past the `\r\n\r\n` ending the head in `buf`, if complete.
pub(crate) fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a complete head (through the blank line). Leading empty lines are
/// skipped, as RFC 9112 §2.2 allows.
pub(crate) fn parse_head(head: &[u8]) -> Result<Request, ParseError> {
    let text = std::str::from_utf8(head).map_err(|_| ParseError::Malformed)?;
    let mut lines = text.trim_start_matches("\r\n").split("\r\n");
    let line = lines.next().ok_or(ParseError::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::Malformed);
    };
    if !is_token(method) || target.is_empty() || !version.starts_with("HTTP/") {
        return Err(ParseError::Malformed);
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ParseError::Version),
    };
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(ParseError::Malformed)?;
        if !is_token(name) {
            return Err(ParseError::Malformed);
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    Ok(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        http10,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_end() {
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
        assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn parses_requests() {
        let r = parse_head(b"\r\nGET /a?b=1 HTTP/1.1\r\nHost: x\r\nRANGE:  bytes=0-1 \r\n\r\n")
            .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/a?b=1");
        assert_eq!(crate::state::path_key(&r.target), "/a");
        assert_eq!(r.header("range"), Some("bytes=0-1"));
        assert_eq!(r.header("Range"), Some("bytes=0-1"));
        assert!(r.keep_alive() && !r.has_body());
        let c = parse_head(b"GET / HTTP/1.1\r\nConnection: foo, Close\r\n\r\n").unwrap();
        assert!(!c.keep_alive());
        let old = parse_head(b"HEAD / HTTP/1.0\r\n\r\n").unwrap();
        assert!(old.http10 && !old.keep_alive());
        let old_ka = parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        assert!(old_ka.keep_alive());
        let body = parse_head(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n").unwrap();
        assert!(body.has_body());
    }

    #[test]
    fn rejects_malformed() {
        let cases: &[(&[u8], ParseError)] = &[
            (b"GET /\r\n\r\n", ParseError::Malformed),
            (b"GET  / HTTP/1.1\r\n\r\n", ParseError::Malformed),
            (b"GET / HTTP/1.1 x\r\n\r\n", ParseError::Malformed),
            (b"G(T / HTTP/1.1\r\n\r\n", ParseError::Malformed),
            (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", ParseError::Malformed),
            (
                b"GET / HTTP/1.1\r\nbad name: x\r\n\r\n",
                ParseError::Malformed,
            ),
            (b"GET / HTTP/1.1\r\n\xff: x\r\n\r\n", ParseError::Malformed),
            (b"GET / FTP/1.1\r\n\r\n", ParseError::Malformed),
            (b"GET / HTTP/2.0\r\n\r\n", ParseError::Version),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse_head(input),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

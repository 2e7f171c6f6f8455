//! The access log: one line per request, written when its response body is done — sent to
//! the end, or dropped because the client went away — so that the byte count is what went
//! out, not what was meant to. Lines go to `tracing` (target `durl_serve::access`, level
//! INFO) as the event's message; the binary decides where they land.
//!
//! Two formats ([`LogFormat`]):
//! - **Combined** (Apache's Combined Log Format, with the response time in microseconds
//!   appended as Apache's `%D`): `host - user [time] "request" status bytes "referer"
//!   "user-agent" micros`. Quoted fields escape `"`, `\` and control bytes as `\xHH`
//!   (Apache's escaping), so a request cannot forge a line.
//! - **JSON**: one object per line with the same fields by name.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::header::{REFERER, USER_AGENT};
use http::{HeaderMap, Method, Version};
use serde_json::json;

use crate::date;

/// Longest request target, referer or user agent written; longer ones are cut.
const LOGGED_FIELD: usize = 512;

/// The access log's line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// Apache's Combined Log Format plus the response time in microseconds.
    #[default]
    Combined,
    /// One JSON object per line.
    Json,
}

/// What is known of a request when its answer starts; completed with the bytes sent.
#[derive(Debug)]
pub(crate) struct Record {
    format: LogFormat,
    peer: SocketAddr,
    user: Option<String>,
    method: Method,
    target: String,
    version: Version,
    status: u16,
    referer: Option<String>,
    user_agent: Option<String>,
    time: SystemTime,
    started: Instant,
}

impl Record {
    /// A record of a request (`target`: its path and query), to complete with
    /// [`Record::answered`].
    pub(crate) fn new(
        format: LogFormat,
        peer: SocketAddr,
        method: &Method,
        target: &str,
        version: Version,
        headers: &HeaderMap,
        started: Instant,
    ) -> Self {
        let field = |name| {
            headers
                .get(name)
                .map(|v| cut(&String::from_utf8_lossy(v.as_bytes())).to_owned())
        };
        Self {
            format,
            peer,
            user: None,
            method: method.clone(),
            target: cut(target).to_owned(),
            version,
            status: 0,
            referer: field(REFERER),
            user_agent: field(USER_AGENT),
            time: SystemTime::now(),
            started,
        }
    }

    /// Completes the record once the request is answered.
    pub(crate) fn answered(&mut self, user: Option<String>, status: u16) {
        self.user = user;
        self.status = status;
    }

    /// Writes the line, with `bytes` of content sent.
    pub(crate) fn emit(self, bytes: u64) {
        let line = self.line(bytes, self.started.elapsed().as_micros());
        tracing::info!(target: "durl_serve::access", "{line}");
    }

    /// The line, for `bytes` sent in `micros`.
    fn line(&self, bytes: u64, micros: u128) -> String {
        let secs = self
            .time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let protocol = format!("{:?}", self.version);
        match self.format {
            LogFormat::Combined => {
                let quoted = |v: Option<&str>| v.map_or_else(|| "-".to_owned(), escape);
                let user = self.user.as_deref().map_or_else(|| "-".to_owned(), escape);
                // Apache's %b: "-" when no content was sent.
                let bytes = if bytes == 0 {
                    "-".to_owned()
                } else {
                    bytes.to_string()
                };
                format!(
                    "{} - {user} [{}] \"{} {} {protocol}\" {} {bytes} \"{}\" \"{}\" {micros}",
                    self.peer.ip(),
                    date::clf(secs),
                    self.method,
                    escape(&self.target),
                    self.status,
                    quoted(self.referer.as_deref()),
                    quoted(self.user_agent.as_deref()),
                )
            }
            LogFormat::Json => json!({
                "time": date::rfc3339(secs),
                "remote_addr": self.peer.ip().to_string(),
                "user": self.user,
                "method": self.method.as_str(),
                "target": self.target,
                "protocol": protocol,
                "status": self.status,
                "bytes": bytes,
                "referer": self.referer,
                "user_agent": self.user_agent,
                "duration_us": micros,
            })
            .to_string(),
        }
    }
}

/// `s` cut to [`LOGGED_FIELD`] characters.
fn cut(s: &str) -> &str {
    match s.char_indices().nth(LOGGED_FIELD) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Apache's escaping of quoted log fields: `"` and `\` get a backslash, control characters
/// become `\xHH`.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::HeaderValue;

    use super::*;

    fn record(format: LogFormat, user: Option<&str>, headers: &[(&str, &str)]) -> Record {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.insert(
                http::header::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        let mut r = Record::new(
            format,
            "127.0.0.1:5000".parse().unwrap(),
            &Method::GET,
            "/a b?x=\"1\"",
            Version::HTTP_11,
            &map,
            Instant::now(),
        );
        r.answered(user.map(str::to_owned), 206);
        r.time = UNIX_EPOCH + Duration::from_secs(971_186_136);
        r
    }

    #[test]
    fn combined_lines() {
        let r = record(
            LogFormat::Combined,
            Some("alice"),
            &[("referer", "http://x/"), ("user-agent", "curl/8.5 \"q\"")],
        );
        assert_eq!(
            r.line(1000, 290),
            "127.0.0.1 - alice [10/Oct/2000:13:55:36 +0000] \"GET /a b?x=\\\"1\\\" HTTP/1.1\" \
             206 1000 \"http://x/\" \"curl/8.5 \\\"q\\\"\" 290"
        );
        let r = record(LogFormat::Combined, None, &[]);
        assert_eq!(
            r.line(0, 7),
            "127.0.0.1 - - [10/Oct/2000:13:55:36 +0000] \"GET /a b?x=\\\"1\\\" HTTP/1.1\" \
             206 - \"-\" \"-\" 7"
        );
        assert_eq!(escape("a\nb\u{7f}"), "a\\x0ab\\x7f");
        assert_eq!(cut(&"é".repeat(600)).chars().count(), LOGGED_FIELD);
    }

    #[test]
    fn json_lines() {
        let r = record(LogFormat::Json, Some("bob"), &[("user-agent", "ua")]);
        let v: serde_json::Value = serde_json::from_str(&r.line(5, 9)).unwrap();
        assert_eq!(v["time"], "2000-10-10T13:55:36Z");
        assert_eq!(v["remote_addr"], "127.0.0.1");
        assert_eq!(v["user"], "bob");
        assert_eq!(v["target"], "/a b?x=\"1\"");
        assert_eq!(v["protocol"], "HTTP/1.1");
        assert_eq!(v["status"], 206);
        assert_eq!(v["bytes"], 5);
        assert!(v["referer"].is_null());
        assert_eq!(v["user_agent"], "ua");
        assert_eq!(v["duration_us"], 9);
    }
}

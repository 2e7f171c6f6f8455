//! A client of a running daemon's JSON-RPC (the `durl queue` commands use it): one HTTP/1.1
//! POST to `/jsonrpc` per call, the secret sent as aria2's `token:SECRET` first parameter.
//! Plain `http://` only: the daemon serves no TLS (reach a remote one through an SSH tunnel).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use url::Url;

/// The keys `list` asks for (the fields [`Entry`] holds).
const LIST_KEYS: &[&str] = &[
    "gid",
    "status",
    "totalLength",
    "completedLength",
    "downloadSpeed",
    "dir",
    "files",
    "errorCode",
    "errorMessage",
];
/// How many stopped and waiting downloads one `list` shows at most.
const LIST_MAX: u64 = 10_000;
/// How long a call may take, connecting included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// A larger answer than this is not a daemon's.
const MAX_ANSWER: usize = 64 << 20;

/// Why a call to the daemon failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL is not `http://host[:port]/path`.
    #[error("invalid daemon URL {url}: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No daemon answers at the address (not started, another port, a firewall).
    #[error("cannot reach the daemon at {url}: {source}")]
    Connect {
        /// The daemon's URL.
        url: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The connection failed after it was made, or the answer was not HTTP.
    #[error("the daemon at {url} did not answer: {source}")]
    Transport {
        /// The daemon's URL.
        url: String,
        /// The cause.
        source: hyper::Error,
    },
    /// No answer within the time limit.
    #[error("the daemon at {url} did not answer within {} s", CALL_TIMEOUT.as_secs())]
    Timeout {
        /// The daemon's URL.
        url: String,
    },
    /// An HTTP error status without a JSON-RPC answer (e.g. a refused `Origin`, or not a
    /// durl or aria2 daemon at that address).
    #[error("the daemon at {url} answered HTTP {status}")]
    Status {
        /// The daemon's URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The secret is missing or wrong.
    #[error(
        "the daemon at {url} refused the secret (give the daemon's --secret-file or DURL_SECRET)"
    )]
    Unauthorized {
        /// The daemon's URL.
        url: String,
    },
    /// The daemon refused the call (no such GID, bad parameters, ...).
    #[error("the daemon refused {method}: {message}")]
    Refused {
        /// The method called.
        method: String,
        /// The daemon's message.
        message: String,
    },
    /// The answer is not the JSON-RPC answer this call expects.
    #[error("the daemon at {url} sent an unexpected answer to {method}: {detail}")]
    Answer {
        /// The daemon's URL.
        url: String,
        /// The method called.
        method: String,
        /// What was wrong.
        detail: String,
    },
}

/// What [`Client::add`] asks for besides the URLs; `None` leaves the daemon's default.
#[derive(Debug, Clone, Default)]
pub struct AddOptions {
    /// The file name (aria2's `out`).
    pub out: Option<String>,
    /// The directory (aria2's `dir`).
    pub dir: Option<String>,
    /// Connections for this download (aria2's `split`).
    pub connections: Option<u32>,
    /// `ALGO=HEX` (aria2's `checksum`).
    pub checksum: Option<String>,
    /// Added paused.
    pub paused: bool,
}

/// One download as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 16 hex digits.
    pub gid: String,
    /// aria2's status: `active`, `waiting`, `paused`, `complete`, `error` or `removed`.
    pub status: String,
    /// The file's path (empty while its name is not known yet).
    pub path: String,
    /// The first URL.
    pub url: String,
    /// The length, when known.
    pub total: Option<u64>,
    /// Bytes held.
    pub completed: u64,
    /// Bytes per second now.
    pub speed: u64,
    /// Why it failed, for `error`.
    pub error: Option<String>,
}

/// A connection-less client: every call opens its own connection.
#[derive(Debug, Clone)]
pub struct Client {
    url: Url,
    secret: Option<String>,
}

impl Client {
    /// A client of the daemon whose JSON-RPC is at `url` (`http://127.0.0.1:6800/jsonrpc`;
    /// a URL with an empty path gets `/jsonrpc`).
    pub fn new(url: &str, secret: Option<String>) -> Result<Client, ClientError> {
        let bad = |reason| ClientError::Url {
            url: url.to_owned(),
            reason,
        };
        let mut parsed = Url::parse(url).map_err(|_| bad("not a URL"))?;
        if parsed.scheme() != "http" {
            return Err(bad(
                "only http:// (the daemon serves no TLS; use an SSH tunnel)",
            ));
        }
        if parsed.host_str().is_none() {
            return Err(bad("no host"));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(
                "give the secret with --secret-file or DURL_SECRET, not in the URL",
            ));
        }
        if parsed.path() == "/" {
            parsed.set_path("/jsonrpc");
        }
        Ok(Client {
            url: parsed,
            secret: secret.filter(|s| !s.is_empty()),
        })
    }

    /// The JSON-RPC URL calls go to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Calls `method` with `params` (the token is put first) and returns its `result`.
    pub async fn call(&self, method: &str, params: Vec<Value>) -> Result<Value, ClientError> {
        let mut all = Vec::with_capacity(params.len() + 1);
        if let Some(secret) = &self.secret {
            all.push(Value::String(format!("token:{secret}")));
        }
        all.extend(params);
        let request = json!({"jsonrpc": "2.0", "id": "durl", "method": method, "params": all});
        let answer = tokio::time::timeout(CALL_TIMEOUT, self.post(request.to_string()))
            .await
            .map_err(|_| ClientError::Timeout {
                url: self.url.to_string(),
            })??;
        self.result(method, answer)
    }

    /// Adds a download; returns its GID.
    pub async fn add(&self, urls: &[String], options: &AddOptions) -> Result<String, ClientError> {
        let mut opts = serde_json::Map::new();
        if let Some(out) = &options.out {
            opts.insert("out".into(), out.clone().into());
        }
        if let Some(dir) = &options.dir {
            opts.insert("dir".into(), dir.clone().into());
        }
        if let Some(n) = options.connections {
            opts.insert("split".into(), n.to_string().into());
        }
        if let Some(sum) = &options.checksum {
            opts.insert("checksum".into(), sum.clone().into());
        }
        if options.paused {
            opts.insert("pause".into(), "true".into());
        }
        let answer = self
            .call("aria2.addUri", vec![json!(urls), Value::Object(opts)])
            .await?;
        self.string(answer, "aria2.addUri")
    }

    /// Every download the daemon holds: active, then waiting and paused in queue order, then
    /// stopped (complete, error, removed).
    pub async fn list(&self) -> Result<Vec<Entry>, ClientError> {
        let keys = json!(LIST_KEYS);
        let mut all = Vec::new();
        for (method, params) in [
            ("aria2.tellActive", vec![keys.clone()]),
            (
                "aria2.tellWaiting",
                vec![json!(0), json!(LIST_MAX), keys.clone()],
            ),
            ("aria2.tellStopped", vec![json!(0), json!(LIST_MAX), keys]),
        ] {
            let answer = self.call(method, params).await?;
            let Value::Array(items) = answer else {
                return Err(self.unexpected(method, "not an array"));
            };
            for item in &items {
                all.push(entry(item).ok_or_else(|| self.unexpected(method, "not a status"))?);
            }
        }
        Ok(all)
    }

    /// Pauses one download (`aria2.pause`).
    pub async fn pause(&self, gid: &str) -> Result<(), ClientError> {
        self.gid_call("aria2.pause", gid).await
    }

    /// Resumes one paused download (`aria2.unpause`).
    pub async fn resume(&self, gid: &str) -> Result<(), ClientError> {
        self.gid_call("aria2.unpause", gid).await
    }

    /// Removes one download (`aria2.remove`; its partial and state files stay on disk).
    pub async fn remove(&self, gid: &str) -> Result<(), ClientError> {
        self.gid_call("aria2.remove", gid).await
    }

    /// Pauses every download (`aria2.pauseAll`).
    pub async fn pause_all(&self) -> Result<(), ClientError> {
        self.call("aria2.pauseAll", Vec::new()).await.map(drop)
    }

    /// Resumes every paused download (`aria2.unpauseAll`).
    pub async fn resume_all(&self) -> Result<(), ClientError> {
        self.call("aria2.unpauseAll", Vec::new()).await.map(drop)
    }

    async fn gid_call(&self, method: &str, gid: &str) -> Result<(), ClientError> {
        let answer = self.call(method, vec![json!(gid)]).await?;
        let echoed = self.string(answer, method)?;
        if echoed != gid {
            return Err(self.unexpected(method, &format!("GID {echoed} instead of {gid}")));
        }
        Ok(())
    }

    /// One POST; the body of the answer, whatever its status (JSON-RPC errors come with 400
    /// from aria2 and with 200 from others).
    async fn post(&self, body: String) -> Result<(u16, Bytes), ClientError> {
        let url = &self.url;
        let host = url.host_str().unwrap_or_default();
        let port = url.port_or_known_default().unwrap_or(80);
        let connect = |source| ClientError::Connect {
            url: url.to_string(),
            source,
        };
        let transport = |source| ClientError::Transport {
            url: url.to_string(),
            source,
        };
        // A bracketed IPv6 literal connects without its brackets.
        let stream = TcpStream::connect((host.trim_matches(|c| c == '[' || c == ']'), port))
            .await
            .map_err(connect)?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(transport)?;
        let driver = tokio::spawn(connection);
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let request = hyper::Request::post(url.path())
            .header(HOST, authority)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| ClientError::Url {
                url: url.to_string(),
                reason: "not usable in a request",
            })?;
        let response = sender.send_request(request).await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| self.unexpected("the call", &e.to_string()))?
            .to_bytes();
        driver.abort();
        Ok((status, body))
    }

    fn result(&self, method: &str, (status, body): (u16, Bytes)) -> Result<Value, ClientError> {
        let Ok(mut answer) = serde_json::from_slice::<Value>(&body) else {
            return Err(if status >= 400 {
                ClientError::Status {
                    url: self.url.to_string(),
                    status,
                }
            } else {
                self.unexpected(method, "not JSON")
            });
        };
        if let Some(error) = answer.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_owned();
            if message == "Unauthorized" {
                return Err(ClientError::Unauthorized {
                    url: self.url.to_string(),
                });
            }
            return Err(ClientError::Refused {
                method: method.to_owned(),
                message,
            });
        }
        match answer.get_mut("result") {
            Some(result) => Ok(result.take()),
            None => Err(self.unexpected(method, "neither result nor error")),
        }
    }

    fn string(&self, answer: Value, method: &str) -> Result<String, ClientError> {
        match answer {
            Value::String(s) => Ok(s),
            _ => Err(self.unexpected(method, "not a string")),
        }
    }

    fn unexpected(&self, method: &str, detail: &str) -> ClientError {
        ClientError::Answer {
            url: self.url.to_string(),
            method: method.to_owned(),
            detail: detail.to_owned(),
        }
    }
}

/// One `tellStatus`-shaped object as an [`Entry`] (numbers are decimal strings, as aria2's).
fn entry(item: &Value) -> Option<Entry> {
    let text = |key: &str| item.get(key).and_then(Value::as_str);
    let number = |key: &str| text(key).and_then(|t| t.parse::<u64>().ok());
    let file = item.get("files")?.as_array()?.first();
    let path = file
        .and_then(|f| f.get("path"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let url = file
        .and_then(|f| f.get("uris"))
        .and_then(Value::as_array)
        .and_then(|u| u.first())
        .and_then(|u| u.get("uri"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let total = number("totalLength")?;
    Some(Entry {
        gid: text("gid")?.to_owned(),
        status: text("status")?.to_owned(),
        path: path.to_owned(),
        url: url.to_owned(),
        // aria2 says 0 while the length is unknown.
        total: (total > 0).then_some(total),
        completed: number("completedLength")?,
        speed: number("downloadSpeed").unwrap_or(0),
        error: text("errorMessage")
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_table() {
        let ok = [
            (
                "http://127.0.0.1:6800/jsonrpc",
                "http://127.0.0.1:6800/jsonrpc",
            ),
            ("http://127.0.0.1:6800", "http://127.0.0.1:6800/jsonrpc"),
            ("http://127.0.0.1:6800/", "http://127.0.0.1:6800/jsonrpc"),
            ("http://[::1]:7000/rpc", "http://[::1]:7000/rpc"),
            ("http://localhost/jsonrpc", "http://localhost/jsonrpc"),
        ];
        for (input, want) in ok {
            let client = Client::new(input, None).unwrap();
            assert_eq!(client.url().as_str(), want, "{input}");
        }
        for bad in [
            "https://127.0.0.1:6800/jsonrpc",
            "127.0.0.1:6800",
            "ws://127.0.0.1:6800/jsonrpc",
            "http://token:x@127.0.0.1:6800/jsonrpc",
            "",
        ] {
            assert!(
                matches!(Client::new(bad, None), Err(ClientError::Url { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn entries_from_status_objects() {
        let item = json!({
            "gid": "2089b05ecca3d829", "status": "error", "totalLength": "0",
            "completedLength": "5", "downloadSpeed": "0",
            "files": [{"path": "/d/f", "uris": [{"uri": "http://h/f", "status": "used"}]}],
            "errorCode": "4", "errorMessage": "HTTP 404"
        });
        assert_eq!(
            entry(&item),
            Some(Entry {
                gid: "2089b05ecca3d829".into(),
                status: "error".into(),
                path: "/d/f".into(),
                url: "http://h/f".into(),
                total: None,
                completed: 5,
                speed: 0,
                error: Some("HTTP 404".into()),
            })
        );
        // Numbers must be decimal strings; a missing gid or files array is not a status.
        for broken in [
            json!({"gid": "1", "status": "active", "totalLength": 5, "completedLength": "0", "files": []}),
            json!({"status": "active", "totalLength": "5", "completedLength": "0", "files": []}),
            json!({"gid": "1", "status": "active", "totalLength": "5", "completedLength": "0"}),
        ] {
            assert_eq!(entry(&broken), None, "{broken}");
        }
    }
}

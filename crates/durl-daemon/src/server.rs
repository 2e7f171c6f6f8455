//! HTTP/1.1 for the daemon: `POST /jsonrpc`, the WebSocket upgrade on `GET /jsonrpc`
//! (RFC 6455 §4.2), and the web page at `/`.
//!
//! # Who may call
//! A browser attaches `Origin` to every cross-origin POST and to every WebSocket handshake
//! (RFC 6454 §7, RFC 6455 §4.1 item 8), so a web page on another site can reach a daemon on
//! loopback. Without a secret, the RPC therefore answers only requests whose `Origin` is absent
//! (programs such as aria2p) or is the daemon's own page, and only under a loopback `Host`
//! (a rebinding DNS name cannot pose as the daemon's origin). With a secret, any origin may
//! call, but every method except `system.listMethods`/`listNotifications` needs the token,
//! and CORS is answered so front ends such as AriaNg can be hosted elsewhere.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt as _, StreamExt as _};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Message, Role};
use tokio_util::sync::CancellationToken;

use crate::rpc::{self, Rpc};
use crate::web;

/// The largest request body: a batch of some thousand `addUri` calls.
const MAX_BODY: usize = 8 << 20;

pub(crate) struct Server {
    pub(crate) rpc: Rpc,
    /// Cancelled when the daemon stops: WebSocket connections close.
    pub(crate) closing: CancellationToken,
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

fn text(status: StatusCode, body: &'static str) -> Reply {
    reply(status, "text/plain; charset=utf-8", body)
}

/// Whether `host` (a `Host` field value) names this machine's loopback.
fn loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where a request comes from, as far as the RPC cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// No `Origin`: a program, not a web page.
    Program,
    /// The daemon's own page.
    SameOrigin,
    /// A page of another origin.
    OtherOrigin,
}

/// Classifies a request by its `Origin` and `Host` fields (RFC 6454 §7.1: the origin is
/// `scheme://host[:port]`, as the `Host` field names the daemon).
pub(crate) fn caller(headers: &HeaderMap) -> Caller {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Caller::Program;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let own = format!("http://{host}");
    if !host.is_empty() && origin.as_bytes().eq_ignore_ascii_case(own.as_bytes()) {
        Caller::SameOrigin
    } else {
        Caller::OtherOrigin
    }
}

/// Whether the RPC may answer this request at all (see the module docs).
pub(crate) fn may_call(headers: &HeaderMap, has_secret: bool) -> bool {
    if has_secret {
        return true;
    }
    let host_ok = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(loopback_host);
    host_ok && caller(headers) != Caller::OtherOrigin
}

fn cors(r: &mut Reply, has_secret: bool) {
    if has_secret {
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, GET, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Content-Type"),
        );
    }
}

impl Server {
    pub(crate) async fn serve(
        self: Arc<Self>,
        req: Request<Incoming>,
    ) -> Result<Reply, Infallible> {
        let path = req.uri().path();
        Ok(match (req.method(), path) {
            (&Method::GET | &Method::HEAD, "/" | "/index.html") => web::page(),
            (&Method::GET | &Method::HEAD, p) if web::asset(p).is_some() => {
                web::asset(p).unwrap_or_else(|| text(StatusCode::NOT_FOUND, "not found\n"))
            }
            (_, "/jsonrpc") => self.jsonrpc(req).await,
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        })
    }

    async fn jsonrpc(self: Arc<Self>, req: Request<Incoming>) -> Reply {
        let has_secret = self.rpc.has_secret();
        if !may_call(req.headers(), has_secret) {
            let mut r = text(
                StatusCode::FORBIDDEN,
                "cross-origin requests need the daemon to have a secret (--secret)\n",
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
        let mut r = match *req.method() {
            Method::OPTIONS => reply(StatusCode::NO_CONTENT, "text/plain", Bytes::new()),
            Method::POST => {
                let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
                    Ok(b) => b.to_bytes(),
                    Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "request too large\n"),
                };
                let answer = self.rpc.handle(&body).await;
                reply(
                    StatusCode::OK,
                    "application/json-rpc",
                    serde_json::to_vec(&answer).unwrap_or_default(),
                )
            }
            Method::GET if is_upgrade(req.headers()) => return self.upgrade(req),
            _ => text(
                StatusCode::METHOD_NOT_ALLOWED,
                "use POST or a WebSocket at /jsonrpc\n",
            ),
        };
        cors(&mut r, has_secret);
        r
    }

    /// Answers the WebSocket handshake (RFC 6455 §4.2.2) and runs the socket.
    fn upgrade(self: Arc<Self>, mut req: Request<Incoming>) -> Reply {
        let key = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned();
        let version_ok = req
            .headers()
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13");
        let (Some(key), true) = (key, version_ok) else {
            return text(StatusCode::BAD_REQUEST, "bad WebSocket handshake\n");
        };
        let accept = derive_accept_key(key.as_bytes());
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(upgraded) = on_upgrade.await {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                self.websocket(ws).await;
            }
        });
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = r.headers_mut();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        if let Ok(v) = HeaderValue::from_str(&accept) {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        r
    }

    /// One WebSocket: requests in, answers and notifications out.
    async fn websocket(&self, ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>) {
        let (mut tx, mut rx) = ws.split();
        let mut notices = self.rpc.queue.subscribe();
        loop {
            tokio::select! {
                msg = rx.next() => {
                    let Some(Ok(msg)) = msg else { break };
                    let body: Vec<u8> = match msg {
                        Message::Text(t) => t.as_bytes().to_vec(),
                        Message::Binary(b) => b.to_vec(),
                        Message::Close(_) => break,
                        _ => continue,
                    };
                    let answer = self.rpc.handle(&body).await;
                    let text = serde_json::to_string(&answer).unwrap_or_default();
                    if tx.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                notice = notices.recv() => {
                    let notice = match notice {
                        Ok(n) => n,
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => break,
                    };
                    let text = rpc::notification(notice.method, notice.gid).to_string();
                    if tx.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                () = self.closing.cancelled() => {
                    let _ = tx.send(Message::Close(None)).await;
                    break;
                }
            }
        }
    }
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "websocket")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn who_may_call_without_a_secret() {
        let table: &[(&[(&str, &str)], bool)] = &[
            (&[("host", "127.0.0.1:6800")], true),
            (&[("host", "localhost:6800")], true),
            (&[("host", "[::1]:6800")], true),
            (
                &[
                    ("host", "127.0.0.1:6800"),
                    ("origin", "http://127.0.0.1:6800"),
                ],
                true,
            ),
            (
                &[
                    ("host", "127.0.0.1:6800"),
                    ("origin", "http://evil.example"),
                ],
                false,
            ),
            (&[("host", "127.0.0.1:6800"), ("origin", "null")], false),
            (
                &[
                    ("host", "127.0.0.1:6800"),
                    ("origin", "http://localhost:6800"),
                ],
                false,
            ),
            // DNS rebinding: the page's own origin, but not a loopback name.
            (
                &[
                    ("host", "evil.example:6800"),
                    ("origin", "http://evil.example:6800"),
                ],
                false,
            ),
            (&[("host", "evil.example:6800")], false),
            (&[], false),
        ];
        for (pairs, want) in table {
            assert_eq!(may_call(&headers(pairs), false), *want, "{pairs:?}");
            assert!(may_call(&headers(pairs), true), "{pairs:?}");
        }
    }

    #[test]
    fn websocket_upgrade_tokens() {
        assert!(is_upgrade(&headers(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket")
        ])));
        assert!(!is_upgrade(&headers(&[("upgrade", "websocket")])));
        assert!(!is_upgrade(&headers(&[
            ("connection", "upgrade"),
            ("upgrade", "h2c")
        ])));
    }
}

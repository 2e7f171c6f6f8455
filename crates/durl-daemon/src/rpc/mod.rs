//! aria2's JSON-RPC interface (aria2c(1), "RPC INTERFACE"): request framing, batches,
//! `system.multicall`, and the `token:SECRET` first parameter. The methods themselves are in
//! [`methods`]; the download structs they return in [`status`].
//!
//! Framing follows JSON-RPC 2.0: a request object or a non-empty array of them (§6), an
//! answer with the same `id`; protocol errors use the §5.1 codes. aria2 answers every request,
//! including those without an `id`, and so does durl.

pub mod methods;
pub mod status;

use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use crate::error::RpcError;
use crate::queue::Queue;

/// Methods that need no token (aria2 ≥ 1.32 exempts these two).
const NO_TOKEN: &[&str] = &["system.listMethods", "system.listNotifications"];

/// The RPC endpoint: a queue and the secret that guards it.
#[derive(Debug, Clone)]
pub struct Rpc {
    pub(crate) queue: Queue,
    secret: Option<String>,
    session_id: String,
}

impl Rpc {
    /// An endpoint for `queue`, guarded by `secret` when given.
    pub fn new(queue: Queue, secret: Option<String>) -> Rpc {
        Rpc {
            queue,
            secret,
            session_id: format!(
                "{:016x}{:016x}",
                rand::random::<u64>(),
                rand::random::<u64>()
            ),
        }
    }

    /// Whether a secret guards the endpoint.
    pub fn has_secret(&self) -> bool {
        self.secret.is_some()
    }

    /// Answers one message (a request or a batch).
    pub async fn handle(&self, body: &[u8]) -> Value {
        let Ok(message) = serde_json::from_slice::<Value>(body) else {
            return error_response(Value::Null, &RpcError::Parse);
        };
        match message {
            Value::Array(requests) if !requests.is_empty() => {
                let mut answers = Vec::with_capacity(requests.len());
                for request in &requests {
                    answers.push(self.handle_one(request).await);
                }
                Value::Array(answers)
            }
            request @ Value::Object(_) => self.handle_one(&request).await,
            _ => error_response(Value::Null, &RpcError::InvalidRequest),
        }
    }

    async fn handle_one(&self, request: &Value) -> Value {
        let id = request.get("id").cloned().unwrap_or(Value::Null);
        let Some(method) = request.get("method").and_then(Value::as_str) else {
            return error_response(id, &RpcError::InvalidRequest);
        };
        let params = match request.get("params") {
            None => Vec::new(),
            Some(Value::Array(p)) => p.clone(),
            Some(_) => return error_response(id, &RpcError::InvalidRequest),
        };
        match self.call(method, params).await {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err(e) => error_response(id, &e),
        }
    }

    /// Runs one method call: checks (and strips) the token, then dispatches.
    ///
    /// # Errors
    /// The method's error, [`RpcError::Unauthorized`] or [`RpcError::MethodNotFound`].
    pub async fn call(&self, method: &str, mut params: Vec<Value>) -> Result<Value, RpcError> {
        if method == "system.multicall" {
            return self.multicall(params).await;
        }
        let token = match params.first() {
            Some(Value::String(s)) if s.starts_with("token:") => {
                let t = s["token:".len()..].to_owned();
                params.remove(0);
                Some(t)
            }
            _ => None,
        };
        if !NO_TOKEN.contains(&method) && !self.authorized(token.as_deref()) {
            return Err(RpcError::Unauthorized);
        }
        methods::dispatch(self, method, params).await
    }

    /// Whether `token` is the secret (compared in constant time); anything passes without one.
    pub fn authorized(&self, token: Option<&str>) -> bool {
        match (&self.secret, token) {
            (None, _) => true,
            (Some(secret), Some(token)) => bool::from(secret.as_bytes().ct_eq(token.as_bytes())),
            (Some(_), None) => false,
        }
    }

    /// `system.multicall([{methodName, params}, …])`: one answer per call, `[result]` or a
    /// `{code, message}` struct, as aria2 answers.
    async fn multicall(&self, params: Vec<Value>) -> Result<Value, RpcError> {
        let Some(Value::Array(calls)) = params.into_iter().next() else {
            return Err(RpcError::Params(
                "system.multicall takes an array of calls".into(),
            ));
        };
        let mut answers = Vec::with_capacity(calls.len());
        for call in calls {
            let method = call.get("methodName").and_then(Value::as_str);
            let params = match call.get("params") {
                None => Some(Vec::new()),
                Some(Value::Array(p)) => Some(p.clone()),
                Some(_) => None,
            };
            let answer = match (method, params) {
                (Some("system.multicall"), _) => {
                    Err(RpcError::Params("system.multicall cannot be nested".into()))
                }
                (Some(m), Some(p)) => Box::pin(self.call(m, p)).await,
                _ => Err(RpcError::InvalidRequest),
            };
            answers.push(match answer {
                Ok(v) => json!([v]),
                Err(e) => json!({"code": e.code(), "message": e.to_string()}),
            });
        }
        Ok(Value::Array(answers))
    }

    pub(crate) fn session_id(&self) -> &str {
        &self.session_id
    }
}

fn error_response(id: Value, e: &RpcError) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": e.code(), "message": e.to_string()}})
}

/// A notification as aria2 sends it over WebSocket.
pub fn notification(method: &str, gid: u64) -> Value {
    json!({
        "jsonrpc": "2.0",
        "method": format!("aria2.{method}"),
        "params": [{"gid": status::gid_text(gid)}],
    })
}

//! The aria2 methods, one match arm each (aria2c(1), "RPC INTERFACE › Methods").

use serde_json::{Map, Value, json};

use super::Rpc;
use super::status::{self, gid_text, page, parse_gid, parse_keys};
use crate::error::RpcError;
use crate::queue::{View, Whence};
use crate::store::Status;

/// Every method durl answers, as `system.listMethods` reports them.
pub const METHODS: &[&str] = &[
    "aria2.addUri",
    "aria2.addTorrent",
    "aria2.getPeers",
    "aria2.addMetalink",
    "aria2.remove",
    "aria2.pause",
    "aria2.forcePause",
    "aria2.pauseAll",
    "aria2.forcePauseAll",
    "aria2.unpause",
    "aria2.unpauseAll",
    "aria2.forceRemove",
    "aria2.changePosition",
    "aria2.tellStatus",
    "aria2.getUris",
    "aria2.getFiles",
    "aria2.getServers",
    "aria2.tellActive",
    "aria2.tellWaiting",
    "aria2.tellStopped",
    "aria2.getOption",
    "aria2.changeUri",
    "aria2.changeOption",
    "aria2.getGlobalOption",
    "aria2.changeGlobalOption",
    "aria2.purgeDownloadResult",
    "aria2.removeDownloadResult",
    "aria2.getVersion",
    "aria2.getSessionInfo",
    "aria2.shutdown",
    "aria2.forceShutdown",
    "aria2.getGlobalStat",
    "aria2.saveSession",
    "system.multicall",
    "system.listMethods",
    "system.listNotifications",
];

/// Every notification durl sends.
pub const NOTIFICATIONS: &[&str] = &[
    "aria2.onDownloadStart",
    "aria2.onDownloadPause",
    "aria2.onDownloadStop",
    "aria2.onDownloadComplete",
    "aria2.onDownloadError",
];

fn ok() -> Value {
    Value::String("OK".into())
}

fn options_param(v: Option<&Value>) -> Result<Map<String, Value>, RpcError> {
    match v {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(RpcError::Params("options must be a struct".into())),
    }
}

/// An integer parameter, given as a number or a decimal string.
fn int_param(v: Option<&Value>, what: &str) -> Result<i64, RpcError> {
    match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| RpcError::Params(format!("{what} must be an integer")))
}

fn view(rpc: &Rpc, gid: u64) -> Result<View, RpcError> {
    rpc.queue.view(gid).ok_or(RpcError::NotFound(gid))
}

fn list(views: &[View], keys: &[String]) -> Value {
    Value::Array(views.iter().map(|v| status::status(v, keys)).collect())
}

/// Runs `method` with its parameters (token already removed).
///
/// # Errors
/// What the method refuses, or [`RpcError::MethodNotFound`].
pub async fn dispatch(rpc: &Rpc, method: &str, p: Vec<Value>) -> Result<Value, RpcError> {
    let q = &rpc.queue;
    match method {
        "aria2.addUri" => {
            let uris = match p.first() {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|u| u.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| RpcError::Params("uris must be strings".into()))?,
                _ => return Err(RpcError::Params("uris must be an array".into())),
            };
            let options = options_param(p.get(1))?;
            let position = match p.get(2) {
                None | Some(Value::Null) => None,
                v => Some(
                    usize::try_from(int_param(v, "position")?)
                        .map_err(|_| RpcError::Params("position must not be negative".into()))?,
                ),
            };
            let gid = q.add(uris, &options, position).await?;
            Ok(gid_text(gid).into())
        }
        "aria2.addTorrent" | "aria2.addMetalink" | "aria2.getPeers" | "aria2.changeUri" => {
            Err(RpcError::Unsupported(method.to_owned()))
        }
        "aria2.remove" | "aria2.forceRemove" => {
            let gid = parse_gid(p.first())?;
            q.remove(gid).await?;
            Ok(gid_text(gid).into())
        }
        "aria2.pause" | "aria2.forcePause" => {
            let gid = parse_gid(p.first())?;
            q.pause(gid).await?;
            Ok(gid_text(gid).into())
        }
        "aria2.pauseAll" | "aria2.forcePauseAll" => {
            q.pause_all().await?;
            Ok(ok())
        }
        "aria2.unpause" => {
            let gid = parse_gid(p.first())?;
            q.unpause(gid).await?;
            Ok(gid_text(gid).into())
        }
        "aria2.unpauseAll" => {
            q.unpause_all().await?;
            Ok(ok())
        }
        "aria2.tellStatus" => {
            let gid = parse_gid(p.first())?;
            let keys = parse_keys(p.get(1))?;
            Ok(status::status(&view(rpc, gid)?, &keys))
        }
        "aria2.getUris" => Ok(status::uris(&view(rpc, parse_gid(p.first())?)?)),
        "aria2.getFiles" => Ok(status::files(&view(rpc, parse_gid(p.first())?)?)),
        "aria2.getServers" => {
            let v = view(rpc, parse_gid(p.first())?)?;
            if v.record.status != Status::Active {
                return Err(RpcError::Failed(format!(
                    "No active download for GID#{}",
                    gid_text(v.record.gid)
                )));
            }
            Ok(status::servers(&v))
        }
        "aria2.tellActive" => Ok(list(&q.active(), &parse_keys(p.first())?)),
        "aria2.tellWaiting" | "aria2.tellStopped" => {
            let offset = int_param(p.first(), "offset")?;
            let num = int_param(p.get(1), "num")?;
            let keys = parse_keys(p.get(2))?;
            let all = if method == "aria2.tellWaiting" {
                q.waiting()
            } else {
                q.stopped()
            };
            Ok(list(&page(&all, offset, num), &keys))
        }
        "aria2.changePosition" => {
            let gid = parse_gid(p.first())?;
            let pos = int_param(p.get(1), "pos")?;
            let how = match p.get(2).and_then(Value::as_str) {
                Some("POS_SET") => Whence::Set,
                Some("POS_CUR") => Whence::Cur,
                Some("POS_END") => Whence::End,
                _ => {
                    return Err(RpcError::Params(
                        "how must be POS_SET, POS_CUR or POS_END".into(),
                    ));
                }
            };
            let at = q.change_position(gid, pos, how).await?;
            Ok(json!(at))
        }
        "aria2.getOption" => {
            let v = view(rpc, parse_gid(p.first())?)?;
            Ok(Value::Object(v.record.options.to_struct(q.default_dir())))
        }
        "aria2.changeOption" => {
            let gid = parse_gid(p.first())?;
            q.change_option(gid, &options_param(p.get(1))?).await?;
            Ok(ok())
        }
        "aria2.getGlobalOption" => Ok(Value::Object(q.global().to_struct(q.default_dir()))),
        "aria2.changeGlobalOption" => {
            q.change_global(&options_param(p.first())?).await?;
            Ok(ok())
        }
        "aria2.getGlobalStat" => {
            let (speed, active, waiting, stopped) = q.stat();
            Ok(json!({
                "downloadSpeed": speed.to_string(),
                "uploadSpeed": "0",
                "numActive": active.to_string(),
                "numWaiting": waiting.to_string(),
                "numStopped": stopped.to_string(),
                "numStoppedTotal": stopped.to_string(),
            }))
        }
        "aria2.purgeDownloadResult" => {
            q.purge().await?;
            Ok(ok())
        }
        "aria2.removeDownloadResult" => {
            q.remove_result(parse_gid(p.first())?).await?;
            Ok(ok())
        }
        "aria2.getVersion" => Ok(json!({
            "version": env!("CARGO_PKG_VERSION"),
            "enabledFeatures": ["HTTPS", "FTP", "Checksum", "Async DNS"],
        })),
        "aria2.getSessionInfo" => Ok(json!({"sessionId": rpc.session_id()})),
        // Every change is in the database before its call answers: there is nothing to save.
        "aria2.saveSession" => Ok(ok()),
        "aria2.shutdown" | "aria2.forceShutdown" => {
            q.request_stop();
            Ok(ok())
        }
        "system.listMethods" => Ok(json!(METHODS)),
        "system.listNotifications" => Ok(json!(NOTIFICATIONS)),
        _ => Err(RpcError::MethodNotFound),
    }
}

//! The structs aria2 returns for a download (`tellStatus`, `getFiles`, `getUris`,
//! `getServers`): every number a decimal string, GIDs as 16 hex digits.

use serde_json::{Map, Value, json};

use crate::error::RpcError;
use crate::queue::View;

/// aria2 reports pieces; durl has none, so a fixed 1 MiB "piece" gives clients a number.
const PIECE: u64 = 1 << 20;

/// A GID as aria2 writes it.
pub fn gid_text(gid: u64) -> String {
    format!("{gid:016x}")
}

/// A GID parameter: exactly 16 hex digits.
///
/// # Errors
/// [`RpcError::Params`] for anything else.
pub fn parse_gid(v: Option<&Value>) -> Result<u64, RpcError> {
    let text = v.and_then(Value::as_str).unwrap_or_default();
    if text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        u64::from_str_radix(text, 16).map_err(|_| RpcError::Params(format!("invalid GID {text}")))
    } else {
        Err(RpcError::Params(format!(
            "invalid GID {text:?}: expected 16 hex digits"
        )))
    }
}

/// `getUris`: the URL first (`used`), then the mirrors.
pub fn uris(view: &View) -> Value {
    Value::Array(
        view.record
            .uris
            .iter()
            .map(|u| json!({"uri": u, "status": "used"}))
            .collect(),
    )
}

/// `getFiles`: one file per download.
pub fn files(view: &View) -> Value {
    let path = view
        .path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    json!([{
        "index": "1",
        "path": path,
        "length": view.total.unwrap_or(0).to_string(),
        "completedLength": view.completed.to_string(),
        "selected": "true",
        "uris": uris(view),
    }])
}

/// `getServers`: the URL the active download fetches from.
pub fn servers(view: &View) -> Value {
    let uri = view.record.uris.first().cloned().unwrap_or_default();
    json!([{
        "index": "1",
        "servers": [{"uri": uri, "currentUri": uri, "downloadSpeed": view.speed.to_string()}],
    }])
}

/// `tellStatus`, limited to `keys` when given (an empty list means all).
pub fn status(view: &View, keys: &[String]) -> Value {
    let total = view.total.unwrap_or(0);
    let mut m = Map::new();
    m.insert("gid".into(), gid_text(view.record.gid).into());
    m.insert("status".into(), view.record.status.as_str().into());
    m.insert("totalLength".into(), total.to_string().into());
    m.insert("completedLength".into(), view.completed.to_string().into());
    m.insert("uploadLength".into(), "0".into());
    m.insert("downloadSpeed".into(), view.speed.to_string().into());
    m.insert("uploadSpeed".into(), "0".into());
    m.insert("connections".into(), view.connections.to_string().into());
    m.insert("pieceLength".into(), PIECE.to_string().into());
    m.insert("numPieces".into(), total.div_ceil(PIECE).to_string().into());
    m.insert("dir".into(), view.dir.display().to_string().into());
    m.insert("files".into(), files(view));
    if view.record.status.is_stopped() {
        let code = view.record.error.as_ref().map_or(0, |f| f.code);
        m.insert("errorCode".into(), code.to_string().into());
    }
    if let Some(f) = &view.record.error {
        m.insert("errorMessage".into(), f.message.clone().into());
    }
    if !keys.is_empty() {
        m.retain(|k, _| keys.iter().any(|want| want == k));
    }
    Value::Object(m)
}

/// A `keys` parameter: absent, or an array of names.
///
/// # Errors
/// [`RpcError::Params`] for anything else.
pub fn parse_keys(v: Option<&Value>) -> Result<Vec<String>, RpcError> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|k| {
                k.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| RpcError::Params("keys must be strings".into()))
            })
            .collect(),
        Some(Value::String(k)) => Ok(vec![k.clone()]),
        Some(_) => Err(RpcError::Params("keys must be an array of strings".into())),
    }
}

/// `tellWaiting`/`tellStopped` paging (aria2c(1)): from `offset`, `num` items; a negative
/// offset counts from the end and the items come in reverse order.
pub fn page<T: Clone>(items: &[T], offset: i64, num: i64) -> Vec<T> {
    let len = items.len() as i64;
    let num = num.max(0);
    if offset >= 0 {
        items
            .iter()
            .skip(offset.min(len) as usize)
            .take(num as usize)
            .cloned()
            .collect()
    } else {
        let start = len + offset; // index of the first item, going backwards
        if start < 0 {
            return Vec::new();
        }
        (0..=start)
            .rev()
            .take(num as usize)
            .map(|i| items[i as usize].clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gids_are_16_hex_digits() {
        let table: &[(Value, Option<u64>)] = &[
            (json!("2089b05ecca3d829"), Some(0x2089_b05e_cca3_d829)),
            (json!("0000000000000001"), Some(1)),
            (json!("2089b05ecca3d82"), None),
            (json!("2089b05ecca3d8290"), None),
            (json!("2089b05ecca3d82g"), None),
            (json!("+089b05ecca3d829"), None),
            (json!(12), None),
        ];
        for (input, want) in table {
            assert_eq!(parse_gid(Some(input)).ok(), *want, "{input}");
        }
        assert_eq!(gid_text(1), "0000000000000001");
    }

    #[test]
    fn paging_as_aria2_documents_it() {
        let items = [0, 1, 2, 3, 4];
        let table: &[(i64, i64, &[i32])] = &[
            (0, 2, &[0, 1]),
            (3, 10, &[3, 4]),
            (5, 1, &[]),
            (9, 1, &[]),
            (0, 0, &[]),
            (-1, 2, &[4, 3]),
            (-3, 10, &[2, 1, 0]),
            (-6, 1, &[]),
        ];
        for &(offset, num, want) in table {
            assert_eq!(page(&items, offset, num), want, "{offset} {num}");
        }
    }
}

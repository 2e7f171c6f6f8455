//! The JSON listing for scripts: `{"path": "/docs/", "entries": [{"name", "type", "size",
//! "mtime", "etag"}]}`, in the order the view asks for. Names that are not UTF-8 are given
//! with U+FFFD in place of the bad bytes.

use serde_json::{Value, json};

use super::Entry;
use crate::date;

/// The document for `entries` at `path` (the decoded request path).
pub(crate) fn document(path: &str, entries: &[Entry]) -> String {
    let entries: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "name": String::from_utf8_lossy(&e.name),
                "type": if e.is_dir { "directory" } else { "file" },
                "size": e.size,
                "mtime": e.modified.map(date::rfc3339),
                "etag": e.etag,
            })
        })
        .collect();
    let mut text = json!({ "path": path, "entries": entries }).to_string();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_types() {
        let entries = [
            Entry {
                is_dir: true,
                name: b"sub".to_vec(),
                size: None,
                modified: Some(0),
                etag: None,
            },
            Entry {
                is_dir: false,
                name: b"a \"q\" \xff.txt".to_vec(),
                size: Some(5),
                modified: Some(784_111_777),
                etag: Some("\"5-1-2\"".to_owned()),
            },
        ];
        let doc: Value = serde_json::from_str(&document("/x/", &entries)).unwrap();
        assert_eq!(doc["path"], "/x/");
        assert_eq!(doc["entries"][0]["type"], "directory");
        assert_eq!(doc["entries"][0]["size"], Value::Null);
        assert_eq!(doc["entries"][0]["mtime"], "1970-01-01T00:00:00Z");
        assert_eq!(doc["entries"][1]["name"], "a \"q\" \u{fffd}.txt");
        assert_eq!(doc["entries"][1]["size"], 5);
        assert_eq!(doc["entries"][1]["mtime"], "1994-11-06T08:49:37Z");
        assert_eq!(doc["entries"][1]["etag"], "\"5-1-2\"");
    }
}

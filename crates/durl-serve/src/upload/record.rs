//! The info file of an upload: a small versioned text record, one `key value` per line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// First line of every info file; the number is the format version.
const MAGIC: &str = "durl-upload 1";

/// The durable record of one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Info {
    /// The announced length; `None` while deferred.
    pub(crate) length: Option<u64>,
    /// Bytes durably stored in the data file.
    pub(crate) offset: u64,
    /// `Upload-Metadata` as received ("" for none), echoed by HEAD.
    pub(crate) metadata: String,
    /// The (sanitised) name the file gets in the served directory.
    pub(crate) name: String,
    /// When the upload expires, in milliseconds since the Unix epoch.
    pub(crate) expires_ms: u64,
    /// Once complete: the name the file got (may be numbered if `name` was taken).
    pub(crate) done: Option<String>,
    /// The directory the file lands in, as its normalised, percent-encoded URL path
    /// (`/docs/api/`); `None`: the top directory (and records of earlier versions).
    pub(crate) dir: Option<String>,
    /// The user who created the upload (`None`: anonymous); only they may continue,
    /// query or terminate it.
    pub(crate) owner: Option<String>,
    /// Whether the file replaces one of its name; `None` (records of earlier versions):
    /// as the server is configured.
    pub(crate) replace: Option<bool>,
}

impl Info {
    /// The text form: one `key value` per line after the magic line.
    pub(crate) fn encode(&self) -> String {
        let mut out = format!("{MAGIC}\n");
        match self.length {
            Some(n) => out.push_str(&format!("length {n}\n")),
            None => out.push_str("length deferred\n"),
        }
        out.push_str(&format!("offset {}\n", self.offset));
        out.push_str(&format!("expires {}\n", self.expires_ms));
        out.push_str(&format!("name {}\n", self.name));
        if !self.metadata.is_empty() {
            out.push_str(&format!("metadata {}\n", self.metadata));
        }
        if let Some(done) = &self.done {
            out.push_str(&format!("done {done}\n"));
        }
        if let Some(dir) = &self.dir {
            out.push_str(&format!("dir {dir}\n"));
        }
        if let Some(owner) = &self.owner {
            out.push_str(&format!("owner {owner}\n"));
        }
        if let Some(replace) = self.replace {
            out.push_str(&format!("replace {}\n", u8::from(replace)));
        }
        out
    }

    /// Parses [`Info::encode`]'s output; `None` if anything is missing or malformed.
    pub(crate) fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let (mut length, mut offset, mut expires, mut name) = (None, None, None, None);
        let (mut metadata, mut done) = (String::new(), None);
        let (mut dir, mut owner, mut replace) = (None, None, None);
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "length" if value == "deferred" => length = Some(None),
                "length" => length = Some(Some(value.parse().ok()?)),
                "offset" => offset = Some(value.parse().ok()?),
                "expires" => expires = Some(value.parse().ok()?),
                "name" => name = Some(value.to_owned()),
                "metadata" => value.clone_into(&mut metadata),
                "done" => done = Some(value.to_owned()),
                "dir" => dir = Some(value.to_owned()),
                "owner" => owner = Some(value.to_owned()),
                "replace" => {
                    replace = Some(match value {
                        "0" => false,
                        "1" => true,
                        _ => return None,
                    });
                }
                _ => {}
            }
        }
        let info = Self {
            length: length?,
            offset: offset?,
            metadata,
            name: name?,
            expires_ms: expires?,
            done,
            dir,
            owner,
            replace,
        };
        (info.length.is_none_or(|n| info.offset <= n)).then_some(info)
    }

    /// Whether the upload has expired at `now_ms`.
    pub(crate) fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_ms
    }

    /// The expiry as a time.
    pub(crate) fn expires(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.expires_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_round_trips_and_rejects_damage() {
        let info = Info {
            length: Some(100),
            offset: 70,
            metadata: "filename YS50eHQ=".to_owned(),
            name: "a b.txt".to_owned(),
            expires_ms: 1_700_000_000_000,
            done: None,
            dir: None,
            owner: None,
            replace: None,
        };
        assert_eq!(Info::decode(&info.encode()), Some(info.clone()));
        let deferred = Info {
            length: None,
            done: Some("a b (1).txt".to_owned()),
            metadata: String::new(),
            ..info.clone()
        };
        assert_eq!(Info::decode(&deferred.encode()), Some(deferred));
        let placed = Info {
            dir: Some("/docs/a%20b/".to_owned()),
            owner: Some("alice".to_owned()),
            replace: Some(true),
            ..info.clone()
        };
        assert_eq!(Info::decode(&placed.encode()), Some(placed.clone()));
        let kept = Info {
            replace: Some(false),
            ..placed
        };
        assert_eq!(Info::decode(&kept.encode()), Some(kept));
        let text = info.encode();
        assert_eq!(Info::decode(&text.replace("offset 70", "offset 170")), None);
        assert_eq!(Info::decode(&text.replace(MAGIC, "durl-upload 2")), None);
        assert_eq!(Info::decode(&text.replace("offset 70\n", "")), None);
        assert_eq!(Info::decode(""), None);
        assert_eq!(Info::decode(&format!("{text}replace yes\n")), None);
    }
}

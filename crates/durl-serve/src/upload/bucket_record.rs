//! The record of an upload kept in an object store (`bucket.rs`): the local record's fields
//! ([`Info`]) and, after them, what the multipart upload needs, one `key value` per line:
//!
//! * `key K`: the final object key (the multipart upload is bound to it);
//! * `multipart ID`: the store's multipart upload id;
//! * `part ETAG`: one line per uploaded part, in order (each exactly [`PART`] bytes);
//! * `tail N`: bytes kept in the tail object (below one part), after the parts;
//! * `completing 1`: the completion has begun (the object may exist: a completion cut by a
//!   crash is recognised when retried).
//!
//! The offset is always `parts × PART + tail`. [`Info::decode`] skips the extra keys, and
//! the extra keys' decoder skips Info's.

use super::record::Info;

/// The size of every part but the last: above S3's 5 MiB floor, and the most one upload
/// buffers in memory.
pub(crate) const PART: u64 = 8 << 20;

/// The record of an upload in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BucketRecord {
    /// The fields every upload has.
    pub(crate) info: Info,
    /// The final object key.
    pub(crate) key: String,
    /// The store's multipart upload id.
    pub(crate) multipart: String,
    /// The ETags of the parts uploaded, in order.
    pub(crate) parts: Vec<String>,
    /// Bytes in the tail object.
    pub(crate) tail: u64,
    /// The completion has begun.
    pub(crate) completing: bool,
}

impl BucketRecord {
    /// The text form: [`Info::encode`], then the multipart fields.
    pub(crate) fn encode(&self) -> String {
        let mut out = self.info.encode();
        out.push_str(&format!("key {}\n", self.key));
        out.push_str(&format!("multipart {}\n", self.multipart));
        for part in &self.parts {
            out.push_str(&format!("part {part}\n"));
        }
        out.push_str(&format!("tail {}\n", self.tail));
        if self.completing {
            out.push_str("completing 1\n");
        }
        out
    }

    /// Parses [`BucketRecord::encode`]'s output; `None` if anything is missing, malformed or
    /// inconsistent (the offset must be the parts and the tail).
    pub(crate) fn decode(text: &str) -> Option<Self> {
        let info = Info::decode(text)?;
        let (mut key, mut multipart, mut tail, mut completing) = (None, None, None, false);
        let mut parts = Vec::new();
        for line in text.lines().skip(1) {
            let (name, value) = line.split_once(' ')?;
            match name {
                "key" => key = Some(value.to_owned()),
                "multipart" => multipart = Some(value.to_owned()),
                "part" => parts.push(value.to_owned()),
                "tail" => tail = Some(value.parse().ok()?),
                "completing" => completing = value == "1",
                _ => {}
            }
        }
        let record = Self {
            info,
            key: key?,
            multipart: multipart?,
            parts,
            tail: tail?,
            completing,
        };
        (record.tail < PART && record.info.offset == record.parts_len() + record.tail)
            .then_some(record)
    }

    /// Bytes held in the parts.
    pub(crate) fn parts_len(&self) -> u64 {
        self.parts.len() as u64 * PART
    }

    /// The number the next part gets (1-based, as S3 counts): the tail's object is named
    /// after it, so that a tail that became a part is never overwritten by the next tail.
    pub(crate) fn next_part(&self) -> usize {
        self.parts.len() + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> BucketRecord {
        BucketRecord {
            info: Info {
                length: Some(3 * PART),
                offset: 2 * PART + 5,
                metadata: "filename YS50eHQ=".to_owned(),
                name: "a.txt".to_owned(),
                expires_ms: 1_700_000_000_000,
                done: None,
                dir: Some("/docs/".to_owned()),
                owner: Some("alice".to_owned()),
                replace: Some(false),
            },
            key: "www/docs/a.txt".to_owned(),
            multipart: "abc/def=".to_owned(),
            parts: vec!["\"e1\"".to_owned(), "\"e2\"".to_owned()],
            tail: 5,
            completing: false,
        }
    }

    #[test]
    fn records_round_trip_and_an_inconsistent_offset_is_refused() {
        let r = record();
        assert_eq!(BucketRecord::decode(&r.encode()), Some(r.clone()));
        assert_eq!(Info::decode(&r.encode()), Some(r.info.clone()));
        assert_eq!(r.next_part(), 3);
        let empty = BucketRecord {
            parts: Vec::new(),
            tail: 0,
            info: Info {
                offset: 0,
                length: None,
                ..r.info.clone()
            },
            ..r.clone()
        };
        assert_eq!(BucketRecord::decode(&empty.encode()), Some(empty));
        let completing = BucketRecord {
            completing: true,
            ..r.clone()
        };
        assert_eq!(BucketRecord::decode(&completing.encode()), Some(completing));
        let text = r.encode();
        assert_eq!(
            BucketRecord::decode(&text.replace("tail 5", "tail 6")),
            None
        );
        assert_eq!(
            BucketRecord::decode(&text.replace("tail 5", &format!("tail {PART}"))),
            None
        );
        assert_eq!(
            BucketRecord::decode(&text.replace("key www/docs/a.txt\n", "")),
            None
        );
        assert_eq!(BucketRecord::decode(&r.info.encode()), None);
    }
}

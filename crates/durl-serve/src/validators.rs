//! Validators for a file: a strong `ETag` and `Last-Modified` (RFC 9110 §8.8).

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The validators of one file, computed from its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validators {
    /// The entity-tag's opaque part, without quotes: `len-secs.nanos-inode` in hex. It is
    /// sent as a strong ETag (RFC 9110 §8.8.3): any write that changes the bytes changes the
    /// length or the nanosecond mtime, and a replaced file (rename over) changes the inode.
    pub etag_opaque: String,
    /// The modification time truncated to whole seconds, which is all an HTTP-date can say
    /// (RFC 9110 §5.6.7). All date comparisons use this value.
    pub last_modified: SystemTime,
}

impl Validators {
    /// Computes the validators from a file's metadata.
    pub fn from_metadata(meta: &Metadata) -> Self {
        Self::new(meta.len(), meta.mtime(), meta.mtime_nsec(), meta.ino())
    }

    /// Computes the validators from raw parts (length, mtime seconds and nanoseconds since the
    /// epoch, inode).
    pub fn new(len: u64, mtime_secs: i64, mtime_nsec: i64, inode: u64) -> Self {
        let etag_opaque = format!("{len:x}-{mtime_secs:x}.{mtime_nsec:x}-{inode:x}");
        let secs = u64::try_from(mtime_secs).unwrap_or(0);
        Self {
            etag_opaque,
            last_modified: UNIX_EPOCH + Duration::from_secs(secs),
        }
    }

    /// The `ETag` field value: the opaque part in quotes, strong (no `W/`).
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.etag_opaque)
    }

    /// The `Last-Modified` field value, an IMF-fixdate.
    pub fn last_modified_header(&self) -> String {
        httpdate::fmt_http_date(self.last_modified)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_is_strong_and_changes_with_each_input() {
        let base = Validators::new(10, 1_700_000_000, 5, 42);
        assert_eq!(base.etag(), "\"a-6553f100.5-2a\"");
        assert!(!base.etag().starts_with("W/"));
        for other in [
            Validators::new(11, 1_700_000_000, 5, 42),
            Validators::new(10, 1_700_000_001, 5, 42),
            Validators::new(10, 1_700_000_000, 6, 42),
            Validators::new(10, 1_700_000_000, 5, 43),
        ] {
            assert_ne!(base.etag(), other.etag());
        }
    }

    #[test]
    fn last_modified_is_whole_seconds() {
        let v = Validators::new(0, 784_111_777, 999_999_999, 1);
        assert_eq!(v.last_modified_header(), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}

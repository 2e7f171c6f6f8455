//! Entry points for the fuzz targets in `fuzz/` (not a stable API: hidden from the docs).
//!
//! `range`, `conditional` and `validators` are public already; this module reaches the
//! request-target resolution and the tus header parsers without making their modules public.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use http::HeaderMap;

use crate::resolve::{self, RequestPath, Target};
use crate::upload::protocol::{self, Algorithm, Checksum, Length, Metadata};

/// A request target as `RequestPath::parse` accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTarget {
    /// The normalised, percent-encoded path of a file (no trailing slash).
    pub file_href: String,
    /// The same for a directory (with a trailing slash).
    pub dir_href: String,
    /// Whether it names the root.
    pub is_root: bool,
    /// Whether the target ended with `/`.
    pub trailing_slash: bool,
}

/// Parses the path of a request target; `None` when it is refused (400).
pub fn parse_target(path: &str) -> Option<ParsedTarget> {
    let p = RequestPath::parse(path).ok()?;
    Some(ParsedTarget {
        file_href: p.href(false),
        dir_href: p.href(true),
        is_root: p.is_root(),
        trailing_slash: p.has_trailing_slash(),
    })
}

/// What resolving a request target under a root gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// A regular file, opened; the path is where its descriptor really points
    /// (`/proc/self/fd`), not the path durl-serve computed.
    File(PathBuf),
    /// A directory, opened; the same for its descriptor.
    Dir(PathBuf),
    /// Refused or not found (any error answer).
    Refused,
}

/// Where descriptor `fd` points.
fn real_path(fd: &impl AsRawFd) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok()
}

/// Resolves and opens `path` under the canonical directory `root`, as a GET would: the fast
/// path (`resolve::open_cached`) and the full lookup (`resolve::open`). When the fast path
/// opens a file, it must be the very file the full lookup opens; the answer is the full
/// lookup's.
pub fn open_target(root: &Path, path: &str, follow_symlinks: bool) -> Opened {
    let Ok(request) = RequestPath::parse(path) else {
        return Opened::Refused;
    };
    let Ok(root_dir) = std::fs::File::open(root).map(OwnedFd::from) else {
        return Opened::Refused;
    };
    let cached = resolve::open_cached(&root_dir, root, &request);
    let opened = match resolve::open(&root_dir, root, &request, follow_symlinks) {
        Ok(Target::File { file, .. }) => real_path(&file).map_or(Opened::Refused, Opened::File),
        Ok(Target::Dir { dir }) => real_path(&dir).map_or(Opened::Refused, Opened::Dir),
        Err(_) => Opened::Refused,
    };
    if let Some((file, ..)) = cached {
        assert_eq!(
            real_path(&file).map(Opened::File),
            Some(opened.clone()),
            "the fast path and the full lookup disagree on {path:?}"
        );
    }
    opened
}

/// A value the server answers with 400 Bad Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused;

/// The server's reading of an `Upload-Offset` or `Upload-Length` value.
pub fn non_negative(value: &[u8]) -> Option<u64> {
    protocol::non_negative(value)
}

/// The server's reading of the integer header `name`: `Err` for a 400.
pub fn integer_field(headers: &HeaderMap, name: &str) -> Result<Option<u64>, Refused> {
    protocol::integer_field(headers, name).map_err(|_| Refused)
}

/// The length a creation asks for: `Ok(None)` for a deferred length, `Err` for a 400.
pub fn creation_length(headers: &HeaderMap) -> Result<Option<u64>, Refused> {
    match protocol::creation_length(headers) {
        Ok(Length::Known(n)) => Ok(Some(n)),
        Ok(Length::Deferred) => Ok(None),
        Err(_) => Err(Refused),
    }
}

/// A parsed `Upload-Metadata` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMetadata {
    /// The value as stored and echoed by HEAD.
    pub raw: String,
    /// The value of each key named in `keys` (decoded), in that order.
    pub values: Vec<Option<Vec<u8>>>,
    /// The sanitised file name the upload would get.
    pub file_name: Option<String>,
}

/// Parses `Upload-Metadata`, reporting the values of `keys`; `Err` for a 400.
pub fn metadata(value: &[u8], keys: &[&str]) -> Result<ParsedMetadata, Refused> {
    let m = Metadata::parse(value).map_err(|_| Refused)?;
    Ok(ParsedMetadata {
        raw: m.raw.clone(),
        values: keys.iter().map(|k| m.get(k).map(<[u8]>::to_vec)).collect(),
        file_name: m.file_name(),
    })
}

/// Parses the request's `Upload-Checksum`: the algorithm's name and the digest, `Ok(None)`
/// when absent, `Err` for a 400.
pub fn checksum(headers: &HeaderMap) -> Result<Option<(&'static str, Vec<u8>)>, Refused> {
    Ok(Checksum::from_headers(headers)
        .map_err(|_| Refused)?
        .map(|c| {
            let name = match c.algorithm {
                Algorithm::Sha1 => "sha1",
                Algorithm::Sha256 => "sha256",
                Algorithm::Crc32c => "crc32c",
            };
            (name, c.digest)
        }))
}

/// The upload-name sanitiser.
pub fn sanitize_upload_name(name: &str) -> Option<String> {
    protocol::sanitize(name)
}

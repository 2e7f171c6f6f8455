//! Request target → file under the root.
//!
//! Two steps, kept apart so the first stays pure and table-tested:
//! 1. [`RequestPath::parse`] percent-decodes the path exactly once and refuses anything that
//!    could name a place outside the root: `..` in any spelling (it is checked after decoding,
//!    so `%2e%2e` and `.%2e` are caught, and `%2f` becomes a separator before the check), NUL,
//!    backslashes (`\` and `%5c`), and targets that are not origin-form. Double encoding is
//!    harmless: `%252e` decodes once to the literal name `%2e`.
//! 2. [`open`] joins the segments to the canonical root, resolves symbolic links and, unless
//!    links may be followed, refuses a result outside the root (component-wise, so a sibling
//!    like `/srv/www2` never passes for `/srv/www`), then opens without blocking on FIFOs.
//!
//! [`open_cached`] is a shortcut for the common case that costs no trip to the blocking pool:
//! `openat2` below the root's descriptor with `RESOLVE_CACHED` (fail rather than touch the
//! disk), `RESOLVE_BENEATH` and `RESOLVE_NO_SYMLINKS`. When it succeeds the path has no
//! symbolic link and stays below the root, so [`open`] would have opened the very same path;
//! in every other case (not cached, a link, missing, a directory, an old kernel) the request
//! takes [`open`], which gives the answer.

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str};

use crate::error::RequestError;

/// Characters left as they are when a path segment is written back into a URL: RFC 3986
/// unreserved characters. Everything else is percent-encoded.
pub(crate) const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A decoded, checked request path: the segments below the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestPath {
    /// Decoded segments; none is empty, `.`, `..`, or contains `/`, `\` or NUL.
    segments: Vec<Vec<u8>>,
    /// Whether the target ended with `/` (directories are canonically addressed that way).
    trailing_slash: bool,
}

impl RequestPath {
    /// Decodes and checks the path component of a request target.
    pub(crate) fn parse(path: &str) -> Result<Self, RequestError> {
        // Origin-form (RFC 9112 §3.2.1) starts with "/". hyper hands us the path of an
        // absolute-form target too, so `GET http://h/../x` arrives here as "/../x".
        if !path.starts_with('/') {
            return Err(RequestError::BadPath);
        }
        // Decode exactly once; checks below run on the decoded bytes.
        let decoded: Vec<u8> = percent_decode_str(path).collect();
        if decoded.iter().any(|&b| b == 0 || b == b'\\') {
            return Err(RequestError::BadPath);
        }
        let mut segments = Vec::new();
        for segment in decoded.split(|&b| b == b'/') {
            match segment {
                b"" | b"." => {}
                b".." => return Err(RequestError::BadPath),
                _ => segments.push(segment.to_vec()),
            }
        }
        Ok(Self {
            segments,
            trailing_slash: decoded.ends_with(b"/"),
        })
    }

    /// Whether this is the root itself.
    pub(crate) fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether the target ended with `/`.
    pub(crate) fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// Whether a segment is a dotfile name (`.git`, `.env`): such paths are refused unless
    /// hidden files are served.
    pub(crate) fn is_hidden(&self) -> bool {
        self.segments.iter().any(|s| s.first() == Some(&b'.'))
    }

    /// The decoded segments below the root.
    pub(crate) fn segments(&self) -> &[Vec<u8>] {
        &self.segments
    }

    /// The path of `name` inside this directory (no trailing slash). `name` must be a single
    /// file name (no `/`, not `.` or `..`), as configured index names are.
    pub(crate) fn child(&self, name: &[u8]) -> Self {
        let mut segments = self.segments.clone();
        segments.push(name.to_vec());
        Self {
            segments,
            trailing_slash: false,
        }
    }

    /// The path relative to the root (`.` for the root itself).
    fn relative(&self) -> PathBuf {
        if self.segments.is_empty() {
            return PathBuf::from(".");
        }
        self.join(Path::new(""))
    }

    /// The file system path below `root`.
    fn join(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        for segment in &self.segments {
            path.push(OsStr::from_bytes(segment));
        }
        path
    }

    /// The normalised, percent-encoded URL path, with a trailing slash when `dir`. Built from
    /// the checked segments, never from the raw target, so `//evil.example` cannot turn a
    /// redirect into a protocol-relative one.
    pub(crate) fn href(&self, dir: bool) -> String {
        let mut out = String::from("/");
        for segment in &self.segments {
            out.extend(percent_encoding::percent_encode(segment, SEGMENT));
            out.push('/');
        }
        if !dir && out.len() > 1 {
            out.pop();
        }
        out
    }

    /// The decoded path for display (lossy UTF-8), e.g. in a listing's title.
    pub(crate) fn display(&self) -> String {
        let mut out = String::from("/");
        for segment in &self.segments {
            out.push_str(&String::from_utf8_lossy(segment));
            out.push('/');
        }
        out
    }
}

/// What a request path names.
#[derive(Debug)]
pub(crate) enum Target {
    /// A regular file, opened; `meta` comes from the open descriptor.
    File {
        /// The open file.
        file: File,
        /// Its metadata (fstat of `file`).
        meta: Metadata,
        /// Its path, for the Content-Type guess.
        path: PathBuf,
    },
    /// A directory.
    Dir {
        /// Its path.
        path: PathBuf,
    },
}

/// Resolves `request` below `root` (which must be canonical) and opens it. Blocking: call it
/// from `spawn_blocking`.
pub(crate) fn open(
    root: &Path,
    request: &RequestPath,
    follow_symlinks: bool,
) -> Result<Target, RequestError> {
    let joined = request.join(root);
    let mut options = OpenOptions::new();
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer and tie up a
    // blocking thread forever. It changes nothing for regular files.
    options.read(true).custom_flags(libc::O_NONBLOCK);
    let path = if follow_symlinks {
        joined
    } else {
        let canonical = std::fs::canonicalize(&joined)?;
        // Path::starts_with compares whole components: /srv/www2 does not start with /srv/www.
        if !canonical.starts_with(root) {
            return Err(RequestError::SymlinkEscape);
        }
        // Open the resolved path itself, refusing a link swapped in at the last component
        // since the check.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW);
        canonical
    };
    let file = options.open(&path)?;
    let meta = file.metadata()?;
    if meta.is_file() {
        Ok(Target::File { file, meta, path })
    } else if meta.is_dir() {
        Ok(Target::Dir { path })
    } else {
        // FIFOs, sockets, devices: not content we serve.
        Err(RequestError::NotFound)
    }
}

/// Opens `request` as a regular file below `root_dir` (the descriptor of the canonical `root`)
/// if that needs neither disk I/O nor symlink resolution; `None` sends the request to
/// [`open`]. Does not block, so it runs on the async thread.
pub(crate) fn open_cached(
    root_dir: &OwnedFd,
    root: &Path,
    request: &RequestPath,
) -> Option<(File, Metadata, PathBuf)> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    if request.is_root() || request.has_trailing_slash() {
        return None;
    }
    let fd = rustix::fs::openat2(
        root_dir,
        request.relative(),
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::CACHED | ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
    )
    .ok()?;
    let file = File::from(fd);
    // fstat of a descriptor just opened: the inode is in memory.
    let meta = file.metadata().ok()?;
    // Directories get a listing or a redirect, other types a 404: all through `open`.
    meta.is_file().then(|| (file, meta, request.join(root)))
}

/// Percent-encodes a single file name for use in a relative link.
pub(crate) fn encode_segment(name: &[u8]) -> String {
    percent_encoding::percent_encode(name, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(path: &str) -> Result<Vec<String>, &'static str> {
        RequestPath::parse(path)
            .map(|p| {
                p.segments
                    .iter()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .map_err(|_| "refused")
    }

    #[test]
    fn parse_table() {
        let ok = |s: &[&str]| Ok(s.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        #[rustfmt::skip]
        let cases: &[(&str, Result<Vec<String>, &str>)] = &[
            ("/", ok(&[])),
            ("/a.txt", ok(&["a.txt"])),
            ("/dir/a.txt", ok(&["dir", "a.txt"])),
            ("//dir///a.txt", ok(&["dir", "a.txt"])),
            ("/./a.txt", ok(&["a.txt"])),
            ("/%61.txt", ok(&["a.txt"])),
            ("/with%20space", ok(&["with space"])),
            ("/caf%C3%A9", ok(&["café"])),
            ("/%252e%252e/x", ok(&["%2e%2e", "x"])), // double encoding decodes once: a literal name
            ("/%25", ok(&["%"])),
            ("/100%", ok(&["100%"])),               // stray % kept literally
            ("/..", Err("refused")),
            ("/../etc/passwd", Err("refused")),
            ("/a/../../b", Err("refused")),
            ("/a/..", Err("refused")),
            ("/%2e%2e/x", Err("refused")),
            ("/%2E%2E/x", Err("refused")),
            ("/.%2e/x", Err("refused")),
            ("/%2e./x", Err("refused")),
            ("/a%2f..%2fb", Err("refused")),        // %2f decodes to a separator
            ("/..%2fetc", Err("refused")),
            ("/..%5cetc", Err("refused")),          // %5c = backslash
            ("/a\\b", Err("refused")),
            ("/..\\..\\etc", Err("refused")),
            ("/a%00.txt", Err("refused")),
            ("a.txt", Err("refused")),              // not origin-form
            ("*", Err("refused")),
            ("", Err("refused")),
        ];
        for (path, want) in cases {
            assert_eq!(&segments(path), want, "{path:?}");
        }
    }

    #[test]
    fn open_cached_takes_only_plain_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/a.txt"), b"hello").unwrap();
        std::os::unix::fs::symlink("sub/a.txt", root.join("link.bin")).unwrap();
        let root_dir = OwnedFd::from(File::open(&root).unwrap());
        let cached = |path: &str| open_cached(&root_dir, &root, &RequestPath::parse(path).unwrap());

        // Old kernels or sandboxes without openat2 answer None, which is always safe.
        if let Some((_, meta, path)) = cached("/sub/a.txt") {
            assert_eq!(meta.len(), 5);
            assert_eq!(path, root.join("sub/a.txt"), "the path `open` would use");
        }
        // Everything else goes to `open`: links (whose target names the Content-Type),
        // directories, trailing slashes, missing files.
        for path in ["/link.bin", "/sub", "/sub/", "/", "/sub/a.txt/", "/missing"] {
            assert!(cached(path).is_none(), "{path}");
        }
    }

    #[test]
    fn href_is_normalised_and_encoded() {
        let p = RequestPath::parse("//evil.example/").unwrap();
        assert_eq!(p.href(true), "/evil.example/");
        let p = RequestPath::parse("/a%20b/c&d").unwrap();
        assert_eq!(p.href(false), "/a%20b/c%26d");
        assert_eq!(p.href(true), "/a%20b/c%26d/");
        assert_eq!(RequestPath::parse("/").unwrap().href(true), "/");
        assert!(RequestPath::parse("/x/").unwrap().has_trailing_slash());
    }
}

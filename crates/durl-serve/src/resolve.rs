//! Request target → file under the root.
//!
//! Two steps, kept apart so the first stays pure and table-tested:
//! 1. [`RequestPath::parse`] percent-decodes the path exactly once and refuses anything that
//!    could name a place outside the root: `..` in any spelling (it is checked after decoding,
//!    so `%2e%2e` and `.%2e` are caught, and `%2f` becomes a separator before the check), NUL,
//!    backslashes (`\` and `%5c`), and targets that are not origin-form. Double encoding is
//!    harmless: `%252e` decodes once to the literal name `%2e`.
//! 2. [`open`] opens the segments relative to the root's descriptor, never by a path that was
//!    checked earlier (a check followed by an open by path loses the race against a directory
//!    swapped for a symbolic link in between). First `openat2` with `RESOLVE_BENEATH` and
//!    `RESOLVE_NO_SYMLINKS`, one system call that is atomic with its own check; when the path
//!    holds a symbolic link (or the kernel has no `openat2`), [`walk`] resolves it one
//!    component at a time from descriptors, each opened with `O_NOFOLLOW`, reading links itself:
//!    `..` (from a link's target) pops a descriptor it holds, an absolute target restarts from
//!    the root's descriptor when it names a place below the root, and anything leaving the root
//!    is refused unless links may be followed. FIFOs are opened without blocking.
//!
//! [`open_cached`] is a shortcut for the common case that costs no trip to the blocking pool:
//! the same `openat2` with `RESOLVE_CACHED` added (fail rather than touch the disk). In every
//! other case (not cached, a link, missing, a directory, an old kernel) the request takes
//! [`open`], which gives the answer.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

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
        /// Its path (links resolved), for the Content-Type guess only: never opened again.
        path: PathBuf,
    },
    /// A directory, opened for reading its entries.
    Dir {
        /// The open directory.
        dir: OwnedFd,
    },
}

/// Flags for the final component: read, never block on a FIFO, never follow a link there.
const FINAL: OFlags = OFlags::RDONLY
    .union(OFlags::NONBLOCK)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

/// Flags for a directory on the way: a handle only (needs search permission, not read).
const ON_THE_WAY: OFlags = OFlags::PATH
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOFOLLOW);

/// Most symbolic links one lookup follows (the kernel's own limit, `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

/// Resolves `request` below the root (`root_dir`, the descriptor of the canonical `root`) and
/// opens it. With `follow_symlinks`, links may lead anywhere; without, a link leading outside
/// the root is refused ([`RequestError::SymlinkEscape`]). Blocking: call it from
/// `spawn_blocking`.
pub(crate) fn open(
    root_dir: &OwnedFd,
    root: &Path,
    request: &RequestPath,
    follow_symlinks: bool,
) -> Result<Target, RequestError> {
    let (fd, path) = match beneath(root_dir, request, ResolveFlags::empty()) {
        Ok(fd) => (fd, request.join(root)),
        // A link on the way, or no openat2 here: resolve by hand, still from descriptors.
        Err(e) if needs_walk(e) => {
            walk(root_dir.as_fd(), root, &request.segments, follow_symlinks)?
        }
        Err(e) => return Err(io::Error::from(e).into()),
    };
    let file = File::from(fd);
    let meta = file.metadata()?;
    if meta.is_file() {
        Ok(Target::File { file, meta, path })
    } else if meta.is_dir() {
        Ok(Target::Dir {
            dir: OwnedFd::from(file),
        })
    } else {
        // FIFOs, sockets, devices: not content we serve.
        Err(RequestError::NotFound)
    }
}

/// `openat2(root_dir, request, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | extra)`: the path is
/// opened only if no component is a symbolic link and it stays below the root, checked by the
/// kernel during the lookup itself. `EAGAIN` (a rename raced the lookup) is retried a few times.
fn beneath(
    root_dir: &OwnedFd,
    request: &RequestPath,
    extra: ResolveFlags,
) -> Result<OwnedFd, Errno> {
    let relative = request.relative();
    let mut tries = 0;
    loop {
        let opened = rustix::fs::openat2(
            root_dir,
            &relative,
            FINAL,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | extra,
        );
        match opened {
            Err(Errno::AGAIN) if tries < 3 && extra.is_empty() => tries += 1,
            other => return other,
        }
    }
}

/// Whether an `openat2` failure means "resolve by hand" rather than an answer: a link on the
/// way (`ELOOP`), a rename racing the lookup (`EAGAIN`), or no usable `openat2` (old kernels,
/// seccomp filters, unknown flags).
fn needs_walk(e: Errno) -> bool {
    matches!(
        e,
        Errno::LOOP
            | Errno::AGAIN
            | Errno::XDEV
            | Errno::NOSYS
            | Errno::PERM
            | Errno::INVAL
            | Errno::TOOBIG
    )
}

/// Resolves `segments` one component at a time from `root_dir`, following links by reading
/// them (never letting the kernel follow one): each component is opened with `O_NOFOLLOW`
/// relative to the descriptor of its parent; a link's target replaces it in the queue of
/// components; `..` drops back to the descriptor of the parent this walk came through, so a
/// directory renamed meanwhile cannot take it elsewhere. Without `follow`, `..` above the root
/// and absolute targets not below `root` are [`RequestError::SymlinkEscape`]. Returns the
/// final component opened with [`FINAL`] flags and its path (for the Content-Type guess).
fn walk(
    root_dir: BorrowedFd<'_>,
    root: &Path,
    segments: &[Vec<u8>],
    follow: bool,
) -> Result<(OwnedFd, PathBuf), RequestError> {
    // dirs[0] is the base (the root, or `/` after an absolute link when following); each
    // further entry is a directory below the previous one, named names[i - 1].
    let mut base = root.to_path_buf();
    let mut dirs: Vec<OwnedFd> = vec![root_dir.try_clone_to_owned()?];
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut pending: VecDeque<Vec<u8>> = segments.iter().cloned().collect();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name.is_empty() || name == b"." {
            continue;
        }
        if name == b".." {
            if dirs.len() > 1 {
                dirs.pop();
                names.pop();
            } else if follow {
                dirs[0] = rustix::fs::openat(&dirs[0], "..", ON_THE_WAY, Mode::empty())
                    .map_err(io::Error::from)?;
                base.pop();
            } else {
                return Err(RequestError::SymlinkEscape);
            }
            continue;
        }
        let last = !pending.iter().any(|n| !n.is_empty() && n != b".");
        let parent = dirs.last().expect("the base is never popped");
        let flags = if last { FINAL } else { ON_THE_WAY };
        let error = match rustix::fs::openat(parent, OsStr::from_bytes(&name), flags, Mode::empty())
        {
            Ok(fd) if last => {
                names.push(name);
                return Ok((fd, joined(&base, &names)));
            }
            Ok(fd) => {
                dirs.push(fd);
                names.push(name);
                continue;
            }
            Err(e) => e,
        };
        // O_NOFOLLOW met a link (ELOOP for the last component, ENOTDIR with O_PATH): read it.
        // Any other failure is the answer.
        let target = match rustix::fs::readlinkat(parent, OsStr::from_bytes(&name), Vec::new()) {
            Ok(target) => target,
            // No link (any more): the name was swapped between the two calls. Look again, a
            // bounded number of times; else the open's own failure is the answer.
            Err(Errno::INVAL)
                if matches!(error, Errno::LOOP | Errno::NOTDIR) && links < MAX_LINKS =>
            {
                links += 1;
                pending.push_front(name);
                continue;
            }
            Err(_) => return Err(io::Error::from(error).into()),
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(io::Error::from(Errno::LOOP).into());
        }
        let target = target.into_bytes();
        let mut spliced: Vec<Vec<u8>> = Vec::new();
        if target.starts_with(b"/") {
            let target = Path::new(OsStr::from_bytes(&target));
            if follow {
                dirs = vec![
                    rustix::fs::open("/", ON_THE_WAY, Mode::empty()).map_err(io::Error::from)?,
                ];
                base = PathBuf::from("/");
                names.clear();
                spliced.extend(components(target));
            } else {
                // Below the root (compared component by component)? Then from the root on.
                let Ok(rest) = target.strip_prefix(root) else {
                    return Err(RequestError::SymlinkEscape);
                };
                dirs.truncate(1);
                names.clear();
                spliced.extend(components(rest));
            }
        } else {
            spliced.extend(target.split(|&b| b == b'/').map(<[u8]>::to_vec));
        }
        for component in spliced.into_iter().rev() {
            pending.push_front(component);
        }
    }
    // The path ended on a directory reached on the way (the root itself, `sub/..`, a link to
    // `dir/`): open it for reading.
    let dir = dirs.last().expect("the base is never popped");
    let fd = rustix::fs::openat(dir, ".", FINAL | OFlags::DIRECTORY, Mode::empty())
        .map_err(io::Error::from)?;
    Ok((fd, joined(&base, &names)))
}

/// The components of a path as byte strings, `..` kept (the walk handles it).
fn components(path: &Path) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.as_bytes().to_vec()),
        Component::ParentDir => Some(b"..".to_vec()),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// `base` with `names` appended.
fn joined(base: &Path, names: &[Vec<u8>]) -> PathBuf {
    let mut path = base.to_path_buf();
    for name in names {
        path.push(OsStr::from_bytes(name));
    }
    path
}

/// Opens the directory `request` names below `root_dir` (the root's descriptor) to place a
/// file in it, following no symbolic link at all, not even one inside the root: one
/// `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (atomic with its check), or where the
/// kernel lacks it a walk opening each component with `O_NOFOLLOW | O_DIRECTORY` from its
/// parent's descriptor. A link on the way is `ELOOP`, a missing component `ENOENT`, a file
/// `ENOTDIR`. Blocking.
pub(crate) fn open_dir_strictly(
    root_dir: &OwnedFd,
    request: &RequestPath,
) -> Result<OwnedFd, Errno> {
    const DIR: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);
    let opened = rustix::fs::openat2(
        root_dir,
        request.relative(),
        DIR,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
    );
    let opened = match opened {
        Err(Errno::NOSYS | Errno::PERM | Errno::INVAL | Errno::TOOBIG | Errno::AGAIN) => {
            walk_dirs(root_dir, &request.segments)
        }
        other => other,
    };
    match opened {
        // `O_DIRECTORY` meets a link at the end as "not a directory": say it is a link.
        Err(Errno::NOTDIR) => {
            let own = rustix::fs::statat(root_dir, request.relative(), AtFlags::SYMLINK_NOFOLLOW);
            match own {
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                    Err(Errno::LOOP)
                }
                _ => Err(Errno::NOTDIR),
            }
        }
        other => other,
    }
}

/// [`open_dir_strictly`] where `openat2` is missing: each component opened from its parent's
/// descriptor with `O_NOFOLLOW | O_DIRECTORY`.
fn walk_dirs(root_dir: &OwnedFd, segments: &[Vec<u8>]) -> Result<OwnedFd, Errno> {
    const DIR: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);
    let mut dir = rustix::fs::openat(root_dir, ".", DIR, Mode::empty())?;
    for segment in segments {
        dir = rustix::fs::openat(&dir, OsStr::from_bytes(segment), DIR, Mode::empty())?;
    }
    Ok(dir)
}

/// Opens `request` as a regular file below `root_dir` (the descriptor of the canonical `root`)
/// if that needs neither disk I/O nor symlink resolution; `None` sends the request to
/// [`open`]. Does not block, so it runs on the async thread.
pub(crate) fn open_cached(
    root_dir: &OwnedFd,
    root: &Path,
    request: &RequestPath,
) -> Option<(File, Metadata, PathBuf)> {
    if request.is_root() || request.has_trailing_slash() {
        return None;
    }
    let fd = beneath(root_dir, request, ResolveFlags::CACHED).ok()?;
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

    /// The walk alone (what runs where openat2 is missing or a path holds a link).
    #[test]
    fn the_walk_follows_links_inside_and_refuses_links_out() {
        let base = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(base.path()).unwrap().join("www");
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(root.join("sub/a.txt"), b"a").unwrap();
        std::fs::write(root.parent().unwrap().join("secret"), b"s").unwrap();
        let link = |target: &Path, name: &str| std::os::unix::fs::symlink(target, root.join(name));
        link(Path::new("sub/a.txt"), "rel").unwrap();
        link(&root.join("sub/a.txt"), "abs-inside").unwrap();
        link(Path::new("sub/deeper/../a.txt"), "dotdot-inside").unwrap();
        link(Path::new("sub/"), "dir-slash").unwrap();
        link(Path::new("../secret"), "out").unwrap();
        link(&root.parent().unwrap().join("secret"), "abs-out").unwrap();
        link(&root.join("../secret"), "abs-dotdot-out").unwrap();
        link(Path::new("loop"), "loop").unwrap();
        let root_dir = OwnedFd::from(File::open(&root).unwrap());
        let walk = |path: &str, follow: bool| {
            let request = RequestPath::parse(path).unwrap();
            walk(root_dir.as_fd(), &root, &request.segments, follow)
                .map(|(fd, p)| (File::from(fd).metadata().unwrap().len(), p))
        };
        for path in [
            "/rel",
            "/abs-inside",
            "/dotdot-inside",
            "/dir-slash/a.txt",
            "/sub/a.txt",
        ] {
            let (len, resolved) = walk(path, false).unwrap();
            assert_eq!((len, resolved), (1, root.join("sub/a.txt")), "{path}");
        }
        assert!(walk("/dir-slash", false).is_ok());
        assert!(walk("/", false).is_ok());
        for path in ["/out", "/abs-out", "/abs-dotdot-out"] {
            assert!(
                matches!(walk(path, false), Err(RequestError::SymlinkEscape)),
                "{path}"
            );
            let (len, _) = walk(path, true).unwrap();
            assert_eq!(len, 1, "{path} with links followed");
        }
        assert!(matches!(walk("/loop", false), Err(RequestError::Io(_))));
        assert!(
            matches!(walk("/missing", false), Err(RequestError::Io(e)) if e.kind() == io::ErrorKind::NotFound)
        );
        assert!(matches!(
            walk("/sub/a.txt/x", false),
            Err(RequestError::Io(_))
        ));
    }

    /// Issue 13 item 1, on the walk itself: a directory exchanged with a link to the outside
    /// while the walk runs never yields the outside file.
    #[test]
    fn the_walk_never_leaves_the_root_while_a_directory_is_swapped() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let base = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(base.path()).unwrap().join("www");
        let outside = root.parent().unwrap().join("outside");
        std::fs::create_dir_all(root.join("dir")).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(root.join("dir/file"), b"inside").unwrap();
        std::fs::write(outside.join("file"), b"OUTSIDE!").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("swap")).unwrap();
        let root_dir = OwnedFd::from(File::open(&root).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (dir, stop) = (root_dir.try_clone().unwrap(), Arc::clone(&stop));
            std::thread::spawn(move || {
                for _ in 0..5_000_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let flags = rustix::fs::RenameFlags::EXCHANGE;
                    rustix::fs::renameat_with(&dir, "dir", &dir, "swap", flags).unwrap();
                }
            })
        };
        let request = RequestPath::parse("/dir/file").unwrap();
        let (mut inside, mut refused) = (0, 0);
        for _ in 0..20_000 {
            match walk(root_dir.as_fd(), &root, &request.segments, false) {
                Ok((fd, _)) => {
                    assert_eq!(File::from(fd).metadata().unwrap().len(), 6, "outside file");
                    inside += 1;
                }
                Err(_) => refused += 1,
            }
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        assert!(inside > 0, "{inside} served, {refused} refused");
    }

    #[test]
    fn the_directory_walk_follows_no_link() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/f"), b"").unwrap();
        std::os::unix::fs::symlink("b", root.join("a/link")).unwrap();
        std::os::unix::fs::symlink("/", root.join("out")).unwrap();
        let root_dir = OwnedFd::from(File::open(root).unwrap());
        let segs =
            |p: &str| -> Vec<Vec<u8>> { p.split('/').map(|s| s.as_bytes().to_vec()).collect() };
        assert!(walk_dirs(&root_dir, &segs("a/b")).is_ok());
        assert!(walk_dirs(&root_dir, &[]).is_ok());
        for (path, want) in [
            ("a/link", [Errno::LOOP, Errno::NOTDIR]),
            ("out", [Errno::LOOP, Errno::NOTDIR]),
            ("a/link/x", [Errno::LOOP, Errno::NOTDIR]),
            ("a/f", [Errno::NOTDIR, Errno::NOTDIR]),
            ("a/none", [Errno::NOENT, Errno::NOENT]),
        ] {
            let e = walk_dirs(&root_dir, &segs(path)).unwrap_err();
            assert!(want.contains(&e), "{path}: {e:?}");
        }
        // The entry point says which is a link, whichever way it looked.
        for (path, want) in [
            ("a/link", Errno::LOOP),
            ("out", Errno::LOOP),
            ("a/f", Errno::NOTDIR),
        ] {
            let request = RequestPath::parse(&format!("/{path}/")).unwrap();
            assert_eq!(
                open_dir_strictly(&root_dir, &request).unwrap_err(),
                want,
                "{path}"
            );
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

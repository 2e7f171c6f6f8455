//! Putting a finished upload into a directory of the served tree: [`place`] moves the data
//! file, relative to directory descriptors only, under its name or a free variant of it, and
//! never follows or replaces anything it did not create (unless asked to replace).
//!
//! * Same file system: `renameat2(RENAME_NOREPLACE)` (or `linkat` + `unlinkat` where the file
//!   system lacks it), which never follows a link planted at the destination name.
//! * Across file systems: a copy into a fresh temporary created with
//!   `O_CREAT | O_EXCL | O_NOFOLLOW` under a random name in the destination directory,
//!   synced, then renamed the same way; the source goes only once the copy has its name.
//! * A taken name gets `name (1).ext`, `name (2).ext`, ... shortened on a character boundary
//!   to stay within 255 bytes; with `overwrite`, a name held by a directory (which cannot be
//!   replaced) gets a numbered variant too; when all else fails, the caller's fallback name
//!   (the upload's id). A complete upload is never left without a name because of its name.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags};
use rustix::io::Errno;

/// Longest file name on Linux file systems, in bytes (`NAME_MAX`).
const NAME_MAX: usize = 255;

/// Numbered variants tried before the fallback name.
const VARIANTS: u32 = 1000;

/// The finished upload `from` (a name in the directory `from_dir`), to be placed in `to_dir`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Finished<'a> {
    /// The directory holding the finished data.
    pub(crate) from_dir: BorrowedFd<'a>,
    /// Its name there.
    pub(crate) from: &'a str,
    /// The name wanted (sanitised: one component of at most 255 bytes).
    pub(crate) name: &'a str,
    /// The name used when `name` and its variants cannot be (the upload's id).
    pub(crate) fallback: &'a str,
}

/// Moves `finished` into `to_dir` under its name, a numbered variant or its fallback name;
/// replaces an existing file of its name only with `overwrite`. Returns the name used.
///
/// The file gets mode 0644 first: unfinished uploads are private (0600 in a 0700 directory),
/// a finished one is a file of the served tree like any other, readable by other users.
pub(crate) fn place(
    finished: Finished<'_>,
    to_dir: BorrowedFd<'_>,
    overwrite: bool,
) -> io::Result<String> {
    let data = rustix::fs::openat(
        finished.from_dir,
        finished.from,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::fs::fchmod(&data, Mode::from_raw_mode(0o644))?;
    mark(&data);
    match settle(
        finished.from_dir,
        finished.from,
        to_dir,
        finished,
        overwrite,
    ) {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
        other => return other,
    }
    // Another file system: copy into a temporary of our own making, then name that.
    let temporary = format!(".durl-upload-{:016x}.tmp", rand::random::<u64>());
    let copy = rustix::fs::openat(
        to_dir,
        temporary.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )?;
    mark(&copy);
    let copied = copy_and_sync(data, copy)
        .and_then(|()| settle(to_dir, &temporary, to_dir, finished, overwrite));
    match copied {
        Ok(name) => {
            rustix::fs::unlinkat(finished.from_dir, finished.from, AtFlags::empty())?;
            Ok(name)
        }
        Err(e) => {
            let _ = rustix::fs::unlinkat(to_dir, temporary.as_str(), AtFlags::empty());
            Err(e)
        }
    }
}

/// Marks a file as uploaded (the `user.durl.upload` xattr): served, an active type is then
/// sandboxed (`response.rs`). Where xattrs cannot be set, the server sandboxes every active
/// file while uploads are on, so a failure here is only logged.
fn mark(file: &OwnedFd) {
    use xattr::FileExt as _;
    let marked = file
        .try_clone()
        .map(File::from)
        .and_then(|file| file.set_xattr(crate::response::UPLOAD_MARK, b"1"));
    if let Err(e) = marked {
        tracing::debug!(error = %e, "cannot mark an uploaded file");
    }
}

/// Copies `data` into `copy` and syncs it (`std::io::copy` uses `copy_file_range`).
fn copy_and_sync(data: OwnedFd, copy: OwnedFd) -> io::Result<()> {
    let (mut data, mut copy) = (File::from(data), File::from(copy));
    io::copy(&mut data, &mut copy)?;
    copy.sync_all()
}

/// Renames `src_dir/src` to the first name of `finished` that is free in `to_dir` (replacing
/// `finished.name` with `overwrite` when it is not a directory). `EXDEV` is returned as is.
fn settle(
    src_dir: BorrowedFd<'_>,
    src: &str,
    to_dir: BorrowedFd<'_>,
    finished: Finished<'_>,
    overwrite: bool,
) -> io::Result<String> {
    if overwrite {
        match rustix::fs::renameat(src_dir, src, to_dir, finished.name) {
            Ok(()) => return Ok(finished.name.to_owned()),
            // A directory (or something else a file cannot replace) holds the name: keep it
            // and take a numbered variant below.
            Err(Errno::ISDIR | Errno::NOTEMPTY | Errno::EXIST | Errno::BUSY | Errno::NOTDIR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let candidates = (0..VARIANTS)
        .map(|n| numbered(finished.name, n))
        .chain(std::iter::once(finished.fallback.to_owned()));
    for candidate in candidates {
        match rename_noreplace(src_dir, src, to_dir, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(Errno::EXIST | Errno::NAMETOOLONG) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "every variant of the name is taken",
    ))
}

/// `renameat2(RENAME_NOREPLACE)`; where the file system lacks it, `linkat` + `unlinkat`, which
/// also never replaces. Neither follows a link at the destination.
fn rename_noreplace(
    src_dir: BorrowedFd<'_>,
    src: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
) -> Result<(), Errno> {
    match rustix::fs::renameat_with(src_dir, src, to_dir, to, RenameFlags::NOREPLACE) {
        Err(Errno::INVAL | Errno::NOSYS) => {
            rustix::fs::linkat(src_dir, src, to_dir, to, AtFlags::empty())?;
            rustix::fs::unlinkat(src_dir, src, AtFlags::empty())
        }
        other => other,
    }
}

/// `name` for 0; `report (2).pdf` for `report.pdf` and 2, the stem shortened (on a character
/// boundary) so the result stays within [`NAME_MAX`] bytes. An extension too long to keep is
/// treated as part of the stem.
pub(crate) fn numbered(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let suffix = format!(" ({n})");
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && suffix.len() + ext.len() + 2 <= NAME_MAX => {
            (stem, format!(".{ext}"))
        }
        _ => (name, String::new()),
    };
    let room = NAME_MAX - suffix.len() - ext.len();
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{suffix}{ext}", &stem[..cut])
}

/// fsync of a directory, so a rename or unlink in it survives a crash.
pub(crate) fn sync_dir(dir: impl AsFd) -> io::Result<()> {
    rustix::fs::fsync(dir)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::Path;

    fn dir_fd(path: &Path) -> OwnedFd {
        OwnedFd::from(File::open(path).unwrap())
    }

    fn finished<'a>(up: &'a OwnedFd, name: &'a str) -> Finished<'a> {
        Finished {
            from_dir: up.as_fd(),
            from: "x.data",
            name,
            fallback: "upload-id",
        }
    }

    /// `up/x.data` holding `content`, mode 0600; returns the base directory.
    fn fixture(content: &[u8]) -> (tempfile::TempDir, OwnedFd, OwnedFd) {
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (up, root) = (dir.path().join("up"), dir.path().join("www"));
        fs::create_dir(&up).unwrap();
        fs::create_dir(&root).unwrap();
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(up.join("x.data"))
            .unwrap();
        io::Write::write_all(&mut file, content).unwrap();
        let (up, root) = (dir_fd(&up), dir_fd(&root));
        (dir, up, root)
    }

    #[test]
    fn a_placed_file_is_readable_by_others_and_never_replaces_one() {
        let (dir, up, root) = fixture(b"new");
        let www = dir.path().join("www");
        fs::write(www.join("a.txt"), b"old").unwrap();
        let placed = place(finished(&up, "a.txt"), root.as_fd(), false).unwrap();
        assert_eq!(placed, "a (1).txt");
        let meta = fs::metadata(www.join("a (1).txt")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(fs::read(www.join("a.txt")).unwrap(), b"old");
        assert_eq!(fs::read(www.join("a (1).txt")).unwrap(), b"new");
    }

    /// Issue 13 item 4: a 255-byte name that is taken, and `--overwrite` onto a directory.
    #[test]
    fn a_long_taken_name_or_a_directory_still_gets_a_name() {
        let long = format!("{}.txt", "é".repeat(125)); // 250 + 4 bytes
        assert_eq!(long.len(), 254);
        let (dir, up, root) = fixture(b"long");
        let www = dir.path().join("www");
        fs::write(www.join(&long), b"old").unwrap();
        let placed = place(finished(&up, &long), root.as_fd(), false).unwrap();
        assert!(
            placed.len() <= NAME_MAX && placed.ends_with(" (1).txt"),
            "{placed}"
        );
        assert_eq!(fs::read(www.join(&placed)).unwrap(), b"long");
        assert_eq!(fs::read(www.join(&long)).unwrap(), b"old");

        let (dir, up, root) = fixture(b"over");
        let www = dir.path().join("www");
        fs::create_dir(www.join("d")).unwrap();
        fs::write(www.join("d/inner"), b"kept").unwrap();
        let placed = place(finished(&up, "d"), root.as_fd(), true).unwrap();
        assert_eq!(placed, "d (1)");
        assert_eq!(fs::read(www.join("d (1)")).unwrap(), b"over");
        assert_eq!(fs::read(www.join("d/inner")).unwrap(), b"kept");
        // An empty directory too (rename would replace it): a file never replaces a directory.
        let (dir, up, root) = fixture(b"over");
        let www = dir.path().join("www");
        fs::create_dir(www.join("e")).unwrap();
        assert_eq!(
            place(finished(&up, "e"), root.as_fd(), true).unwrap(),
            "e (1)"
        );
        assert!(www.join("e").is_dir());
    }

    #[test]
    fn numbered_names_stay_within_name_max() {
        assert_eq!(numbered("report.pdf", 0), "report.pdf");
        assert_eq!(numbered("report.pdf", 2), "report (2).pdf");
        assert_eq!(numbered("README", 1), "README (1)");
        assert_eq!(numbered("_bashrc", 1), "_bashrc (1)");
        let long = "a".repeat(251) + ".txt";
        let n = numbered(&long, 1);
        assert_eq!((n.len(), n.ends_with("a (1).txt")), (NAME_MAX, true));
        let n = numbered(&long, 999);
        assert!(n.len() <= NAME_MAX && n.ends_with(" (999).txt"));
        let accents = "é".repeat(127) + ".x"; // 254 + 2 bytes... cut on a boundary
        let n = numbered(&accents, 1);
        assert!(n.len() <= NAME_MAX && n.ends_with(" (1).x"), "{n}");
        let ext_only = format!("a.{}", "b".repeat(252));
        let n = numbered(&ext_only, 1);
        assert!(n.len() <= NAME_MAX && n.ends_with(" (1)"), "{n}");
    }
}

//! The few file-system operations whose ordering the crash guarantees rest on.
//!
//! A rename is durable only once the directory that holds it has been fsync'd; a file's bytes
//! are durable only once the file has been fsync'd. Every write that later code relies on after
//! a crash goes through here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Replaces `path` with `contents` atomically and durably: write a temporary file beside it,
/// fsync it, rename it over `path`, fsync the directory. After a crash at any point `path`
/// holds either the old or the new contents, never a mix.
///
/// The temporary is created with `O_CREAT | O_EXCL | O_NOFOLLOW` ([`create_new`]): a file or
/// symbolic link someone planted under its name is never written through.
///
/// # Errors
/// Any I/O error, with the temporary file removed where possible.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_and_rename(path, contents, true)
}

/// [`replace`] without the fsyncs: atomic for every reader now, but after a crash the old
/// file, the new one, or an empty or truncated one may be found. Only for content whose
/// loss costs nothing (a download's first state, which claims no byte yet: a truncated
/// state is refused on load and the download starts over, as it would have anyway).
///
/// # Errors
/// Any I/O error, with the temporary file removed where possible.
pub fn replace_unsynced(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_and_rename(path, contents, false)
}

fn write_and_rename(path: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
    let tmp = sibling(path, ".tmp");
    let result = (|| {
        let mut file = create_new(&tmp)?;
        file.write_all(contents)?;
        if durable {
            file.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if durable {
            sync_parent(path)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `path` afresh for writing with `O_CREAT | O_EXCL | O_NOFOLLOW`. Whatever already
/// has the name (a temporary left by a crash, or a symbolic link planted by another user of
/// a shared directory) is unlinked first — the link itself, never its target — and the
/// exclusive create then fails rather than follow anything that reappears meanwhile.
///
/// # Errors
/// Any I/O error of the unlink or the create.
pub fn create_new(path: &Path) -> io::Result<File> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path)?;
            open()
        }
        r => r,
    }
}

/// Opens (creating if needed) `path` for reading and writing, never following a symbolic link
/// in its last component (`O_NOFOLLOW`) and never blocking on a FIFO (`O_NONBLOCK`, which
/// regular files ignore). Returns the file and, when it is not a regular file, what it is
/// instead (see [`irregular`]); a symbolic link is reported that way too.
///
/// # Errors
/// Any I/O error of the open or the `fstat` other than the one for a symbolic link.
pub fn open_regular(path: &Path) -> io::Result<Result<File, &'static str>> {
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    match opened {
        // open(2): "O_NOFOLLOW: If the trailing component of pathname is a symbolic link,
        // then the open fails with the error ELOOP."
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Ok(Err("a symbolic link")),
        Err(e) => Err(e),
        Ok(file) => Ok(match irregular(&file.metadata()?.file_type()) {
            Some(found) => Err(found),
            None => Ok(file),
        }),
    }
}

/// What a file of type `t` is, in words, when it is not a regular file; `None` for a regular
/// file.
pub fn irregular(t: &fs::FileType) -> Option<&'static str> {
    Some(if t.is_file() {
        return None;
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    })
}

/// Renames `from` to `to` and makes the rename durable by fsyncing the directory.
///
/// # Errors
/// Any I/O error of the rename or the directory sync.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    fs::rename(from, to)?;
    sync_parent(to)
}

/// Removes `path` (if present) and makes the removal durable.
///
/// # Errors
/// Any I/O error other than "not found".
pub fn remove(path: &Path) -> io::Result<()> {
    if remove_if_present(path)? {
        sync_parent(path)?;
    }
    Ok(())
}

/// Removes `path` (if present) without making the removal durable: for a file whose
/// reappearance after a crash is harmless (a finished download's state file, which a later
/// run finds unusable beside no part file).
///
/// # Errors
/// Any I/O error other than "not found".
pub fn remove_unsynced(path: &Path) -> io::Result<()> {
    remove_if_present(path).map(drop)
}

/// Removes `path`; false when there was nothing to remove.
fn remove_if_present(path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Fsyncs the directory that holds `path`, so that a create, rename or unlink in it survives
/// a crash.
///
/// # Errors
/// Any I/O error opening or syncing the directory.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// `path` with `suffix` appended to its file name (`a/b.iso` + `.x` = `a/b.iso.x`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_swaps_contents_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state");
        replace(&path, b"one").unwrap();
        replace(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!sibling(&path, ".tmp").exists());
        remove(&path).unwrap();
        remove(&path).unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn replace_never_writes_through_a_planted_temporary() {
        // Issue 13, item 10: another user plants `<state>.tmp` -> a victim file.
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let path = dir.path().join("x.durl-state");
        std::os::unix::fs::symlink(&victim, sibling(&path, ".tmp")).unwrap();
        replace(&path, b"state").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::read(&path).unwrap(), b"state");
        assert!(!fs::symlink_metadata(&path).unwrap().is_symlink());
        // A stale regular temporary (a crash between create and rename) is replaced too.
        fs::write(sibling(&path, ".tmp"), b"stale").unwrap();
        replace(&path, b"again").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"again");
    }

    #[test]
    fn open_regular_refuses_links_and_special_files() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert_eq!(open_regular(&link).unwrap().unwrap_err(), "a symbolic link");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
        assert_eq!(
            open_regular(&dangling).unwrap().unwrap_err(),
            "a symbolic link"
        );
        assert!(!dir.path().join("nowhere").exists());
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert_eq!(open_regular(&fifo).unwrap().unwrap_err(), "a FIFO");
        assert_eq!(
            open_regular(dir.path())
                .map(|r| r.map(drop))
                .map_err(|e| e.kind()),
            Err(io::ErrorKind::IsADirectory)
        );
        let fresh = dir.path().join("fresh");
        assert!(open_regular(&fresh).unwrap().is_ok());
        assert!(fresh.is_file());
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn sibling_appends_to_the_file_name() {
        assert_eq!(
            sibling(Path::new("a/b.iso"), ".x"),
            PathBuf::from("a/b.iso.x")
        );
        assert_eq!(sibling(Path::new("b"), ".x"), PathBuf::from("b.x"));
    }
}

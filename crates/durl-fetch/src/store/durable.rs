//! The few file-system operations whose ordering the crash guarantees rest on.
//!
//! A rename is durable only once the directory that holds it has been fsync'd; a file's bytes
//! are durable only once the file has been fsync'd. Every write that later code relies on after
//! a crash goes through here.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Replaces `path` with `contents` atomically and durably: write a temporary file beside it,
/// fsync it, rename it over `path`, fsync the directory. After a crash at any point `path`
/// holds either the old or the new contents, never a mix.
///
/// # Errors
/// Any I/O error, with the temporary file removed where possible.
pub fn replace(path: &Path, contents: &[u8]) -> io::Result<()> {
    let tmp = sibling(path, ".tmp");
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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
    match fs::remove_file(path) {
        Ok(()) => sync_parent(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
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
    fn sibling_appends_to_the_file_name() {
        assert_eq!(
            sibling(Path::new("a/b.iso"), ".x"),
            PathBuf::from("a/b.iso.x")
        );
        assert_eq!(sibling(Path::new("b"), ".x"), PathBuf::from("b.x"));
    }
}

//! Putting a finished upload into the served directory: a rename that never replaces a file
//! unless asked to, numbered names for taken ones, and a synced copy across file systems.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

/// Moves `data` into `root` as `name`, or as a numbered variant (`name (1).ext`) if `name`
/// is taken and `overwrite` is off. Returns the name used.
///
/// The file gets mode 0644 first: unfinished uploads are private (0600 in a 0700 directory),
/// a finished one is a file of the served tree like any other, readable by other users.
pub(crate) fn place(data: &Path, root: &Path, name: &str, overwrite: bool) -> io::Result<String> {
    fs::set_permissions(data, fs::Permissions::from_mode(0o644))?;
    if overwrite {
        move_file(data, &root.join(name), true)?;
        return Ok(name.to_owned());
    }
    for n in 0..1000 {
        let candidate = if n == 0 {
            name.to_owned()
        } else {
            numbered(name, n)
        };
        match move_file(data, &root.join(&candidate), false) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "every numbered variant of the name is taken",
    ))
}

/// Renames `from` to `to`; without `replace`, fails with `AlreadyExists` rather than replace.
/// Across file systems (EXDEV) the data is copied to a hidden temporary beside `to`, synced,
/// then renamed.
fn move_file(from: &Path, to: &Path, replace: bool) -> io::Result<()> {
    let result = if replace {
        fs::rename(from, to)
    } else {
        rename_noreplace(from, to)
    };
    match result {
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            let file_name = to.file_name().unwrap_or_default().to_string_lossy();
            let tmp = to.with_file_name(format!(".{file_name}.durl-upload.tmp"));
            fs::copy(from, &tmp)?;
            File::open(&tmp)?.sync_all()?;
            let moved = if replace {
                fs::rename(&tmp, to)
            } else {
                rename_noreplace(&tmp, to)
            };
            if let Err(e) = moved {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            fs::remove_file(from)
        }
        other => other,
    }
}

/// `renameat2(RENAME_NOREPLACE)`; where the file system lacks it, `link` + `unlink`, which
/// also never replaces.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{CWD, RenameFlags};
    use rustix::io::Errno;
    match rustix::fs::renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {
            fs::hard_link(from, to)?;
            fs::remove_file(from)
        }
        Err(e) => Err(e.into()),
    }
}

/// `report (2).pdf` for `report.pdf` and 2.
fn numbered(name: &str, n: u32) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem} ({n}).{ext}"),
        _ => format!("{name} ({n})"),
    }
}

pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placed_file_is_readable_by_others_and_never_replaces_one() {
        use std::os::unix::fs::OpenOptionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let (up, root) = (dir.path().join("up"), dir.path().join("www"));
        fs::create_dir(&up).unwrap();
        fs::create_dir(&root).unwrap();
        fs::write(root.join("a.txt"), b"old").unwrap();
        let data = up.join("x.data");
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&data)
            .unwrap();
        io::Write::write_all(&mut file, b"new").unwrap();
        drop(file);

        assert_eq!(place(&data, &root, "a.txt", false).unwrap(), "a (1).txt");
        let meta = fs::metadata(root.join("a (1).txt")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o644);
        assert_eq!(fs::read(root.join("a.txt")).unwrap(), b"old");
        assert_eq!(fs::read(root.join("a (1).txt")).unwrap(), b"new");
    }

    #[test]
    fn numbered_names() {
        assert_eq!(numbered("report.pdf", 2), "report (2).pdf");
        assert_eq!(numbered("README", 1), "README (1)");
        assert_eq!(numbered("_bashrc", 1), "_bashrc (1)");
    }
}

//! The upload directory: where it is (`ROOT/.durl-uploads` by default, a configured one
//! outside the served tree, or the sibling earlier versions created) and how it is opened
//! (mode 0700, never through a link, never overlapping the served directory).

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::error::ServeError;

/// The default upload directory's name, inside the served directory.
pub(crate) const DEFAULT_DIR: &str = ".durl-uploads";

/// The upload directory inside the served tree, which requests never reach.
#[derive(Debug, Clone)]
pub(crate) struct PrivateArea {
    /// Its canonical path (`ROOT/.durl-uploads`).
    pub(crate) path: PathBuf,
    /// Its device and inode, to recognise it however it is reached.
    pub(crate) id: (u64, u64),
}

impl PrivateArea {
    /// Whether `path` (links resolved) lies in the area.
    pub(crate) fn holds(&self, path: &Path) -> bool {
        path.starts_with(&self.path)
    }

    /// Whether the open directory `dir` is the area.
    pub(crate) fn is(&self, dir: impl AsFd) -> bool {
        rustix::fs::fstat(dir).is_ok_and(|s| (s.st_dev, s.st_ino) == self.id)
    }
}

/// The default upload directory of earlier versions: a hidden sibling of the served
/// directory, `<parent>/.<name>.durl-uploads` (outside DIR, so it needed write permission
/// in DIR's parent). Still used when it exists.
pub(crate) fn legacy_dir(root: &Path) -> Option<PathBuf> {
    let parent = root.parent()?;
    let name = root.file_name()?.to_string_lossy();
    Some(parent.join(format!(".{name}.durl-uploads")))
}

/// Creates (mode 0700) and opens a configured upload directory, which must not overlap the
/// served directory (checked before anything is created, and again once it exists).
pub(super) fn open_outside(
    root: &Path,
    configured: &Path,
) -> Result<(PathBuf, OwnedFd), ServeError> {
    let dir_error = |source| ServeError::UploadDir {
        path: configured.to_owned(),
        source,
    };
    let overlaps = |dir: &Path| dir.starts_with(root) || root.starts_with(dir);
    if overlaps(&resolve_missing(configured).map_err(dir_error)?) {
        return Err(ServeError::UploadDirOverlapsRoot {
            path: configured.to_owned(),
        });
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(configured)
        .map_err(dir_error)?;
    let dir = fs::canonicalize(configured).map_err(dir_error)?;
    if overlaps(&dir) {
        return Err(ServeError::UploadDirOverlapsRoot {
            path: configured.to_owned(),
        });
    }
    let fd = File::open(&dir).map(OwnedFd::from).map_err(dir_error)?;
    Ok((dir, fd))
}

/// Creates (mode 0700) and opens `ROOT/.durl-uploads` relative to the root's descriptor,
/// never following a link there; refuses one another user owns (they could read uploads).
pub(super) fn open_inside(
    root_dir: &OwnedFd,
    root: &Path,
) -> Result<(OwnedFd, PrivateArea), ServeError> {
    let path = root.join(DEFAULT_DIR);
    let dir_error = |source: io::Error| ServeError::UploadDir {
        path: path.clone(),
        source,
    };
    match rustix::fs::mkdirat(root_dir, DEFAULT_DIR, Mode::from_raw_mode(0o700)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(e) => return Err(dir_error(e.into())),
    }
    let fd = rustix::fs::openat(
        root_dir,
        DEFAULT_DIR,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| dir_error(e.into()))?;
    let stat = rustix::fs::fstat(&fd).map_err(|e| dir_error(e.into()))?;
    if stat.st_uid != rustix::process::geteuid().as_raw() {
        return Err(dir_error(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "it belongs to another user",
        )));
    }
    if stat.st_mode & 0o077 != 0 {
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o700)).map_err(|e| dir_error(e.into()))?;
    }
    let private = PrivateArea {
        path,
        id: (stat.st_dev, stat.st_ino),
    };
    Ok((fd, private))
}

/// `path` made absolute with its existing part canonical (symbolic links resolved) and the
/// missing rest appended as given; a `..` in the missing rest is refused.
fn resolve_missing(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        match fs::canonicalize(existing) {
            Ok(mut resolved) => {
                for part in rest.iter().rev() {
                    resolved.push(part);
                }
                return Ok(resolved);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let name = existing.file_name().ok_or(e)?;
                rest.push(name.to_owned());
                existing = existing.parent().unwrap_or(Path::new("/"));
            }
            Err(e) => return Err(e),
        }
    }
}

//! Directory listings: the entries of a directory (dotfiles and links leading outside the
//! root left out), sorted as the request asks (`query.rs`), as an HTML page (`html.rs`) or a
//! JSON document for scripts (`json.rs`).

mod html;
mod json;
mod query;

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{AtFlags, Dir, FileType};

use crate::resolve::{self, RequestPath, Target};
use crate::upload::PrivateArea;
use crate::validators::Validators;

pub(crate) use crate::storage::Entry;
pub(crate) use html::UploadArea;
pub(crate) use query::{Format, View};

/// What decides which entries a listing shows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Visibility<'a> {
    /// The root's descriptor: a link is looked up from it as a request for the entry would
    /// be (`resolve::open`), and left out if that would be refused.
    pub(crate) root_dir: &'a OwnedFd,
    /// The canonical root.
    pub(crate) root: &'a Path,
    /// Links may lead outside the root.
    pub(crate) follow_symlinks: bool,
    /// Dotfiles are listed.
    pub(crate) hidden: bool,
    /// Device and inode of the upload directory inside the root: never listed, even with
    /// hidden files on or through a link.
    pub(crate) private: Option<&'a PrivateArea>,
}

/// Reads the entries of the directory open as `dir` (resolved from the root's descriptor),
/// addressed as `request`, that `visibility` lets through, unsorted. Entries are looked at
/// relative to that descriptor, never by path. Blocking.
///
/// Left out: dotfiles (unless hidden files are on); symbolic links that a request for them
/// would refuse — those leading outside the root unless links are followed (issue 13 item
/// 7: their target's size and time are not disclosed), dangling ones; and everything that is
/// neither a file nor a directory (FIFOs, sockets, devices), which would only answer 404.
pub(crate) fn read(
    dir: OwnedFd,
    request: &RequestPath,
    visibility: Visibility<'_>,
) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut stream = Dir::new(dir)?;
    while let Some(entry) = stream.read() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if matches!(name, b"." | b"..") {
            continue;
        }
        if !visibility.hidden && name.first() == Some(&b'.') {
            continue;
        }
        // The entry itself, not what a link points to.
        let Ok(own) =
            rustix::fs::statat(stream.fd()?, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW)
        else {
            continue;
        };
        let stat = match FileType::from_raw_mode(own.st_mode) {
            FileType::Symlink => {
                // As a request for it would resolve it: from the root, refusing escapes.
                let child = request.child(name);
                match resolve::open(
                    visibility.root_dir,
                    visibility.root,
                    &child,
                    visibility.follow_symlinks,
                ) {
                    Ok(Target::File { path, .. })
                        if visibility.private.is_some_and(|p| p.holds(&path)) =>
                    {
                        continue;
                    }
                    Ok(Target::File { file, .. }) => rustix::fs::fstat(&file)?,
                    Ok(Target::Dir { dir }) => rustix::fs::fstat(&dir)?,
                    Err(_) => continue,
                }
            }
            _ => own,
        };
        if visibility
            .private
            .is_some_and(|p| p.id == (stat.st_dev, stat.st_ino))
        {
            continue;
        }
        let kind = FileType::from_raw_mode(stat.st_mode);
        let is_dir = match kind {
            FileType::Directory => true,
            FileType::RegularFile => false,
            _ => continue,
        };
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        let validators = Validators::new(
            size,
            stat.st_mtime,
            i64::try_from(stat.st_mtime_nsec).unwrap_or(0),
            stat.st_ino,
        );
        entries.push(Entry {
            is_dir,
            name: name.to_vec(),
            size: (!is_dir).then_some(size),
            modified: Some(stat.st_mtime),
            etag: (!is_dir).then(|| validators.etag()),
        });
    }
    Ok(entries)
}

/// The listing of `entries` (sorted here) at `request` in `view`'s format: the body and its
/// media type. `upload`: the page's upload area, if it shows one.
pub(crate) fn render(
    mut entries: Vec<Entry>,
    request: &RequestPath,
    view: View,
    upload: Option<UploadArea>,
) -> (String, &'static str) {
    view.sort(&mut entries);
    match view.format {
        Format::Json => (
            json::document(&request.display(), &entries),
            "application/json",
        ),
        Format::Html => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            (
                html::page(request, &entries, view, upload, now),
                "text/html; charset=utf-8",
            )
        }
    }
}

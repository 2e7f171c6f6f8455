//! Directory listings: the entries of a directory (dotfiles and links leading outside the
//! root left out), sorted as the request asks (`query.rs`), as an HTML page (`html.rs`) or a
//! JSON document for scripts (`json.rs`).

mod html;
mod json;
mod query;

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::resolve::RequestPath;
use crate::validators::Validators;

pub(crate) use query::{Format, View};

/// One row of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// A directory (its link ends with `/`).
    pub(crate) is_dir: bool,
    /// The raw file name.
    pub(crate) name: Vec<u8>,
    /// Size in bytes (files only).
    pub(crate) size: Option<u64>,
    /// Modification time, Unix seconds.
    pub(crate) modified: Option<i64>,
    /// The strong ETag a GET of the file would carry (files only).
    pub(crate) etag: Option<String>,
}

/// What decides which entries a listing shows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Visibility<'a> {
    /// The canonical root: a link whose target lies outside it is left out (its target's
    /// metadata is never read) unless `follow_symlinks`.
    pub(crate) root: &'a Path,
    /// Links may lead outside the root.
    pub(crate) follow_symlinks: bool,
    /// Dotfiles are listed.
    pub(crate) hidden: bool,
}

/// Reads the entries of `dir` that `visibility` lets through, unsorted. Blocking.
///
/// Left out: dotfiles (unless hidden files are on), links leading outside the root (unless
/// links are followed) — see issue 13 item 7: their target's size and time are not
/// disclosed — dangling links, and everything that is neither a file nor a directory
/// (FIFOs, sockets, devices), which would only answer 404.
pub(crate) fn read(dir: &Path, visibility: Visibility<'_>) -> io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if !visibility.hidden && name.as_bytes().first() == Some(&b'.') {
            continue;
        }
        // DirEntry::metadata does not follow a link.
        let Ok(own) = entry.metadata() else { continue };
        let meta = if own.file_type().is_symlink() {
            let path = entry.path();
            if !visibility.follow_symlinks {
                match std::fs::canonicalize(&path) {
                    Ok(target) if target.starts_with(visibility.root) => {}
                    _ => continue,
                }
            }
            match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(_) => continue,
            }
        } else {
            own
        };
        if !meta.is_file() && !meta.is_dir() {
            continue;
        }
        let is_dir = meta.is_dir();
        entries.push(Entry {
            is_dir,
            name: name.as_bytes().to_vec(),
            size: (!is_dir).then_some(meta.len()),
            modified: Some(meta.mtime()),
            etag: (!is_dir).then(|| Validators::from_metadata(&meta).etag()),
        });
    }
    Ok(entries)
}

/// The listing of `entries` (sorted here) at `request` in `view`'s format: the body and its
/// media type. `upload`: whether the page shows the upload area.
pub(crate) fn render(
    mut entries: Vec<Entry>,
    request: &RequestPath,
    view: View,
    upload: bool,
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

//! The durable state of uploads: one directory outside the served tree, holding for each
//! upload `<id>.data` (the bytes so far) and `<id>.info` (a small text record).
//!
//! **Durability rule.** The offset in `<id>.info` never exceeds what is on disk in
//! `<id>.data`: data is written, then `fdatasync`ed, and only then is the record replaced
//! atomically (write `<id>.info.tmp`, fsync it, rename it over `<id>.info`, fsync the
//! directory). `HEAD` reports the recorded offset. On startup ([`Store::open`]) and before
//! every write, a data file longer than its record is cut back to the recorded offset, so
//! bytes that arrived but were never made durable are never counted.
//!
//! **Completion.** When the offset reaches the length, the data file is renamed to its final
//! name in the served directory (`RENAME_NOREPLACE` unless overwriting is on; a numbered
//! name `a (1).txt` if the name was taken meanwhile) and the record keeps `done NAME` until
//! it expires, so `HEAD` still answers for the finished upload. A crash between the rename
//! and the record is completed on the next start.
//!
//! Every function here blocks (fsync): call them from `spawn_blocking`.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd as _, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::fs::{Access, AtFlags};
use rustix::io::Errno;

use super::backend::{Destination, Slots};
use super::error::UploadError;
use super::place::{self, Finished, sync_dir};
use super::protocol::is_upload_id;
pub(crate) use super::record::Info;
use super::space::{Promise, Promises};
pub(crate) use super::upload_dir::{DEFAULT_DIR, PrivateArea, legacy_dir};
use super::upload_dir::{open_inside, open_outside};
use crate::config::UploadSettings;
use crate::error::ServeError;
use crate::resolve::{self, RequestPath};

/// Most ids remembered as terminated or expired (answered 410 rather than 404).
const MAX_GONE: usize = 4096;

/// One upload known to the server.
#[derive(Debug)]
pub(crate) struct Upload {
    /// Its id: 32 lowercase hex digits, the last segment of its URL.
    pub(crate) id: String,
    /// Held by the request transferring data (or terminating): PATCHes never interleave.
    pub(crate) transfer: Arc<tokio::sync::Mutex<()>>,
    /// The last durable record; updated only after the record is on disk.
    info: Mutex<Info>,
    /// Disk space promised to it and not yet written (`space.rs`).
    promise: Promise,
}

impl Upload {
    /// A copy of the last durable record.
    pub(crate) fn info(&self) -> Info {
        lock(&self.info).clone()
    }

    fn set_info(&self, info: Info) {
        *lock(&self.info) = info;
    }
}

/// All uploads, their directory and the limits.
#[derive(Debug)]
pub(crate) struct Store {
    /// The upload directory, for file operations: `/proc/self/fd/N` of `dir_fd` when it is
    /// inside the served tree, else its canonical path.
    dir: PathBuf,
    /// Set when the upload directory is inside the served tree (the default).
    private: Option<PrivateArea>,
    /// The upload directory, open: finished data leaves it by descriptor.
    dir_fd: OwnedFd,
    /// The served directory, open: finished files are placed relative to it, never by path.
    root_dir: OwnedFd,
    /// Limits and policies.
    pub(crate) settings: UploadSettings,
    /// Uploads by id.
    uploads: Mutex<HashMap<String, Arc<Upload>>>,
    /// Ids terminated or expired since the start (bounded), answered 410.
    gone: Mutex<HashSet<String>>,
    /// The transfer slots: caps concurrent transfers, in all and per client address.
    pub(crate) slots: Slots,
    /// Disk space promised to uploads.
    promises: Promises,
}

impl Store {
    /// Opens (creating it, mode 0700) the upload directory for the canonical `root` and
    /// recovers what a previous run left: stray temporary files and data files without a
    /// record are removed, expired uploads deleted, data files longer than their record cut
    /// back, and uploads that were complete but not yet moved are moved.
    pub(crate) fn open(root: &Path, settings: UploadSettings) -> Result<Self, ServeError> {
        let open_dir = |path: &Path| File::open(path).map(OwnedFd::from);
        let root_dir = open_dir(root).map_err(|source| ServeError::Root {
            path: root.to_owned(),
            source,
        })?;
        let configured = match &settings.dir {
            Some(dir) => Some(dir.clone()),
            // The old default beside the root, still used where an earlier version left it
            // (it may hold unfinished uploads); the binary shows this warning.
            None => legacy_dir(root).filter(|old| old.is_dir()).inspect(|old| {
                tracing::warn!(
                    "using the upload directory {} beside the served one, which earlier \
                     versions created; new servers keep unfinished uploads in {}/{DEFAULT_DIR} \
                     (move or remove the old directory to switch)",
                    old.display(),
                    root.display()
                );
            }),
        };
        let (dir, dir_fd, private) = match configured {
            Some(configured) => {
                let (dir, fd) = open_outside(root, &configured)?;
                (dir, fd, None)
            }
            None => {
                let (fd, private) = open_inside(&root_dir, root)?;
                // File operations go through the descriptor (the kernel's name for it), so
                // a name swapped for a link inside the served tree cannot redirect them.
                let through_fd = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
                let dir = if through_fd.is_dir() {
                    through_fd
                } else {
                    private.path.clone()
                };
                (dir, fd, Some(private))
            }
        };
        let store = Self {
            dir_fd,
            dir,
            private,
            root_dir,
            slots: Slots::new(&settings),
            settings,
            uploads: Mutex::new(HashMap::new()),
            gone: Mutex::new(HashSet::new()),
            promises: Promises::default(),
        };
        let configured = store
            .private
            .as_ref()
            .map_or_else(|| store.dir.clone(), |p| p.path.clone());
        store.recover().map_err(|source| ServeError::UploadDir {
            path: configured,
            source,
        })?;
        Ok(store)
    }

    /// The upload directory when it lies inside the served tree (the default): never served,
    /// listed or used as an upload target.
    pub(crate) fn private_area(&self) -> Option<&PrivateArea> {
        self.private.as_ref()
    }

    /// Startup recovery (see [`Store::open`]).
    fn recover(&self) -> io::Result<()> {
        let mut data_files = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(self.dir.join(name));
            } else if let Some(id) = name.strip_suffix(".info")
                && is_upload_id(id)
            {
                if let Err(e) = self.recover_one(id) {
                    tracing::warn!(upload = id, error = %e, "cannot recover upload; leaving it");
                }
            } else if let Some(id) = name.strip_suffix(".data")
                && is_upload_id(id)
            {
                data_files.push(id.to_owned());
            }
        }
        let known = lock(&self.uploads);
        for id in data_files {
            if !known.contains_key(&id) && !self.info_path(&id).exists() {
                // Created, then crashed before its record was written: never announced.
                let _ = fs::remove_file(self.data_path(&id));
            }
        }
        Ok(())
    }

    fn recover_one(&self, id: &str) -> io::Result<()> {
        let text = fs::read_to_string(self.info_path(id))?;
        let mut info = Info::decode(&text)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed record"))?;
        if info.expired(now_ms()) {
            return self.delete_files(id);
        }
        let upload = Arc::new(Upload {
            id: id.to_owned(),
            transfer: Arc::new(tokio::sync::Mutex::new(())),
            info: Mutex::new(info.clone()),
            promise: Promise::default(),
        });
        if info.done.is_none() {
            match OpenOptions::new().write(true).open(self.data_path(id)) {
                Ok(file) => {
                    let len = file.metadata()?.len();
                    if len > info.offset {
                        // Bytes that arrived after the last checkpoint: not counted, so cut.
                        file.set_len(info.offset)?;
                        file.sync_data()?;
                    } else if len < info.offset {
                        // Cannot happen under the durability rule (the data is synced
                        // first); trust the bytes rather than the record.
                        tracing::warn!(
                            upload = id,
                            len,
                            offset = info.offset,
                            "data shorter than its record"
                        );
                        info.offset = len;
                        self.write_info(id, &info)?;
                        upload.set_info(info.clone());
                    }
                }
                Err(e)
                    if e.kind() == io::ErrorKind::NotFound && info.length == Some(info.offset) =>
                {
                    // Moved to its final name, then crashed before the record said so.
                    info.done = Some(info.name.clone());
                    self.write_info(id, &info)?;
                    upload.set_info(info.clone());
                }
                Err(e) => return Err(e),
            }
        }
        lock(&self.uploads).insert(id.to_owned(), Arc::clone(&upload));
        if info.done.is_none() && info.length == Some(info.offset) {
            self.finish(&upload).map_err(io::Error::other)?;
        }
        Ok(())
    }

    /// The upload `id`: 404 if unknown, 410 if terminated or expired (expired ones are
    /// deleted by [`Store::sweep`]). Does not block.
    pub(crate) fn lookup(&self, id: &str) -> Result<Arc<Upload>, UploadError> {
        let found = lock(&self.uploads).get(id).cloned();
        match found {
            Some(upload) if upload.info().expired(now_ms()) => Err(UploadError::Gone),
            Some(upload) => Ok(upload),
            None if lock(&self.gone).contains(id) => Err(UploadError::Gone),
            None => Err(UploadError::NotFound),
        }
    }

    /// Creates an upload: an empty data file, then its durable record. Without a `name`
    /// the file will be named after the upload's id.
    pub(crate) fn create(
        &self,
        length: Option<u64>,
        metadata: String,
        name: Option<String>,
        destination: Destination,
    ) -> io::Result<Arc<Upload>> {
        let id = loop {
            let id: String = rand::random::<[u8; 16]>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if !lock(&self.uploads).contains_key(&id) {
                break id;
            }
        };
        let data = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.data_path(&id))?;
        drop(data);
        let info = Info {
            length,
            offset: 0,
            metadata,
            name: name.unwrap_or_else(|| id.clone()),
            expires_ms: self.expiry_from_now(),
            done: None,
            dir: destination.dir,
            owner: destination.owner,
            replace: Some(destination.replace),
        };
        self.write_info(&id, &info)?;
        let upload = Arc::new(Upload {
            id: id.clone(),
            transfer: Arc::new(tokio::sync::Mutex::new(())),
            info: Mutex::new(info),
            promise: Promise::default(),
        });
        lock(&self.uploads).insert(id, Arc::clone(&upload));
        Ok(upload)
    }

    /// Opens the data file for writing at the durable offset, cutting anything beyond it.
    pub(crate) fn open_data(&self, upload: &Upload) -> io::Result<File> {
        let offset = upload.info().offset;
        let file = OpenOptions::new()
            .write(true)
            .open(self.data_path(&upload.id))?;
        if file.metadata()?.len() != offset {
            file.set_len(offset)?;
        }
        Ok(file)
    }

    /// Records `offset` (and `length`, once known) durably. The caller has already synced
    /// the data file up to `offset`. Moves the expiry forward: it counts from the last write.
    pub(crate) fn checkpoint(
        &self,
        upload: &Upload,
        offset: u64,
        length: Option<u64>,
    ) -> io::Result<Info> {
        let mut info = upload.info();
        info.offset = offset;
        info.length = length;
        info.expires_ms = self.expiry_from_now();
        self.write_info(&upload.id, &info)?;
        upload.set_info(info.clone());
        Ok(info)
    }

    /// The directory uploads for `dir` (a URL path; `None`: the top directory) land in,
    /// open. Refused: a path that is not a clean request path (`..` in any spelling: 400);
    /// a dotfile unless hidden files are served, a missing directory or a file, the upload
    /// directory itself (404); a symbolic link anywhere on the way, even one inside the
    /// root, or a directory the server cannot write (403). Blocking.
    pub(crate) fn open_target(&self, dir: Option<&str>) -> Result<OwnedFd, UploadError> {
        let request = match dir {
            None => RequestPath::parse("/"),
            Some(dir) => RequestPath::parse(dir),
        }
        .map_err(|_| UploadError::BadRequest("directory is not a clean path below the root"))?;
        if !self.settings.hidden && request.is_hidden() {
            return Err(UploadError::NoDirectory);
        }
        let fd = match resolve::open_dir_strictly(&self.root_dir, &request) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR) => return Err(UploadError::NoDirectory),
            Err(Errno::LOOP | Errno::XDEV) => {
                return Err(UploadError::Forbidden(
                    "uploads never go through a symbolic link",
                ));
            }
            Err(e) => return Err(UploadError::Io(e.into())),
        };
        if self.private.as_ref().is_some_and(|p| p.is(&fd)) {
            return Err(UploadError::NoDirectory);
        }
        if rustix::fs::accessat(
            &fd,
            ".",
            Access::WRITE_OK | Access::EXEC_OK,
            AtFlags::EACCESS,
        )
        .is_err()
        {
            return Err(UploadError::Forbidden(
                "the server cannot write in that directory",
            ));
        }
        Ok(fd)
    }

    /// Moves a complete upload to its final name in its directory and records that. The
    /// directory is opened again, with the checks of [`Store::open_target`]: one swapped for
    /// a link or removed meanwhile is refused (403/404) and the data kept until expiry.
    pub(crate) fn finish(&self, upload: &Upload) -> Result<Info, UploadError> {
        let mut info = upload.info();
        let target = self.open_target(info.dir.as_deref()).inspect_err(|e| {
            tracing::warn!(upload = %upload.id, dir = ?info.dir, error = %e,
                "a complete upload cannot be placed; its data is kept until it expires");
        })?;
        let data = self.data_path(&upload.id);
        // The length is the offset: nothing past it belongs to the file.
        OpenOptions::new()
            .write(true)
            .open(&data)?
            .set_len(info.offset)?;
        let finished = Finished {
            from_dir: self.dir_fd.as_fd(),
            from: &format!("{}.data", upload.id),
            name: &info.name,
            fallback: &upload.id,
        };
        let replace = info.replace.unwrap_or(self.settings.overwrite);
        let placed = place::place(finished, target.as_fd(), replace).inspect_err(|e| {
            tracing::warn!(upload = %upload.id, error = %e, "a complete upload cannot be placed");
        })?;
        sync_dir(&target)?;
        tracing::info!(upload = %upload.id, name = %placed, bytes = info.offset, "upload complete");
        self.promises.release(&upload.promise);
        info.done = Some(placed);
        info.expires_ms = self.expiry_from_now();
        self.write_info(&upload.id, &info)?;
        upload.set_info(info.clone());
        Ok(info)
    }

    /// Terminates an upload: its files and its entry go; its id is remembered as gone.
    pub(crate) fn remove(&self, upload: &Upload) -> io::Result<()> {
        self.promises.release(&upload.promise);
        lock(&self.uploads).remove(&upload.id);
        let mut gone = lock(&self.gone);
        if gone.len() >= MAX_GONE {
            gone.clear();
        }
        gone.insert(upload.id.clone());
        drop(gone);
        self.delete_files(&upload.id)
    }

    /// Deletes expired uploads that no request holds.
    pub(crate) fn sweep(&self) {
        let now = now_ms();
        let expired: Vec<Arc<Upload>> = lock(&self.uploads)
            .values()
            .filter(|u| u.info().expired(now))
            .cloned()
            .collect();
        for upload in expired {
            let Ok(_guard) = upload.transfer.try_lock() else {
                continue;
            };
            tracing::info!(upload = %upload.id, "upload expired");
            if let Err(e) = self.remove(&upload) {
                tracing::warn!(upload = %upload.id, error = %e, "cannot delete an expired upload");
            }
        }
    }

    /// Whether `name` exists in the directory `dir` (and so would be overwritten).
    pub(crate) fn name_taken(dir: &OwnedFd, name: &str) -> bool {
        rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
    }

    /// Promises `upload` disk space for `bytes` more bytes from its durable offset (a top-up:
    /// what it holds counts); 507 if the free space less the reserve and the other uploads'
    /// promises cannot hold them. Blocking (statvfs).
    pub(crate) fn reserve(&self, upload: &Upload, bytes: u64) -> Result<(), UploadError> {
        if self
            .promises
            .ensure(&self.settings.space, &self.dir, &upload.promise, bytes)?
        {
            Ok(())
        } else {
            tracing::info!(upload = %upload.id, bytes, "not enough free disk space for an upload");
            Err(UploadError::InsufficientStorage)
        }
    }

    /// Before the writer writes `bytes`: `false` if they cannot be promised (507). Blocking.
    pub(crate) fn before_write(&self, upload: &Upload, bytes: u64) -> io::Result<bool> {
        self.promises
            .before_write(&self.settings.space, &self.dir, &upload.promise, bytes)
    }

    /// After the writer wrote `bytes`.
    pub(crate) fn written(&self, upload: &Upload, bytes: u64) {
        self.promises.written(&upload.promise, bytes);
    }

    fn delete_files(&self, id: &str) -> io::Result<()> {
        for path in [self.data_path(id), self.info_path(id)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        sync_dir(&self.dir_fd)
    }

    /// Replaces the record atomically and durably: temp file, fsync, rename, fsync dir.
    fn write_info(&self, id: &str, info: &Info) -> io::Result<()> {
        let tmp = self.dir.join(format!("{id}.info.tmp"));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(info.encode().as_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, self.info_path(id))?;
        sync_dir(&self.dir_fd)
    }

    fn expiry_from_now(&self) -> u64 {
        let expiry = u64::try_from(self.settings.expiry.as_millis()).unwrap_or(u64::MAX);
        now_ms().saturating_add(expiry)
    }

    fn data_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.data"))
    }

    fn info_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.info"))
    }
}

/// Runs blocking store work on the blocking pool.
pub(crate) async fn blocking<T, E>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, UploadError>
where
    T: Send + 'static,
    E: Into<UploadError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(Into::into),
        Err(join) => Err(UploadError::Io(std::io::Error::other(join))),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Locks a std mutex; a panic elsewhere never leaves our plain data inconsistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

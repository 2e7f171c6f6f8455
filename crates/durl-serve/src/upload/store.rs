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
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Semaphore;

use super::error::UploadError;
use super::protocol::is_upload_id;
use crate::config::UploadSettings;
use crate::error::ServeError;

/// First line of every info file; the number is the format version.
const MAGIC: &str = "durl-upload 1";

/// Most ids remembered as terminated or expired (answered 410 rather than 404).
const MAX_GONE: usize = 4096;

/// The durable record of one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Info {
    /// The announced length; `None` while deferred.
    pub(crate) length: Option<u64>,
    /// Bytes durably stored in the data file.
    pub(crate) offset: u64,
    /// `Upload-Metadata` as received ("" for none), echoed by HEAD.
    pub(crate) metadata: String,
    /// The (sanitised) name the file gets in the served directory.
    pub(crate) name: String,
    /// When the upload expires, in milliseconds since the Unix epoch.
    pub(crate) expires_ms: u64,
    /// Once complete: the name the file got (may be numbered if `name` was taken).
    pub(crate) done: Option<String>,
}

impl Info {
    /// The text form: one `key value` per line after the magic line.
    fn encode(&self) -> String {
        let mut out = format!("{MAGIC}\n");
        match self.length {
            Some(n) => out.push_str(&format!("length {n}\n")),
            None => out.push_str("length deferred\n"),
        }
        out.push_str(&format!("offset {}\n", self.offset));
        out.push_str(&format!("expires {}\n", self.expires_ms));
        out.push_str(&format!("name {}\n", self.name));
        if !self.metadata.is_empty() {
            out.push_str(&format!("metadata {}\n", self.metadata));
        }
        if let Some(done) = &self.done {
            out.push_str(&format!("done {done}\n"));
        }
        out
    }

    /// Parses [`Info::encode`]'s output; `None` if anything is missing or malformed.
    fn decode(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        if lines.next()? != MAGIC {
            return None;
        }
        let (mut length, mut offset, mut expires, mut name) = (None, None, None, None);
        let (mut metadata, mut done) = (String::new(), None);
        for line in lines {
            let (key, value) = line.split_once(' ')?;
            match key {
                "length" if value == "deferred" => length = Some(None),
                "length" => length = Some(Some(value.parse().ok()?)),
                "offset" => offset = Some(value.parse().ok()?),
                "expires" => expires = Some(value.parse().ok()?),
                "name" => name = Some(value.to_owned()),
                "metadata" => value.clone_into(&mut metadata),
                "done" => done = Some(value.to_owned()),
                _ => {}
            }
        }
        let info = Self {
            length: length?,
            offset: offset?,
            metadata,
            name: name?,
            expires_ms: expires?,
            done,
        };
        (info.length.is_none_or(|n| info.offset <= n)).then_some(info)
    }

    /// Whether the upload has expired at `now_ms`.
    pub(crate) fn expired(&self, now_ms: u64) -> bool {
        now_ms >= self.expires_ms
    }

    /// The expiry as a time.
    pub(crate) fn expires(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.expires_ms)
    }
}

/// One upload known to the server.
#[derive(Debug)]
pub(crate) struct Upload {
    /// Its id: 32 lowercase hex digits, the last segment of its URL.
    pub(crate) id: String,
    /// Held by the request transferring data (or terminating): PATCHes never interleave.
    pub(crate) transfer: Arc<tokio::sync::Mutex<()>>,
    /// The last durable record; updated only after the record is on disk.
    info: Mutex<Info>,
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
    /// The upload directory (canonical; outside the served tree).
    dir: PathBuf,
    /// The served directory (canonical), where finished files go.
    root: PathBuf,
    /// Limits and policies.
    pub(crate) settings: UploadSettings,
    /// Uploads by id.
    uploads: Mutex<HashMap<String, Arc<Upload>>>,
    /// Ids terminated or expired since the start (bounded), answered 410.
    gone: Mutex<HashSet<String>>,
    /// One permit per request transferring data: caps concurrent uploads.
    pub(crate) transfers: Arc<Semaphore>,
}

impl Store {
    /// Opens (creating it, mode 0700) the upload directory for the canonical `root` and
    /// recovers what a previous run left: stray temporary files and data files without a
    /// record are removed, expired uploads deleted, data files longer than their record cut
    /// back, and uploads that were complete but not yet moved are moved.
    pub(crate) fn open(root: &Path, settings: UploadSettings) -> Result<Self, ServeError> {
        let configured = match &settings.dir {
            Some(dir) => dir.clone(),
            None => default_dir(root).ok_or(ServeError::NoUploadDir)?,
        };
        let dir_error = |source| ServeError::UploadDir {
            path: configured.clone(),
            source,
        };
        // The served tree must never expose unfinished uploads, and finished files must not
        // land in the upload area. Checked before anything is created.
        let overlaps = |dir: &Path| dir.starts_with(root) || root.starts_with(dir);
        if overlaps(&resolve_missing(&configured).map_err(dir_error)?) {
            return Err(ServeError::UploadDirOverlapsRoot { path: configured });
        }
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&configured)
            .map_err(dir_error)?;
        let dir = fs::canonicalize(&configured).map_err(dir_error)?;
        if overlaps(&dir) {
            return Err(ServeError::UploadDirOverlapsRoot { path: configured });
        }
        let store = Self {
            dir,
            root: root.to_owned(),
            transfers: Arc::new(Semaphore::new(settings.max_transfers)),
            settings,
            uploads: Mutex::new(HashMap::new()),
            gone: Mutex::new(HashSet::new()),
        };
        store.recover().map_err(dir_error)?;
        Ok(store)
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
            self.finish(&upload)?;
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
        };
        self.write_info(&id, &info)?;
        let upload = Arc::new(Upload {
            id: id.clone(),
            transfer: Arc::new(tokio::sync::Mutex::new(())),
            info: Mutex::new(info),
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

    /// Moves a complete upload to its final name and records that.
    pub(crate) fn finish(&self, upload: &Upload) -> io::Result<Info> {
        let mut info = upload.info();
        let data = self.data_path(&upload.id);
        // The length is the offset: nothing past it belongs to the file.
        OpenOptions::new()
            .write(true)
            .open(&data)?
            .set_len(info.offset)?;
        let placed = self.place(&data, &info.name)?;
        sync_dir(&self.root)?;
        tracing::info!(upload = %upload.id, name = %placed, bytes = info.offset, "upload complete");
        info.done = Some(placed);
        info.expires_ms = self.expiry_from_now();
        self.write_info(&upload.id, &info)?;
        upload.set_info(info.clone());
        Ok(info)
    }

    /// Terminates an upload: its files and its entry go; its id is remembered as gone.
    pub(crate) fn remove(&self, upload: &Upload) -> io::Result<()> {
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

    /// Whether `name` exists in the served directory (and so would be overwritten).
    pub(crate) fn name_taken(&self, name: &str) -> bool {
        fs::symlink_metadata(self.root.join(name)).is_ok()
    }

    /// Bytes available to us on the upload directory's file system.
    pub(crate) fn available_space(&self) -> io::Result<u64> {
        let stat = rustix::fs::statvfs(&self.dir)?;
        Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
    }

    /// Moves `data` into the served directory as `name`, or a numbered variant if `name` is
    /// taken and overwriting is off. Returns the name used.
    fn place(&self, data: &Path, name: &str) -> io::Result<String> {
        if self.settings.overwrite {
            move_file(data, &self.root.join(name), true)?;
            return Ok(name.to_owned());
        }
        for n in 0..1000 {
            let candidate = if n == 0 {
                name.to_owned()
            } else {
                numbered(name, n)
            };
            match move_file(data, &self.root.join(&candidate), false) {
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

    fn delete_files(&self, id: &str) -> io::Result<()> {
        for path in [self.data_path(id), self.info_path(id)] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        sync_dir(&self.dir)
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
        sync_dir(&self.dir)
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

/// The default upload directory: a hidden sibling of the served directory,
/// `<parent>/.<name>.durl-uploads`, on the same file system so that finishing is a rename.
pub(crate) fn default_dir(root: &Path) -> Option<PathBuf> {
    let parent = root.parent()?;
    let name = root.file_name()?.to_string_lossy();
    Some(parent.join(format!(".{name}.durl-uploads")))
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

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
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
mod tests {
    use super::*;

    fn settings(dir: &Path) -> UploadSettings {
        UploadSettings {
            dir: Some(dir.to_owned()),
            ..UploadSettings::default()
        }
    }

    #[test]
    fn info_round_trips_and_rejects_damage() {
        let info = Info {
            length: Some(100),
            offset: 70,
            metadata: "filename YS50eHQ=".to_owned(),
            name: "a b.txt".to_owned(),
            expires_ms: 1_700_000_000_000,
            done: None,
        };
        assert_eq!(Info::decode(&info.encode()), Some(info.clone()));
        let deferred = Info {
            length: None,
            done: Some("a b (1).txt".to_owned()),
            metadata: String::new(),
            ..info.clone()
        };
        assert_eq!(Info::decode(&deferred.encode()), Some(deferred));
        let text = info.encode();
        assert_eq!(Info::decode(&text.replace("offset 70", "offset 170")), None);
        assert_eq!(Info::decode(&text.replace(MAGIC, "durl-upload 2")), None);
        assert_eq!(Info::decode(&text.replace("offset 70\n", "")), None);
        assert_eq!(Info::decode(""), None);
    }

    #[test]
    fn numbered_names() {
        assert_eq!(numbered("report.pdf", 2), "report (2).pdf");
        assert_eq!(numbered("README", 1), "README (1)");
        assert_eq!(numbered("_bashrc", 1), "_bashrc (1)");
    }

    #[test]
    fn recovery_cuts_undurable_bytes_and_finishes_complete_uploads() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("www");
        fs::create_dir(&root).unwrap();
        let root = fs::canonicalize(root).unwrap();
        let dir = base.path().join("uploads");
        let store = Store::open(&root, settings(&dir)).unwrap();

        // A checkpoint at 3 bytes, then 4 more bytes that were never recorded.
        let a = store
            .create(Some(10), String::new(), Some("a.bin".into()))
            .unwrap();
        fs::write(store.data_path(&a.id), b"abcdefg").unwrap();
        store.checkpoint(&a, 3, Some(10)).unwrap();
        // Complete on disk but not yet moved (a crash before `finish`).
        let b = store
            .create(Some(2), String::new(), Some("b.bin".into()))
            .unwrap();
        fs::write(store.data_path(&b.id), b"hi").unwrap();
        store.checkpoint(&b, 2, Some(2)).unwrap();
        // A data file without a record, and a temporary record.
        fs::write(dir.join(format!("{}.data", "f".repeat(32))), b"x").unwrap();
        fs::write(dir.join(format!("{}.info.tmp", a.id)), b"junk").unwrap();
        drop(store);

        let store = Store::open(&root, settings(&dir)).unwrap();
        let a = store.lookup(&a.id).unwrap();
        assert_eq!(a.info().offset, 3);
        assert_eq!(fs::read(store.data_path(&a.id)).unwrap(), b"abc");
        let b = store.lookup(&b.id).unwrap();
        assert_eq!(b.info().done.as_deref(), Some("b.bin"));
        assert_eq!(fs::read(root.join("b.bin")).unwrap(), b"hi");
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut want = vec![
            format!("{}.data", a.id),
            format!("{}.info", a.id),
            format!("{}.info", b.id),
        ];
        want.sort();
        assert_eq!(left, want);
    }

    #[test]
    fn the_upload_dir_must_not_overlap_the_root() {
        let base = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(base.path()).unwrap();
        let inside = root.join("sub");
        assert!(matches!(
            Store::open(&root, settings(&inside)),
            Err(ServeError::UploadDirOverlapsRoot { .. })
        ));
        assert!(!inside.exists(), "nothing created inside the root");
        assert!(matches!(
            Store::open(&root.join("www"), settings(&root)),
            Err(ServeError::UploadDirOverlapsRoot { .. })
        ));
        assert_eq!(
            default_dir(Path::new("/srv/www")),
            Some(PathBuf::from("/srv/.www.durl-uploads"))
        );
        assert_eq!(default_dir(Path::new("/")), None);
    }

    #[test]
    fn finishing_never_overwrites_unless_asked() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("www");
        fs::create_dir(&root).unwrap();
        let root = fs::canonicalize(root).unwrap();
        fs::write(root.join("a.txt"), b"old").unwrap();
        let store = Store::open(&root, settings(&base.path().join("u"))).unwrap();
        let up = store
            .create(Some(3), String::new(), Some("a.txt".into()))
            .unwrap();
        fs::write(store.data_path(&up.id), b"new").unwrap();
        store.checkpoint(&up, 3, Some(3)).unwrap();
        assert_eq!(
            store.finish(&up).unwrap().done.as_deref(),
            Some("a (1).txt")
        );
        assert_eq!(fs::read(root.join("a.txt")).unwrap(), b"old");
        assert_eq!(fs::read(root.join("a (1).txt")).unwrap(), b"new");

        let overwrite = UploadSettings {
            overwrite: true,
            ..settings(&base.path().join("u"))
        };
        let store = Store::open(&root, overwrite).unwrap();
        let up = store
            .create(Some(3), String::new(), Some("a.txt".into()))
            .unwrap();
        fs::write(store.data_path(&up.id), b"new").unwrap();
        store.checkpoint(&up, 3, Some(3)).unwrap();
        assert_eq!(store.finish(&up).unwrap().done.as_deref(), Some("a.txt"));
        assert_eq!(fs::read(root.join("a.txt")).unwrap(), b"new");
    }
}

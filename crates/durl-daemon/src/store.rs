//! The durable queue: every accepted download, in one redb database
//! (`queue.redb` in the state directory).
//!
//! # Why redb
//! The queue needs an embedded database made for crash-safe writes, not a hand-rolled log.
//! Both candidates qualify: SQLite (WAL, `synchronous=FULL`) and redb. redb wins here because
//! it is pure Rust (no C toolchain, no `unsafe` FFI surface in the build), its transactions
//! are ACID with `Durability::Immediate` as the default — a `commit` returns only after the
//! data and the new root are fsynced, with checksummed copy-on-write pages, so a `kill -9` or
//! power loss leaves the last committed transaction — and the queue is a key-value shape
//! (GID → record) that needs no SQL. redb also locks its file, so two daemons cannot share a
//! state directory.
//!
//! # Layout
//! - table `downloads`: GID (`u64`) → JSON [`Record`].
//! - table `meta`: `"stopped_seq"` → the last sequence number given to a stopped download
//!   (their order in `tellStopped`).
//!
//! Global options are not stored: as with aria2, the command line sets them at every start
//! and `changeGlobalOption` lasts until the daemon stops.
//!
//! Every write is one transaction, committed before the RPC call that caused it answers.
//! Per-file data and resume state stay the engine's `.durl-part` / `.durl-state` files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableDatabase as _, ReadableTable as _, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::options::DownloadOptions;

const DOWNLOADS: TableDefinition<u64, &[u8]> = TableDefinition::new("downloads");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// The state of a download as stored. `Active` is never stored: a running download is
/// stored as `Waiting`, so that after a crash it simply runs again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Running now (in memory only).
    Active,
    /// Queued.
    Waiting,
    /// Held until unpaused.
    Paused,
    /// Finished with an error.
    Error,
    /// Finished: the file is complete under its final name.
    Complete,
    /// Removed by the user.
    Removed,
}

impl Status {
    /// aria2's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Waiting => "waiting",
            Status::Paused => "paused",
            Status::Error => "error",
            Status::Complete => "complete",
            Status::Removed => "removed",
        }
    }

    /// Whether the download is over (complete, error or removed).
    pub fn is_stopped(self) -> bool {
        matches!(self, Status::Error | Status::Complete | Status::Removed)
    }
}

/// Why a download failed, as aria2 reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// aria2's exit-status number (`errorCode`).
    pub code: u32,
    /// One line naming the URL and the cause.
    pub message: String,
}

/// One download, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Its GID.
    pub gid: u64,
    /// The URL, then mirrors.
    pub uris: Vec<String>,
    /// Its options.
    pub options: DownloadOptions,
    /// Its state.
    pub status: Status,
    /// Its place in the queue (smaller first) while not stopped; the order it stopped in
    /// afterwards.
    pub position: u64,
    /// The destination file, once the engine chose it.
    pub path: Option<PathBuf>,
    /// Whether a run has begun: a later run may then adopt a complete file left by a run
    /// killed between its final rename and this record's update.
    pub started: bool,
    /// Total length, once known.
    pub total_length: Option<u64>,
    /// Bytes held when the record was last written.
    pub completed_length: u64,
    /// Why it failed.
    pub error: Option<Failure>,
}

impl Record {
    /// The status as stored: `Active` is kept as `Waiting`.
    fn stored(&self) -> Record {
        let mut r = self.clone();
        if r.status == Status::Active {
            r.status = Status::Waiting;
        }
        r
    }
}

/// A failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file cannot be opened or created (or another daemon holds it).
    #[error("cannot open the queue database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<redb::DatabaseError>,
    },
    /// A new database cannot be created.
    #[error("cannot create the queue database {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A read or write failed.
    #[error("queue database: {0}")]
    Db(#[from] Box<redb::Error>),
    /// A stored record does not decode.
    #[error("queue database: record {key} is unreadable: {source}")]
    Decode {
        /// Its key.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
    /// The blocking task running the write was lost.
    #[error("queue database: the write task failed")]
    Task,
}

/// What a restart finds in the database.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every record.
    pub records: Vec<Record>,
    /// The last sequence number of a stopped download.
    pub stopped_seq: u64,
}

/// The database. Cheap to clone; writes run on the blocking pool.
#[derive(Debug, Clone)]
pub struct Store {
    db: Arc<Database>,
}

/// Where a new database is made before it is linked into place.
fn creating_path(path: &Path) -> PathBuf {
    path.with_extension("redb.creating")
}

/// Creates an empty database at `path` atomically: made complete (and synced) under another
/// name, then hard-linked into place (which never replaces a file another daemon put there in
/// the meantime), so `kill -9` at any moment leaves either no database or a whole one.
fn create(path: &Path) -> std::io::Result<()> {
    let creating = creating_path(path);
    match std::fs::remove_file(&creating) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let db = Database::create(&creating).map_err(std::io::Error::other)?;
    let txn = db.begin_write().map_err(std::io::Error::other)?;
    txn.open_table(DOWNLOADS).map_err(std::io::Error::other)?;
    txn.open_table(META).map_err(std::io::Error::other)?;
    txn.commit().map_err(std::io::Error::other)?;
    drop(db);
    std::fs::File::open(&creating)?.sync_all()?;
    if std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
        std::fs::remove_file(path)?;
    }
    match std::fs::hard_link(&creating, path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    std::fs::remove_file(&creating)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The database file inside a state directory.
pub fn path_in(state_dir: &Path) -> PathBuf {
    state_dir.join("queue.redb")
}

impl Store {
    /// Opens (or creates) `queue.redb` in `state_dir`.
    ///
    /// # Errors
    /// [`StoreError::Open`] when the file cannot be opened, is not a database, or another
    /// process has it open.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        let path = path_in(state_dir);
        let io = |source: std::io::Error| StoreError::Create {
            path: path.clone(),
            source,
        };
        match std::fs::metadata(&path) {
            // An empty file is what an earlier release left when killed while creating it.
            Ok(m) if m.len() == 0 => create(&path).map_err(io)?,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path).map_err(io)?,
            Err(e) => return Err(io(e)),
        }
        let db = Database::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source: Box::new(source),
        })?;
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(DOWNLOADS).map_err(db_err)?;
        txn.open_table(META).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Store { db: Arc::new(db) })
    }

    /// Everything stored.
    ///
    /// # Errors
    /// A read failure or an undecodable record.
    pub fn load(&self) -> Result<Loaded, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let downloads = txn.open_table(DOWNLOADS).map_err(db_err)?;
        let mut loaded = Loaded::default();
        for row in downloads.iter().map_err(db_err)? {
            let (key, value) = row.map_err(db_err)?;
            let record: Record =
                serde_json::from_slice(value.value()).map_err(|source| StoreError::Decode {
                    key: format!("{:016x}", key.value()),
                    source,
                })?;
            loaded.records.push(record);
        }
        let meta = txn.open_table(META).map_err(db_err)?;
        if let Some(v) = meta.get("stopped_seq").map_err(db_err)? {
            let bytes: [u8; 8] = v.value().try_into().unwrap_or_default();
            loaded.stopped_seq = u64::from_le_bytes(bytes);
        }
        Ok(loaded)
    }

    /// Writes one batch in one durable transaction; returns once it is committed.
    ///
    /// # Errors
    /// A write or commit failure: then nothing of the batch is stored.
    pub async fn write(&self, batch: Batch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || write_now(&db, &batch))
            .await
            .map_err(|_| StoreError::Task)?
    }
}

fn db_err<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(Box::new(e.into()))
}

fn write_now(db: &Database, batch: &Batch) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(db_err)?;
    {
        let mut downloads = txn.open_table(DOWNLOADS).map_err(db_err)?;
        for record in &batch.put {
            let json =
                serde_json::to_vec(&record.stored()).map_err(|source| StoreError::Decode {
                    key: format!("{:016x}", record.gid),
                    source,
                })?;
            downloads
                .insert(record.gid, json.as_slice())
                .map_err(db_err)?;
        }
        for gid in &batch.delete {
            downloads.remove(*gid).map_err(db_err)?;
        }
        let mut meta = txn.open_table(META).map_err(db_err)?;
        if let Some(seq) = batch.stopped_seq {
            meta.insert("stopped_seq", seq.to_le_bytes().as_slice())
                .map_err(db_err)?;
        }
    }
    txn.commit().map_err(db_err)?;
    Ok(())
}

/// Changes to write together.
#[derive(Debug, Default)]
pub struct Batch {
    /// Records to insert or replace.
    pub put: Vec<Record>,
    /// GIDs to delete.
    pub delete: Vec<u64>,
    /// A new last stopped sequence number.
    pub stopped_seq: Option<u64>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.put.is_empty() && self.delete.is_empty() && self.stopped_seq.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `kill -9` while the first start was creating the database left a file
    /// without redb's header, and every later start failed ("Not a redb database: magic
    /// number mismatch"). The database is now created under another name and linked into
    /// place once complete; what a killed creation leaves is ignored.
    #[test]
    fn a_creation_killed_half_way_never_blocks_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        // What a killed creation leaves: the temporary file, half written.
        std::fs::write(creating_path(&path_in(dir.path())), [0u8; 1000]).unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert!(store.load().unwrap().records.is_empty());
        drop(store);
        assert!(!creating_path(&path_in(dir.path())).exists());
        // An empty queue.redb (an earlier release killed in the same window) is no database.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path_in(dir.path()), b"").unwrap();
        Store::open(dir.path()).unwrap();
        // Anything else that is not a database is refused, never replaced.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(path_in(dir.path()), b"not a database").unwrap();
        assert!(matches!(
            Store::open(dir.path()),
            Err(StoreError::Open { .. })
        ));
        assert_eq!(
            std::fs::read(path_in(dir.path())).unwrap(),
            b"not a database"
        );
    }

    fn record(gid: u64, status: Status) -> Record {
        Record {
            gid,
            uris: vec![format!("http://127.0.0.1/{gid}")],
            options: DownloadOptions::default(),
            status,
            position: gid,
            path: None,
            started: false,
            total_length: None,
            completed_length: 0,
            error: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_survive_a_reopen_and_active_is_stored_as_waiting() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .write(Batch {
                    put: vec![
                        record(1, Status::Active),
                        record(2, Status::Paused),
                        record(3, Status::Complete),
                    ],
                    stopped_seq: Some(9),
                    ..Batch::default()
                })
                .await
                .unwrap();
            store
                .write(Batch {
                    delete: vec![3],
                    ..Batch::default()
                })
                .await
                .unwrap();
            // A second open of the same file while the first is open is refused.
            assert!(matches!(
                Store::open(dir.path()),
                Err(StoreError::Open { .. })
            ));
        }
        let loaded = Store::open(dir.path()).unwrap().load().unwrap();
        let statuses: Vec<_> = loaded.records.iter().map(|r| (r.gid, r.status)).collect();
        assert_eq!(statuses, [(1, Status::Waiting), (2, Status::Paused)]);
        assert_eq!(loaded.stopped_seq, 9);
    }
}

//! tus uploads into an S3-API object store, continued by any instance over the same bucket
//! (the model is tusd's S3 store; written here from the protocol, not copied).
//!
//! Each upload is a directory of objects under `PREFIX/.durl/uploads/<id>/`, which requests
//! never reach (`storage/object.rs` refuses and never lists `.durl`):
//!
//! * `info`: the record (`bucket_record.rs`): offset, length, metadata, owner, expiry, the
//!   final key, the multipart upload id and its parts' ETags, the tail's length. It is only
//!   ever replaced with `If-Match` of the version its writer read, after the bytes it
//!   counts are in the store, so the offset `HEAD` reports (from the record, read afresh on
//!   every request) is durable, and a writer whose lease was taken over cannot write it.
//! * The data: an S3 multipart upload bound to the final key, in parts of [`PART`] bytes;
//!   the bytes after the last full part in `tail-N` (N: the part it will become), read back
//!   and merged into part N when enough has arrived. One part is the most an upload holds
//!   in memory.
//! * `lease`: who is appending (`lease.rs`); the loser of a race answers 423.
//!
//! **Completion**: the tail becomes the last part and `CompleteMultipartUpload` makes the
//! object; an upload shorter than a part is a plain `PUT` of its tail (and the multipart
//! upload is aborted). The final key never replaces an object unless the upload may replace
//! (`--overwrite`): a plain `PUT` uses `If-None-Match: *`; a multipart completion checks
//! that the key is free just before (object_store sends no condition on completion), so an
//! object that appears in between is the one race left.
//!
//! **Expiry and termination** abort the multipart upload and delete the upload's objects;
//! any instance sweeps.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt as _;
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore as _, PartId};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload,
    UpdateVersion,
};

use super::backend::{NewUpload, Slots, Transfer, UploadHandle, UploadStore};
use super::bucket_record::{BucketRecord, PART};
use super::error::UploadError;
use super::lease::{Lease, refused};
use super::pace::{Next, Pace};
use super::place::numbered;
use super::protocol::Hasher;
use super::record::Info;
use crate::config::UploadSettings;
use crate::resolve::RequestPath;
use crate::storage::object_key::BucketUrl;

/// The hidden area of the bucket prefix: never served or listed.
pub(crate) const AREA: &str = ".durl";

/// Numbered variants tried for a name that is taken (`a (1).txt`, …).
const VARIANTS: u32 = 100;

/// Uploads kept in an object store.
#[derive(Debug, Clone)]
pub(crate) struct BucketUploads(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: Arc<AmazonS3>,
    url: BucketUrl,
    settings: UploadSettings,
    slots: Slots,
    /// This instance, in the leases it writes.
    holder: String,
}

/// One upload, as last read from the store.
#[derive(Debug)]
pub(crate) struct BucketUpload {
    id: String,
    held: Mutex<Held>,
}

#[derive(Debug, Clone)]
struct Held {
    record: BucketRecord,
    /// The record object's ETag: the version the next write replaces.
    etag: Option<String>,
}

impl BucketUpload {
    fn held(&self) -> Held {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, held: Held) {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = held;
    }
}

impl UploadHandle for BucketUpload {
    fn id(&self) -> &str {
        &self.id
    }

    fn info(&self) -> Info {
        self.held().record.info
    }
}

fn io(e: object_store::Error) -> UploadError {
    UploadError::Io(std::io::Error::other(e))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl BucketUploads {
    /// Uploads into the store `store` below `url`'s prefix.
    pub(crate) fn new(store: Arc<AmazonS3>, url: BucketUrl, settings: UploadSettings) -> Self {
        let holder: String = rand::random::<[u8; 8]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self(Arc::new(Inner {
            store,
            url,
            slots: Slots::new(&settings),
            settings,
            holder,
        }))
    }

    /// The key of `parts` joined below the upload area (none: the area itself).
    fn area_key(&self, parts: &[&str]) -> Path {
        let mut segments = vec![AREA.as_bytes().to_vec(), b"uploads".to_vec()];
        segments.extend(parts.iter().map(|p| p.as_bytes().to_vec()));
        self.0.url.key(&segments).unwrap_or_default()
    }

    fn record_key(&self, id: &str) -> Path {
        self.area_key(&[id, "info"])
    }

    fn tail_key(&self, id: &str, part: usize) -> Path {
        self.area_key(&[id, &format!("tail-{part}")])
    }

    /// The directory segments of a URL path (`None`: the top).
    fn dir_segments(&self, dir: Option<&str>) -> Result<Vec<Vec<u8>>, UploadError> {
        let request = RequestPath::parse(dir.unwrap_or("/"))
            .map_err(|_| UploadError::BadRequest("directory is not a clean path below the root"))?;
        if !self.0.settings.hidden && request.is_hidden() {
            return Err(UploadError::NoDirectory);
        }
        if request.segments().iter().any(|s| s == AREA.as_bytes()) {
            return Err(UploadError::NoDirectory);
        }
        Ok(request.segments().to_vec())
    }

    /// The key of `name` in `dir`.
    fn file_key(&self, dir: &[Vec<u8>], name: &str) -> Result<Path, UploadError> {
        let mut segments = dir.to_vec();
        segments.push(name.as_bytes().to_vec());
        self.0
            .url
            .key(&segments)
            .ok_or(UploadError::BadRequest("the name cannot be an object key"))
    }

    async fn exists(&self, key: &Path) -> Result<bool, UploadError> {
        match self.0.store.head(key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(io(e)),
        }
    }

    /// The record of `id` and its ETag; `None`: no such upload.
    async fn read_record(&self, id: &str) -> Result<Option<Held>, UploadError> {
        let got = match self.0.store.get(&self.record_key(id)).await {
            Ok(got) => got,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let etag = got.meta.e_tag.clone();
        let bytes = got.bytes().await.map_err(io)?;
        let record = BucketRecord::decode(&String::from_utf8_lossy(&bytes)).ok_or_else(|| {
            UploadError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("malformed upload record {id}"),
            ))
        })?;
        Ok(Some(Held { record, etag }))
    }

    /// Replaces the record, only if it is still the version `upload` read (423 otherwise:
    /// another request took the upload over); the expiry counts from now.
    async fn write_record(
        &self,
        upload: &BucketUpload,
        mut record: BucketRecord,
    ) -> Result<Info, UploadError> {
        let etag = upload.held().etag;
        record.info.expires_ms = self.expiry_from_now();
        let options = PutOptions {
            mode: PutMode::Update(UpdateVersion {
                e_tag: etag,
                version: None,
            }),
            ..PutOptions::default()
        };
        let payload = PutPayload::from(record.encode().into_bytes());
        let done = match self
            .0
            .store
            .put_opts(&self.record_key(&upload.id), payload, options)
            .await
        {
            Ok(done) => done,
            Err(e) if refused(&e) => return Err(UploadError::Locked),
            Err(e) => return Err(io(e)),
        };
        let info = record.info.clone();
        upload.set(Held {
            record,
            etag: done.e_tag,
        });
        Ok(info)
    }

    fn expiry_from_now(&self) -> u64 {
        let expiry = u64::try_from(self.0.settings.expiry.as_millis()).unwrap_or(u64::MAX);
        now_ms().saturating_add(expiry)
    }

    /// The first `len` bytes of the tail object for part `part`.
    async fn read_tail(&self, id: &str, part: usize, len: u64) -> Result<Bytes, UploadError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(0..len)),
            ..GetOptions::default()
        };
        let got = self
            .0
            .store
            .get_opts(&self.tail_key(id, part), options)
            .await
            .map_err(io)?;
        let bytes = got.bytes().await.map_err(io)?;
        if bytes.len() as u64 == len {
            Ok(bytes)
        } else {
            Err(UploadError::Io(std::io::Error::other(format!(
                "the tail of upload {id} holds {} bytes, not {len}",
                bytes.len()
            ))))
        }
    }

    /// Deletes an object, already gone being fine.
    async fn delete(&self, key: &Path) {
        match self.0.store.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => tracing::warn!(key = %key, error = %e, "cannot delete an upload object"),
        }
    }

    /// Aborts the multipart upload (unless complete) and deletes every object of the upload
    /// (the lease last: until then nobody else starts on it).
    async fn discard(&self, id: &str, record: Option<&BucketRecord>) -> Result<(), UploadError> {
        if let Some(record) = record.filter(|r| r.info.done.is_none()) {
            let key = Path::from(record.key.as_str());
            match self.0.store.abort_multipart(&key, &record.multipart).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io(e)),
            }
        }
        let listed: Vec<_> = self
            .0
            .store
            .list(Some(&self.area_key(&[id])))
            .try_collect()
            .await
            .map_err(io)?;
        let lease = self.area_key(&[id, "lease"]);
        for meta in listed.iter().filter(|m| m.location != lease) {
            self.delete(&meta.location).await;
        }
        self.delete(&lease).await;
        Ok(())
    }

    /// Completes `upload`: the object at its key, then the record says so.
    async fn complete(&self, upload: &BucketUpload) -> Result<Info, UploadError> {
        let Held { mut record, .. } = upload.held();
        if record.info.done.is_some() {
            return Ok(record.info);
        }
        let key = Path::from(record.key.as_str());
        let replace = record.info.replace.unwrap_or(self.0.settings.overwrite);
        if record.completing {
            // A completion began before and its end was not recorded (the instance died in
            // between): an object of the upload's length at the key is that completion's.
            match self.0.store.head(&key).await {
                Ok(meta) if meta.size == record.info.offset => {
                    return self.completed(upload, record, &key).await;
                }
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(io(e)),
            }
        }
        if !replace && self.exists(&key).await? {
            tracing::warn!(upload = %upload.id, key = %key, "the name of a complete upload was taken meanwhile");
            return Err(UploadError::NameTaken);
        }
        if !record.completing {
            record.completing = true;
            self.write_record(upload, record.clone()).await?;
        }
        let tail = self
            .read_tail(&upload.id, record.next_part(), record.tail)
            .await?;
        if record.parts.is_empty() {
            let mode = if replace {
                PutMode::Overwrite
            } else {
                PutMode::Create
            };
            let options = PutOptions {
                mode,
                ..PutOptions::default()
            };
            match self.0.store.put_opts(&key, tail.into(), options).await {
                Ok(_) => {}
                Err(e) if refused(&e) => return Err(UploadError::NameTaken),
                Err(e) => return Err(io(e)),
            }
            if let Err(e) = self.0.store.abort_multipart(&key, &record.multipart).await {
                tracing::debug!(upload = %upload.id, error = %e, "cannot abort an unused multipart upload");
            }
        } else {
            let mut parts: Vec<PartId> = record
                .parts
                .iter()
                .map(|etag| PartId {
                    content_id: etag.clone(),
                })
                .collect();
            if !tail.is_empty() {
                let last = self
                    .0
                    .store
                    .put_part(&key, &record.multipart, parts.len(), tail.into())
                    .await
                    .map_err(io)?;
                parts.push(last);
            }
            self.0
                .store
                .complete_multipart(&key, &record.multipart, parts)
                .await
                .map_err(io)?;
        }
        self.completed(upload, record, &key).await
    }

    /// The object is at `key`: the record says so, the tail goes.
    async fn completed(
        &self,
        upload: &BucketUpload,
        mut record: BucketRecord,
        key: &Path,
    ) -> Result<Info, UploadError> {
        let tail_key = self.tail_key(&upload.id, record.next_part());
        record.info.done = Some(record.info.name.clone());
        let info = self.write_record(upload, record).await?;
        self.delete(&tail_key).await;
        tracing::info!(upload = %upload.id, key = %key, bytes = info.offset, "upload complete");
        Ok(info)
    }
}

/// How a body ended, for the record.
struct Ending {
    cut: bool,
    slow: bool,
    overflow: bool,
}

impl UploadStore for BucketUploads {
    type Upload = BucketUpload;
    type Lock = Lease;

    fn settings(&self) -> &UploadSettings {
        &self.0.settings
    }

    fn slots(&self) -> &Slots {
        &self.0.slots
    }

    async fn check_target(
        &self,
        dir: Option<String>,
        name: Option<String>,
        refuse_taken: bool,
    ) -> Result<(), UploadError> {
        let dir = self.dir_segments(dir.as_deref())?;
        match name {
            Some(name) if refuse_taken => {
                if self.exists(&self.file_key(&dir, &name)?).await? {
                    Err(UploadError::NameTaken)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    async fn create(&self, new: NewUpload) -> Result<Arc<BucketUpload>, UploadError> {
        let id: String = rand::random::<[u8; 16]>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let dir = self.dir_segments(new.destination.dir.as_deref())?;
        let wanted = new.name.unwrap_or_else(|| id.clone());
        // The multipart upload is bound to its key: a name taken now gets its numbered
        // variant now (unless the upload replaces).
        let mut name = wanted.clone();
        if !new.destination.replace {
            for n in 0..=VARIANTS {
                let candidate = if n == VARIANTS {
                    id.clone()
                } else {
                    numbered(&wanted, n)
                };
                if !self.exists(&self.file_key(&dir, &candidate)?).await? {
                    name = candidate;
                    break;
                }
            }
        }
        let key = self.file_key(&dir, &name)?;
        let multipart = self.0.store.create_multipart(&key).await.map_err(io)?;
        let record = BucketRecord {
            info: Info {
                length: new.length,
                offset: 0,
                metadata: new.metadata,
                name,
                expires_ms: self.expiry_from_now(),
                done: None,
                dir: new.destination.dir,
                owner: new.destination.owner,
                replace: Some(new.destination.replace),
            },
            key: key.to_string(),
            multipart,
            parts: Vec::new(),
            tail: 0,
            completing: false,
        };
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(record.encode().into_bytes());
        let done = self
            .0
            .store
            .put_opts(&self.record_key(&id), payload, options)
            .await
            .map_err(io)?;
        Ok(Arc::new(BucketUpload {
            id,
            held: Mutex::new(Held {
                record,
                etag: done.e_tag,
            }),
        }))
    }

    async fn reserve(&self, _upload: &Arc<BucketUpload>, _bytes: u64) -> Result<(), UploadError> {
        // The store's space is the store's business: a full one fails the part (500).
        Ok(())
    }

    async fn lookup(&self, id: &str) -> Result<Arc<BucketUpload>, UploadError> {
        match self.read_record(id).await? {
            Some(held) if held.record.info.expired(now_ms()) => Err(UploadError::Gone),
            Some(held) => Ok(Arc::new(BucketUpload {
                id: id.to_owned(),
                held: Mutex::new(held),
            })),
            None => Err(UploadError::NotFound),
        }
    }

    async fn lock(&self, upload: &Arc<BucketUpload>) -> Result<Lease, UploadError> {
        let lease = Lease::take(
            Arc::clone(&self.0.store),
            self.area_key(&[&upload.id, "lease"]),
            &self.0.holder,
            self.0.settings.lease,
        )
        .await?;
        // Under the lease, the record is the current one.
        match self.read_record(&upload.id).await? {
            Some(held) => {
                upload.set(held);
                Ok(lease)
            }
            None => {
                lease.release().await;
                Err(UploadError::Gone)
            }
        }
    }

    async fn receive<B>(&self, t: Transfer<Self>, mut body: B) -> Result<Info, UploadError>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let Transfer {
            upload,
            start,
            length,
            limit,
            expected,
            checksum,
            lock,
            permit: _permit,
        } = t;
        let Held { mut record, .. } = upload.held();
        debug_assert_eq!(record.info.offset, start);
        let key = Path::from(record.key.as_str());
        let first_tail = record.next_part();
        let mut buffer = BytesMut::with_capacity(usize::try_from(PART).unwrap_or(8 << 20));
        buffer.extend_from_slice(&self.read_tail(&upload.id, first_tail, record.tail).await?);
        let mut hasher = checksum.as_ref().map(|c| Hasher::new(c.algorithm));
        let mut parts = record.parts.clone();
        let mut pace = Pace::new(self.0.settings.min_rate, self.0.settings.rate_window);
        let mut received = 0u64;
        let mut ending = Ending {
            cut: false,
            slow: false,
            overflow: false,
        };
        loop {
            let data = match pace.next(&mut body).await {
                Next::Data(data) => data,
                Next::End => break,
                Next::Cut => {
                    ending.cut = true;
                    break;
                }
                Next::Slow => {
                    (ending.cut, ending.slow) = (true, true);
                    break;
                }
            };
            if received.saturating_add(data.len() as u64) > limit {
                ending.overflow = true;
                break;
            }
            received += data.len() as u64;
            if let Some(hasher) = &mut hasher {
                hasher.update(&data);
            }
            buffer.extend_from_slice(&data);
            while buffer.len() as u64 >= PART {
                let part = buffer
                    .split_to(usize::try_from(PART).unwrap_or(usize::MAX))
                    .freeze();
                let id = self
                    .0
                    .store
                    .put_part(&key, &record.multipart, parts.len(), part.into())
                    .await
                    .map_err(io)?;
                parts.push(id.content_id);
                if hasher.is_none() {
                    // Without a checksum what arrived counts: the part is in, record it.
                    record.parts.clone_from(&parts);
                    record.tail = 0;
                    record.info.offset = record.parts_len();
                    record.info.length = length;
                    self.write_record(&upload, record.clone()).await?;
                }
            }
        }
        if expected.is_some_and(|n| received < n) {
            ending.cut = true;
        }
        let verified = match (&checksum, hasher) {
            (Some(checksum), Some(hasher)) if !ending.cut && !ending.overflow => {
                Some(hasher.finish() == checksum.digest)
            }
            _ => None,
        };
        let keep = !ending.overflow && checksum.is_none() || verified == Some(true);
        if verified == Some(false) {
            lock.release().await;
            return Err(UploadError::ChecksumMismatch);
        }
        if keep {
            let tail_part = parts.len() + 1;
            let tail_len = buffer.len() as u64;
            if !buffer.is_empty() {
                self.0
                    .store
                    .put(
                        &self.tail_key(&upload.id, tail_part),
                        buffer.freeze().into(),
                    )
                    .await
                    .map_err(io)?;
            }
            let before = upload.held().record;
            record.parts = parts;
            record.tail = tail_len;
            record.info.offset = start + received;
            record.info.length = length;
            if record != before {
                self.write_record(&upload, record.clone()).await?;
            }
            if tail_part != first_tail {
                self.delete(&self.tail_key(&upload.id, first_tail)).await;
            }
        }
        let mut info = upload.info();
        if keep && info.done.is_none() && info.length == Some(info.offset) {
            match self.complete(&upload).await {
                Ok(done) => info = done,
                Err(e) => {
                    lock.release().await;
                    return Err(e);
                }
            }
        }
        lock.release().await;
        if ending.overflow {
            Err(UploadError::TooLarge)
        } else if ending.slow {
            Err(UploadError::TooSlow)
        } else if ending.cut {
            Err(UploadError::Cut)
        } else {
            Ok(info)
        }
    }

    async fn finish(&self, upload: &Arc<BucketUpload>, lock: Lease) -> Result<Info, UploadError> {
        let done = self.complete(upload).await;
        lock.release().await;
        done
    }

    async fn remove(&self, upload: &Arc<BucketUpload>, lock: Lease) -> Result<(), UploadError> {
        let record = upload.held().record;
        let removed = self.discard(&upload.id, Some(&record)).await;
        // The lease object is gone with the rest; nothing to release.
        lock.gone();
        removed
    }

    async fn sweep(&self) {
        let area = self.area_key(&[]);
        let listed = match self.0.store.list_with_delimiter(Some(&area)).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the uploads in the store");
                return;
            }
        };
        let now = now_ms();
        for prefix in listed.common_prefixes {
            let Some(id) = prefix.filename().map(str::to_owned) else {
                continue;
            };
            let Ok(Some(held)) = self.read_record(&id).await else {
                continue;
            };
            if !held.record.info.expired(now) {
                continue;
            }
            // Held by a transfer (whose record write moves the expiry): not now.
            let Ok(lease) = Lease::take(
                Arc::clone(&self.0.store),
                self.area_key(&[&id, "lease"]),
                &self.0.holder,
                self.0.settings.lease,
            )
            .await
            else {
                continue;
            };
            tracing::info!(upload = %id, "upload expired");
            if let Err(e) = self.discard(&id, Some(&held.record)).await {
                tracing::warn!(upload = %id, error = %e, "cannot delete an expired upload");
            }
            lease.gone();
        }
    }
}

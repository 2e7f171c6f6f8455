//! Uploads kept in the local upload directory ([`Store`], `store.rs`) as an [`UploadStore`]:
//! blocking file work on the blocking pool, the lock an in-process mutex per upload (one
//! process owns the directory), data received by `transfer.rs`.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::OwnedMutexGuard;

use super::backend::{NewUpload, Slots, Transfer, UploadHandle, UploadStore};
use super::error::UploadError;
use super::record::Info;
use super::store::{PrivateArea, Store, Upload, blocking};
use super::transfer;
use crate::config::UploadSettings;

/// The local upload directory.
#[derive(Debug, Clone)]
pub(crate) struct LocalUploads(pub(crate) Arc<Store>);

impl LocalUploads {
    /// The upload directory when it lies inside the served tree.
    pub(crate) fn private_area(&self) -> Option<&PrivateArea> {
        self.0.private_area()
    }
}

impl UploadHandle for Upload {
    fn id(&self) -> &str {
        &self.id
    }

    fn info(&self) -> Info {
        Upload::info(self)
    }
}

impl UploadStore for LocalUploads {
    type Upload = Upload;
    type Lock = OwnedMutexGuard<()>;

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
        let store = Arc::clone(&self.0);
        blocking(move || {
            let target = store.open_target(dir.as_deref())?;
            match name {
                Some(name) if refuse_taken && Store::name_taken(&target, &name) => {
                    Err(UploadError::NameTaken)
                }
                _ => Ok(()),
            }
        })
        .await
    }

    async fn create(&self, new: NewUpload) -> Result<Arc<Upload>, UploadError> {
        let store = Arc::clone(&self.0);
        blocking(move || store.create(new.length, new.metadata, new.name, new.destination)).await
    }

    async fn reserve(&self, upload: &Arc<Upload>, bytes: u64) -> Result<(), UploadError> {
        let (store, upload) = (Arc::clone(&self.0), Arc::clone(upload));
        blocking(move || store.reserve(&upload, bytes)).await
    }

    async fn lookup(&self, id: &str) -> Result<Arc<Upload>, UploadError> {
        self.0.lookup(id)
    }

    async fn lock(&self, upload: &Arc<Upload>) -> Result<OwnedMutexGuard<()>, UploadError> {
        Arc::clone(&upload.transfer)
            .try_lock_owned()
            .map_err(|_| UploadError::Locked)
    }

    async fn receive<B>(&self, t: Transfer<Self>, body: B) -> Result<Info, UploadError>
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display,
    {
        let job = transfer::Job {
            store: Arc::clone(&self.0),
            upload: t.upload,
            start: t.start,
            length: t.length,
            limit: t.limit,
            expected: t.expected,
            checksum: t.checksum,
            guard: t.lock,
            permit: t.permit,
        };
        transfer::receive(job, body).await
    }

    async fn finish(
        &self,
        upload: &Arc<Upload>,
        lock: OwnedMutexGuard<()>,
    ) -> Result<Info, UploadError> {
        let (store, upload) = (Arc::clone(&self.0), Arc::clone(upload));
        blocking(move || {
            let _lock = lock;
            store.finish(&upload)
        })
        .await
    }

    async fn remove(
        &self,
        upload: &Arc<Upload>,
        lock: OwnedMutexGuard<()>,
    ) -> Result<(), UploadError> {
        let (store, upload) = (Arc::clone(&self.0), Arc::clone(upload));
        blocking(move || {
            let _lock = lock;
            store.remove(&upload)
        })
        .await
    }

    async fn sweep(&self) {
        let store = Arc::clone(&self.0);
        let _ = tokio::task::spawn_blocking(move || store.sweep()).await;
    }
}

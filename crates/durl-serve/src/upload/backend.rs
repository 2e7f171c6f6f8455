//! The upload operations behind one trait, so that the tus protocol (`mod.rs`: routing,
//! headers, ownership, offsets, limits, the answers 409/410/413/423/460) is written once
//! above every place uploads are kept.
//!
//! * `local.rs`: the local upload directory (`store.rs`, `transfer.rs`), finished files
//!   placed into the served directory (`place.rs`).
//! * `bucket.rs`: an S3-API object store, the data as a multipart upload, the record and
//!   a lease as objects beside it, so that any instance continues any upload.
//!
//! Dispatch is static, like the download side's `Backend`: the server matches [`Uploads`]
//! once per request and runs the generic handler.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::UploadError;
use super::protocol::Checksum;
use super::record::Info;
use crate::activity::{AddressSlot, PerAddress};
use crate::config::UploadSettings;

/// One upload as a backend holds it.
pub(crate) trait UploadHandle: Send + Sync + 'static {
    /// Its id: 32 lowercase hex digits, the last segment of its URL.
    fn id(&self) -> &str;

    /// A copy of its last durable record.
    fn info(&self) -> Info;
}

/// A new upload, as `POST` describes it.
#[derive(Debug, Clone)]
pub(crate) struct NewUpload {
    /// The announced length; `None`: deferred.
    pub(crate) length: Option<u64>,
    /// `Upload-Metadata` as received.
    pub(crate) metadata: String,
    /// The sanitised file name; `None`: the upload's id.
    pub(crate) name: Option<String>,
    /// Where the file lands, and whose it is.
    pub(crate) destination: Destination,
}

/// One request's data going into an upload (a `PATCH`, or a `POST` with its first chunk).
pub(crate) struct Transfer<S: UploadStore> {
    /// The upload written to.
    pub(crate) upload: Arc<S::Upload>,
    /// The durable offset the data is appended at.
    pub(crate) start: u64,
    /// The upload's length once this request is done (it may announce a deferred one).
    pub(crate) length: Option<u64>,
    /// Most bytes this body may carry (up to the length or the size limit).
    pub(crate) limit: u64,
    /// The request's Content-Length, when it has one: fewer bytes means the body was cut.
    pub(crate) expected: Option<u64>,
    /// The chunk's `Upload-Checksum`.
    pub(crate) checksum: Option<Checksum>,
    /// The upload's lock, held until the transfer ends.
    pub(crate) lock: S::Lock,
    /// The transfer slot (global and the client's share), held until the transfer ends.
    pub(crate) permit: TransferSlot,
}

/// Where uploads are kept. Every method may wait on storage; none blocks a runtime thread.
pub(crate) trait UploadStore: Send + Sync + Sized + 'static {
    /// One upload.
    type Upload: UploadHandle;
    /// Held while one request transfers into (or terminates) an upload.
    type Lock: Send + 'static;

    /// Limits and policies.
    fn settings(&self) -> &UploadSettings;

    /// The transfer slots.
    fn slots(&self) -> &Slots;

    /// Whether the directory `dir` (a URL path; `None`: the top) can take uploads, and,
    /// when `refuse_taken`, that `name` is free there (409 otherwise).
    fn check_target(
        &self,
        dir: Option<String>,
        name: Option<String>,
        refuse_taken: bool,
    ) -> impl Future<Output = Result<(), UploadError>> + Send;

    /// Creates an upload with a durable record.
    fn create(
        &self,
        new: NewUpload,
    ) -> impl Future<Output = Result<Arc<Self::Upload>, UploadError>> + Send;

    /// Promises the upload room for `bytes` more bytes from its offset (507 if there is none).
    fn reserve(
        &self,
        upload: &Arc<Self::Upload>,
        bytes: u64,
    ) -> impl Future<Output = Result<(), UploadError>> + Send;

    /// The upload `id`: 404 if unknown, 410 if terminated or expired.
    fn lookup(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Arc<Self::Upload>, UploadError>> + Send;

    /// Takes the upload's lock, or 423 if another request holds it. Once taken, the
    /// upload's info is the current durable record.
    fn lock(
        &self,
        upload: &Arc<Self::Upload>,
    ) -> impl Future<Output = Result<Self::Lock, UploadError>> + Send;

    /// Receives `body` at the transfer's offset; the durable record afterwards. A body cut
    /// short is [`UploadError::Cut`] after what arrived was kept (without a checksum).
    fn receive<B>(
        &self,
        transfer: Transfer<Self>,
        body: B,
    ) -> impl Future<Output = Result<Info, UploadError>> + Send
    where
        B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
        B::Error: std::fmt::Display;

    /// Completes an upload whose offset is its length (an empty one, at creation).
    fn finish(
        &self,
        upload: &Arc<Self::Upload>,
        lock: Self::Lock,
    ) -> impl Future<Output = Result<Info, UploadError>> + Send;

    /// Terminates an upload: its data and record go.
    fn remove(
        &self,
        upload: &Arc<Self::Upload>,
        lock: Self::Lock,
    ) -> impl Future<Output = Result<(), UploadError>> + Send;

    /// Deletes expired uploads that no request holds.
    fn sweep(&self) -> impl Future<Output = ()> + Send;
}

/// Where a new upload's file is to land, and whose it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct Destination {
    /// The directory's URL path (`None`: the top directory).
    pub(crate) dir: Option<String>,
    /// The user creating it.
    pub(crate) owner: Option<String>,
    /// Whether it replaces a file of its name.
    pub(crate) replace: bool,
}

/// A transfer slot: one of the global cap and one of the client address's share.
pub(crate) type TransferSlot = (OwnedSemaphorePermit, AddressSlot);

/// The transfer slots: a global cap on requests transferring data, and each client
/// address's share of it (three quarters unless configured).
#[derive(Debug)]
pub(crate) struct Slots {
    transfers: Arc<Semaphore>,
    per_client: Arc<PerAddress>,
}

impl Slots {
    pub(crate) fn new(settings: &UploadSettings) -> Self {
        Self {
            transfers: Arc::new(Semaphore::new(settings.max_transfers)),
            per_client: PerAddress::new(
                settings
                    .max_transfers_per_ip
                    .unwrap_or(settings.max_transfers - settings.max_transfers / 4),
            ),
        }
    }

    /// A transfer slot, or 503: when all are taken, or when `peer` holds its share of them,
    /// so one address cannot take every slot.
    pub(crate) fn take(&self, peer: IpAddr) -> Result<TransferSlot, UploadError> {
        let share = self
            .per_client
            .join(peer)
            .and_then(|share| share.try_slot().ok())
            .ok_or(UploadError::Busy)?;
        let permit = Arc::clone(&self.transfers)
            .try_acquire_owned()
            .map_err(|_| UploadError::Busy)?;
        Ok((permit, share))
    }
}

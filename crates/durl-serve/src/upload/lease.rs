//! A lease on one upload in an object store, so that two instances never append to it at
//! once: an object `<id>.lease` holding its holder and expiry time, written only with
//! conditional puts, which the store decides atomically (S3: `If-None-Match: *` creates only
//! when absent, `If-Match: ETAG` replaces only the version read; 412 otherwise).
//!
//! * **Take**: create the object; if it exists, read it: a lease that has expired (its holder
//!   crashed, or released it) is taken over by replacing exactly the version read. Two that
//!   race for it: one put succeeds, the other gets 412 and the request answers 423.
//! * **Renew**: while held, a task replaces it (`If-Match` its last ETag) every third of its
//!   time; a renewal refused means someone else holds it now, and the holder's own record
//!   writes (also conditional, `bucket.rs`) fail too.
//! * **Release**: replaced by an expired lease (`If-Match`), so that it is free at once and
//!   never releases someone else's.
//!
//! The expiry is wall-clock time: instances need clocks that agree to well within the
//! lease's duration (NTP does).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{
    ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion,
};

use super::error::UploadError;

/// A lease's text: `durl-lease 1`, then `holder H` and `expires MS`.
fn encode(holder: &str, expires_ms: u64) -> String {
    format!("durl-lease 1\nholder {holder}\nexpires {expires_ms}\n")
}

/// The expiry of a lease's text; `None` if malformed (then treated as expired: a torn or
/// foreign object never blocks an upload for ever).
fn expires_ms(text: &str) -> Option<u64> {
    let mut lines = text.lines();
    if lines.next()? != "durl-lease 1" {
        return None;
    }
    lines
        .filter_map(|line| line.strip_prefix("expires "))
        .find_map(|v| v.parse().ok())
}

/// A lease held: renewed in the background until dropped, then released.
#[derive(Debug)]
pub(crate) struct Lease {
    store: Arc<AmazonS3>,
    key: Path,
    holder: String,
    /// The ETag of our current version of the lease object.
    etag: Arc<Mutex<Option<String>>>,
    renewer: tokio::task::JoinHandle<()>,
    /// Released already (by [`Lease::release`]): nothing left for `drop`.
    released: bool,
}

fn as_io(e: object_store::Error) -> UploadError {
    UploadError::Io(std::io::Error::other(e))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whether `e` is the store refusing a conditional put (412, or 409 from some stores).
pub(crate) fn refused(e: &object_store::Error) -> bool {
    matches!(
        e,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }
    )
}

async fn put(
    store: &AmazonS3,
    key: &Path,
    text: String,
    mode: PutMode,
) -> Result<Option<String>, object_store::Error> {
    let options = PutOptions {
        mode,
        ..PutOptions::default()
    };
    let done = store
        .put_opts(key, PutPayload::from(text.into_bytes()), options)
        .await?;
    Ok(done.e_tag)
}

fn update(etag: Option<String>) -> PutMode {
    PutMode::Update(UpdateVersion {
        e_tag: etag,
        version: None,
    })
}

impl Lease {
    /// Takes the lease at `key` for `holder` for `duration`: 423 when another holds it.
    pub(crate) async fn take(
        store: Arc<AmazonS3>,
        key: Path,
        holder: &str,
        duration: Duration,
    ) -> Result<Self, UploadError> {
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        let text = || encode(holder, now_ms().saturating_add(ms));
        let etag = match put(&store, &key, text(), PutMode::Create).await {
            Ok(etag) => etag,
            Err(e) if refused(&e) => {
                let got = match store.get(&key).await {
                    Ok(got) => got,
                    // Released and deleted meanwhile: someone is about to take it.
                    Err(object_store::Error::NotFound { .. }) => return Err(UploadError::Locked),
                    Err(e) => return Err(as_io(e)),
                };
                let seen = got.meta.e_tag.clone();
                let bytes = got.bytes().await.map_err(as_io)?;
                let held_until = expires_ms(&String::from_utf8_lossy(&bytes)).unwrap_or(0);
                if held_until > now_ms() || seen.is_none() {
                    return Err(UploadError::Locked);
                }
                match put(&store, &key, text(), update(seen)).await {
                    Ok(etag) => etag,
                    Err(e) if refused(&e) => return Err(UploadError::Locked),
                    Err(e) => return Err(as_io(e)),
                }
            }
            Err(e) => return Err(as_io(e)),
        };
        let etag = Arc::new(Mutex::new(etag));
        let renewer = tokio::spawn(renew(
            Arc::clone(&store),
            key.clone(),
            holder.to_owned(),
            ms,
            Arc::clone(&etag),
        ));
        Ok(Self {
            store,
            key,
            holder: holder.to_owned(),
            etag,
            renewer,
            released: false,
        })
    }

    /// Releases the lease now, so that the next request (on any instance) can take it.
    pub(crate) async fn release(mut self) {
        self.renewer.abort();
        self.released = true;
        let current = self.current();
        release(&self.store, &self.key, &self.holder, current).await;
    }

    /// The lease object was deleted with its upload: stop renewing, release nothing.
    pub(crate) fn gone(mut self) {
        self.renewer.abort();
        self.released = true;
    }

    fn current(&self) -> Option<String> {
        self.etag
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Replaces the lease with an expired one, only if it is still our version.
async fn release(store: &AmazonS3, key: &Path, holder: &str, current: Option<String>) {
    if let Err(e) = put(store, key, encode(holder, 0), update(current)).await {
        tracing::debug!(lease = %key, error = %e, "an upload lease was not released");
    }
}

/// Renews the lease every third of its duration while it is ours.
async fn renew(
    store: Arc<AmazonS3>,
    key: Path,
    holder: String,
    ms: u64,
    etag: Arc<Mutex<Option<String>>>,
) {
    loop {
        tokio::time::sleep(Duration::from_millis(ms / 3)).await;
        let current = etag.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let text = encode(&holder, now_ms().saturating_add(ms));
        match put(&store, &key, text, update(current)).await {
            Ok(new) => *etag.lock().unwrap_or_else(PoisonError::into_inner) = new,
            Err(e) => {
                tracing::warn!(lease = %key, error = %e, "an upload lease could not be renewed");
                return;
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
        if self.released {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let current = self.current();
        let (store, key, holder) = (
            Arc::clone(&self.store),
            self.key.clone(),
            self.holder.clone(),
        );
        runtime.spawn(async move { release(&store, &key, &holder, current).await });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_text_round_trips_and_damage_counts_as_expired() {
        assert_eq!(expires_ms(&encode("a1", 1234)), Some(1234));
        assert_eq!(expires_ms("durl-lease 2\nexpires 5\n"), None);
        assert_eq!(expires_ms("durl-lease 1\nholder x\n"), None);
        assert_eq!(expires_ms(""), None);
    }
}

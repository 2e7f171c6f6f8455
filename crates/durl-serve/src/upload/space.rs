//! Disk space for uploads: every byte an upload will write is promised before it is written,
//! so that concurrent uploads cannot together promise more than the disk holds, and a floor
//! of free space (the reserve) is never promised at all: the server answers 507 before the
//! disk is full, not after.
//!
//! * A known `Upload-Length` is promised whole at creation (and topped up at each PATCH, as
//!   promises do not survive a restart); a deferred length is promised when announced, a
//!   PATCH's `Content-Length` when it starts, and a chunked body of unknown size in blocks
//!   of [`BLOCK`] as its bytes are written.
//! * What can be promised is the file system's free space, minus the reserve, minus what is
//!   promised and not yet written. A promise shrinks as its bytes are written (after the
//!   write, so that for a moment the bytes count twice rather than never) and goes when the
//!   upload is finished or removed.
//!
//! The free space comes from [`Space::source`]: `statvfs(2)` of the upload directory, or
//! another source given in the configuration (a quota, or a test's fake disk).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Bytes promised at a time to a body whose size is unknown (chunked, deferred length).
pub(crate) const BLOCK: u64 = 8 << 20;

/// The default reserve, 64 MiB: kept free on top of the file system's own reserve for root
/// (which `f_bavail` already leaves out, 5% on ext4 by default). A flat amount rather than
/// a share of the disk, so that a big, nearly full disk still takes small uploads.
pub(crate) const DEFAULT_RESERVE: u64 = 64 << 20;

/// A file system's size and the bytes free for the server's user (`f_bavail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes that may still be written.
    pub available: u64,
    /// The file system's size in bytes.
    pub total: u64,
}

/// Reads the space of the file system holding a directory.
pub type SpaceFn = dyn Fn(&Path) -> io::Result<DiskSpace> + Send + Sync;

/// Where free space is read from, and how much of it is kept free.
#[derive(Clone, Default)]
pub(crate) struct Space {
    /// `statvfs` unless configured otherwise.
    pub(crate) source: Option<Arc<SpaceFn>>,
    /// Bytes never promised; `None`: [`DEFAULT_RESERVE`].
    pub(crate) reserve: Option<u64>,
}

impl fmt::Debug for Space {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Space")
            .field("source", &self.source.as_ref().map(|_| "custom"))
            .field("reserve", &self.reserve)
            .finish()
    }
}

impl Space {
    /// The space of the file system holding `dir`.
    pub(crate) fn read(&self, dir: &Path) -> io::Result<DiskSpace> {
        match &self.source {
            Some(source) => source(dir),
            None => {
                let stat = rustix::fs::statvfs(dir)?;
                Ok(DiskSpace {
                    available: stat.f_bavail.saturating_mul(stat.f_frsize),
                    total: stat.f_blocks.saturating_mul(stat.f_frsize),
                })
            }
        }
    }

    /// The bytes kept free.
    pub(crate) fn reserve(&self) -> u64 {
        self.reserve.unwrap_or(DEFAULT_RESERVE)
    }
}

/// Promises of space: in all, and (in each upload's [`Promise`]) per upload.
#[derive(Debug, Default)]
pub(crate) struct Promises {
    /// Bytes promised and not yet written, all uploads together.
    total: Mutex<u64>,
}

/// One upload's share of the promises.
#[derive(Debug, Default)]
pub(crate) struct Promise(AtomicU64);

impl Promises {
    /// Makes sure `promise` covers at least `want` bytes, promising more if needed; `false`
    /// if the free space (less the reserve and what is promised) cannot hold the difference.
    pub(crate) fn ensure(
        &self,
        space: &Space,
        dir: &Path,
        promise: &Promise,
        want: u64,
    ) -> io::Result<bool> {
        let mut total = self.total.lock().unwrap_or_else(PoisonError::into_inner);
        let have = promise.0.load(Ordering::Relaxed);
        if have >= want {
            return Ok(true);
        }
        let more = want - have;
        let disk = space.read(dir)?;
        let free = disk
            .available
            .saturating_sub(space.reserve())
            .saturating_sub(*total);
        if more > free {
            return Ok(false);
        }
        *total += more;
        promise.0.store(want, Ordering::Relaxed);
        Ok(true)
    }

    /// Before writing `bytes` of a body: its promise covers them, topped up by a [`BLOCK`]
    /// (or, if that does not fit, exactly what is missing); `false` if even that does not fit.
    pub(crate) fn before_write(
        &self,
        space: &Space,
        dir: &Path,
        promise: &Promise,
        bytes: u64,
    ) -> io::Result<bool> {
        let have = promise.0.load(Ordering::Relaxed);
        if have >= bytes {
            return Ok(true);
        }
        Ok(self.ensure(space, dir, promise, bytes.max(have + BLOCK))?
            || self.ensure(space, dir, promise, bytes)?)
    }

    /// After writing `bytes`: they are on the disk now, no longer only promised.
    pub(crate) fn written(&self, promise: &Promise, bytes: u64) {
        let mut total = self.total.lock().unwrap_or_else(PoisonError::into_inner);
        let have = promise.0.load(Ordering::Relaxed);
        let spent = have.min(bytes);
        promise.0.store(have - spent, Ordering::Relaxed);
        *total = total.saturating_sub(spent);
    }

    /// The upload is finished or gone: what it was promised is free again.
    pub(crate) fn release(&self, promise: &Promise) {
        let mut total = self.total.lock().unwrap_or_else(PoisonError::into_inner);
        let have = promise.0.swap(0, Ordering::Relaxed);
        *total = total.saturating_sub(have);
    }

    /// Bytes promised in all.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        *self.total.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(available: u64, total: u64, reserve: Option<u64>) -> Space {
        Space {
            source: Some(Arc::new(move |_: &Path| Ok(DiskSpace { available, total }))),
            reserve,
        }
    }

    #[test]
    fn the_default_reserve_is_64_mib() {
        let space = Space::default();
        assert_eq!(space.reserve(), 64 << 20);
        assert_eq!(
            Space {
                reserve: Some(0),
                ..space
            }
            .reserve(),
            0
        );
    }

    #[test]
    fn promises_never_exceed_the_free_space_less_the_reserve() {
        let dir = Path::new("/");
        let space = fake(1000, 10_000, Some(100));
        let promises = Promises::default();
        let (a, b) = (Promise::default(), Promise::default());
        // 900 can be promised: to one upload, not to two.
        assert!(promises.ensure(&space, dir, &a, 900).unwrap());
        assert!(!promises.ensure(&space, dir, &b, 900).unwrap());
        assert!(!promises.ensure(&space, dir, &b, 1).unwrap());
        // Topping up what is held costs only the difference; less is free.
        assert!(promises.ensure(&space, dir, &a, 800).unwrap());
        assert_eq!(promises.total(), 900);
        // Released: the other one fits.
        promises.release(&a);
        assert_eq!(promises.total(), 0);
        assert!(promises.ensure(&space, dir, &b, 900).unwrap());
        // Written bytes leave the promise (the disk's own count takes over).
        promises.written(&b, 300);
        assert_eq!(promises.total(), 600);
        promises.written(&b, 10_000);
        assert_eq!(promises.total(), 0);
    }

    #[test]
    fn a_body_of_unknown_size_is_promised_block_by_block_or_exactly() {
        let dir = Path::new("/");
        let space = fake(BLOCK + 1000, 1 << 40, Some(0));
        let promises = Promises::default();
        let p = Promise::default();
        assert!(promises.before_write(&space, dir, &p, 10).unwrap());
        assert_eq!(promises.total(), BLOCK);
        // Room for one more byte than the first block: exactly what is missing fits.
        promises.written(&p, 10);
        assert!(promises.before_write(&space, dir, &p, BLOCK + 990).unwrap());
        assert!(
            !promises
                .before_write(&space, dir, &p, BLOCK + 1001)
                .unwrap()
        );
    }
}

//! The local directory: every lookup relative to the root's descriptor (`resolve.rs`:
//! `openat2` beneath the root with no links, else a walk that reads links itself), file
//! bodies as descriptors the connection may send with `sendfile(2)`, digests cached in a user
//! extended attribute (`digest.rs`), and the upload directory inside the root never served
//! or listed.

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::body::{Body, FileStream, Segment};
use crate::digest::{DigestCache, Digests};
use crate::error::{RequestError, ServeError};
use crate::listing;
use crate::resolve::{self, RequestPath, Target};
use crate::response::UPLOAD_MARK;
use crate::upload::PrivateArea;
use crate::validators::Validators;

use super::{Content, Entry, Found, ReadHint, Stat, Storage};

/// The served directory, opened once.
#[derive(Debug)]
pub(crate) struct Root {
    /// The canonical path; every served path is below it.
    pub(crate) path: PathBuf,
    /// Its descriptor: every lookup starts from it, never from the path.
    fd: OwnedFd,
}

impl Root {
    /// Resolves and opens `configured` (it must be a directory).
    pub(crate) fn open(configured: &Path) -> Result<Self, ServeError> {
        let path = std::fs::canonicalize(configured).map_err(|source| ServeError::Root {
            path: configured.to_path_buf(),
            source,
        })?;
        if !path.is_dir() {
            return Err(ServeError::RootNotDirectory {
                path: configured.to_path_buf(),
            });
        }
        let fd = File::open(&path)
            .map(OwnedFd::from)
            .map_err(|source| ServeError::Root {
                path: configured.to_path_buf(),
                source,
            })?;
        Ok(Self { path, fd })
    }
}

/// The local directory as a [`Storage`]. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub(crate) struct Local {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: Root,
    /// Symbolic links may lead outside the root.
    follow_symlinks: bool,
    /// Dotfiles are listed.
    hidden: bool,
    /// The upload directory, when it lies inside the root: as if absent.
    private: Option<PrivateArea>,
    /// Files' digests (RFC 9530), computed on request and kept.
    digests: Arc<DigestCache>,
}

impl Local {
    /// Serves `root`; `private` (the upload directory inside it, if any) is never served.
    pub(crate) fn new(
        root: Root,
        follow_symlinks: bool,
        hidden: bool,
        private: Option<PrivateArea>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                root,
                follow_symlinks,
                hidden,
                private,
                digests: Arc::default(),
            }),
        }
    }

    /// Hashes every file whose digests are not known yet. Blocking.
    pub(crate) fn precompute_digests(&self) {
        let inner = &self.inner;
        inner
            .digests
            .precompute(&inner.root.path, inner.hidden, |path| {
                inner.private.as_ref().is_some_and(|p| p.holds(path))
            });
    }

    /// Whether `path` (a resolved file's path) lies in the upload directory inside the root.
    fn private(&self, path: &Path) -> bool {
        self.inner.private.as_ref().is_some_and(|p| p.holds(path))
    }

    fn file(&self, file: File, meta: Metadata, path: PathBuf, prefetch: bool) -> LocalFile {
        LocalFile {
            stat: Stat {
                len: meta.len(),
                validators: Validators::from_metadata(&meta),
                name: path,
            },
            file,
            meta,
            prefetch,
            digests: Arc::clone(&self.inner.digests),
        }
    }

    /// [`Storage::open`], blocking.
    fn open_blocking(
        &self,
        request: &RequestPath,
    ) -> Result<Found<LocalFile, OwnedFd>, RequestError> {
        let inner = &self.inner;
        let target = resolve::open(
            &inner.root.fd,
            &inner.root.path,
            request,
            inner.follow_symlinks,
        )?;
        match target {
            // The upload directory inside the root: as if absent, however it was reached.
            Target::File { path, .. } if self.private(&path) => Err(RequestError::NotFound),
            Target::Dir { dir } if inner.private.as_ref().is_some_and(|p| p.is(&dir)) => {
                Err(RequestError::NotFound)
            }
            Target::File { file, meta, path } => Ok(Found::File(self.file(file, meta, path, true))),
            Target::Dir { dir } => Ok(Found::Dir(dir)),
        }
    }
}

/// On the blocking pool; a panic there is an I/O error (answered 500 and logged).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RequestError> + Send + 'static,
) -> Result<T, RequestError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|join| Err(RequestError::Io(io::Error::other(join))))
}

impl Storage for Local {
    type File = LocalFile;
    type Dir = OwnedFd;

    fn open_now(&self, request: &RequestPath) -> Option<LocalFile> {
        let inner = &self.inner;
        let (file, meta, path) = resolve::open_cached(&inner.root.fd, &inner.root.path, request)?;
        (!self.private(&path)).then(|| self.file(file, meta, path, false))
    }

    /// The hint is not needed: a stat here is a system call, and the body reads (or sends)
    /// from the descriptor opened now.
    async fn open(
        &self,
        request: &RequestPath,
        _hint: ReadHint,
    ) -> Result<Found<LocalFile, OwnedFd>, RequestError> {
        let (local, request) = (self.clone(), request.clone());
        blocking(move || local.open_blocking(&request)).await
    }

    async fn list(&self, dir: OwnedFd, request: &RequestPath) -> Result<Vec<Entry>, RequestError> {
        let (local, request) = (self.clone(), request.clone());
        blocking(move || {
            let inner = &local.inner;
            let visibility = listing::Visibility {
                root_dir: &inner.root.fd,
                root: &inner.root.path,
                follow_symlinks: inner.follow_symlinks,
                hidden: inner.hidden,
                private: inner.private.as_ref(),
            };
            Ok(listing::read(dir, &request, visibility)?)
        })
        .await
    }
}

/// A regular file of the local directory, open.
#[derive(Debug)]
pub(crate) struct LocalFile {
    stat: Stat,
    file: File,
    /// Its metadata (fstat of `file`).
    meta: Metadata,
    /// Read the first chunk before the body is handed out, unless it is in the page cache
    /// (a file opened on the blocking pool; one opened from the caches needs no disk).
    prefetch: bool,
    digests: Arc<DigestCache>,
}

impl Content for LocalFile {
    fn stat(&self) -> &Stat {
        &self.stat
    }

    fn upload_mark(&self) -> io::Result<bool> {
        use xattr::FileExt as _;
        Ok(self.file.get_xattr(UPLOAD_MARK)?.is_some())
    }

    async fn digests(&self) -> Option<Digests> {
        let file = self.file.try_clone().ok()?;
        let (meta, cache) = (self.meta.clone(), Arc::clone(&self.digests));
        tokio::task::spawn_blocking(move || cache.get(&file, &meta))
            .await
            .ok()
            .flatten()
    }

    async fn body(self, segments: Vec<Segment>) -> io::Result<Body> {
        let mut stream = FileStream::new(self.file, segments);
        if self.prefetch && stream.wants_prefetch() {
            stream = tokio::task::spawn_blocking(move || stream.prefetch().map(|()| stream))
                .await
                .map_err(io::Error::other)??;
        }
        Ok(Body::file(stream))
    }
}

//! Representation digests (RFC 9530): `Repr-Digest` (and `Content-Digest` for a whole-file
//! 200) with sha-256 or sha-512, for clients that ask with `Want-Repr-Digest` or
//! `Want-Content-Digest`.
//!
//! Digests are costly for large files, so they are computed once per version of a file and
//! kept: in memory, and in the file's `user.durl.digest` extended attribute, keyed by inode,
//! size and mtime (ns) — a rewrite changes one of them and the digest is computed anew. A
//! file up to [`INLINE`] bytes is hashed while its request waits (on the blocking pool); a
//! larger one in the background, and the requests that arrive before it is done are answered
//! without the field rather than delayed (RFC 9530 §4 lets a server ignore a want). With
//! [`crate::Config::precompute_digests`], every file below the root is hashed at startup, in
//! the background.

use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt as _, MetadataExt};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use http::HeaderMap;
use http::header::HeaderValue;
use sha2::{Digest as _, Sha256, Sha512};
use xattr::FileExt as _;

/// Files up to this size are hashed while their request waits.
pub(crate) const INLINE: u64 = 1 << 20;
/// The extended attribute holding a file's digests.
const XATTR: &str = "user.durl.digest";
/// Most files whose digests are kept in memory (the map is emptied when it is full).
const MEMORY: usize = 16_384;
/// Read size while hashing.
const READ: usize = 256 * 1024;

/// A digest algorithm of the HTTP Digest Algorithm Values registry (RFC 9530 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// `sha-256`.
    Sha256,
    /// `sha-512`.
    Sha512,
}

impl Algorithm {
    fn key(self) -> &'static str {
        match self {
            Self::Sha256 => "sha-256",
            Self::Sha512 => "sha-512",
        }
    }
}

/// What the request asked for: the algorithm for `Repr-Digest`, and for `Content-Digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Wanted {
    /// From `Want-Repr-Digest`.
    pub(crate) repr: Option<Algorithm>,
    /// From `Want-Content-Digest`.
    pub(crate) content: Option<Algorithm>,
}

/// Whether the request carries either want field (cheap: the hot path checks it).
pub(crate) fn asked(headers: &HeaderMap) -> bool {
    headers.contains_key("want-repr-digest") || headers.contains_key("want-content-digest")
}

/// Reads both want fields.
pub(crate) fn wanted(headers: &HeaderMap) -> Wanted {
    let pick = |name: &str| {
        let mut best: Option<(u8, Algorithm)> = None;
        for value in headers.get_all(name) {
            if let Ok(value) = value.to_str() {
                for choice in preferences(value) {
                    if best.is_none_or(|(w, _)| choice.0 > w) {
                        best = Some(choice);
                    }
                }
            }
        }
        best.map(|(_, a)| a)
    };
    Wanted {
        repr: pick("want-repr-digest"),
        content: pick("want-content-digest"),
    }
}

/// The supported algorithms a want field's value names with a non-zero preference (RFC
/// 9530 §4: a Dictionary of Integers 0–10, 0 = not acceptable; RFC 8941 §3.2). Members that
/// are not `key=integer` are skipped, as are unknown algorithms.
fn preferences(value: &str) -> Vec<(u8, Algorithm)> {
    let mut out = Vec::new();
    for member in value.split(',') {
        let member = member.trim();
        let (key, weight) = member.split_once('=').unwrap_or((member, "1"));
        // Parameters (`;x`) are allowed after the value and ignored.
        let weight = weight.split(';').next().unwrap_or("").trim();
        let algorithm = match key.trim() {
            "sha-256" => Algorithm::Sha256,
            "sha-512" => Algorithm::Sha512,
            _ => continue,
        };
        let weight: u8 = match weight {
            // A bare key is the Boolean true, not an Integer: treat as the lowest preference.
            "?1" => 1,
            w => match w.parse() {
                Ok(w) if w <= 10 => w,
                _ => continue,
            },
        };
        if weight > 0 {
            out.push((weight, algorithm));
        }
    }
    out
}

/// Both digests of one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Digests {
    sha256: [u8; 32],
    sha512: [u8; 64],
}

impl Digests {
    /// The field value for `algorithm`: `sha-256=:BASE64:` (a Byte Sequence, RFC 8941 §3.3.5).
    pub(crate) fn field(&self, algorithm: Algorithm) -> HeaderValue {
        let bytes: &[u8] = match algorithm {
            Algorithm::Sha256 => &self.sha256,
            Algorithm::Sha512 => &self.sha512,
        };
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        HeaderValue::try_from(format!("{}=:{b64}:", algorithm.key()))
            .unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// Hashes `file` (`len` bytes) with both algorithms.
    fn compute(file: &File, len: u64) -> io::Result<Self> {
        let mut sha256 = Sha256::new();
        let mut sha512 = Sha512::new();
        let mut buf = vec![0u8; READ];
        let mut offset = 0;
        while offset < len {
            let n = file.read_at(&mut buf, offset)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was hashed",
                ));
            }
            sha256.update(&buf[..n]);
            sha512.update(&buf[..n]);
            offset += n as u64;
        }
        Ok(Self {
            sha256: sha256.finalize().into(),
            sha512: sha512.finalize().into(),
        })
    }

    /// The attribute's text: `v1 INODE SIZE MTIME_S MTIME_NS SHA256HEX SHA512HEX`.
    fn encode(&self, version: Version) -> String {
        format!(
            "v1 {} {} {} {} {} {}",
            version.inode,
            version.size,
            version.mtime,
            version.mtime_nsec,
            hex(&self.sha256),
            hex(&self.sha512)
        )
    }

    /// The digests in an attribute's text, if it describes `version`.
    fn decode(text: &str, version: Version) -> Option<Self> {
        let mut words = text.split(' ');
        if words.next()? != "v1" {
            return None;
        }
        let mut number = || words.next()?.parse::<i128>().ok();
        let described = (number()?, number()?, number()?, number()?);
        let wanted = (
            i128::from(version.inode),
            i128::from(version.size),
            i128::from(version.mtime),
            i128::from(version.mtime_nsec),
        );
        if described != wanted {
            return None;
        }
        let sha256 = unhex(words.next()?)?.try_into().ok()?;
        let sha512 = unhex(words.next()?)?.try_into().ok()?;
        Some(Self { sha256, sha512 })
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What identifies one version of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Version {
    dev: u64,
    inode: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Version {
    fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            inode: meta.ino(),
            size: meta.len(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// The server's digests: those known, and those being computed.
#[derive(Debug, Default)]
pub(crate) struct DigestCache {
    known: Mutex<HashMap<Version, Digests>>,
    computing: Mutex<HashSet<Version>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl DigestCache {
    /// The digests of `file` if known (memory, then the attribute); else computed now for a
    /// small file, or started in the background for a large one (`None` meanwhile).
    /// Blocking: call it from the blocking pool.
    pub(crate) fn get(self: &Arc<Self>, file: &File, meta: &Metadata) -> Option<Digests> {
        let version = Version::of(meta);
        if let Some(d) = self.known(file, version) {
            return Some(d);
        }
        if meta.len() <= INLINE {
            return self.compute(file, version);
        }
        self.start(file, version);
        None
    }

    /// From memory or the attribute.
    fn known(&self, file: &File, version: Version) -> Option<Digests> {
        if let Some(d) = lock(&self.known).get(&version) {
            return Some(d.clone());
        }
        let text = file.get_xattr(XATTR).ok()??;
        let d = Digests::decode(std::str::from_utf8(&text).ok()?, version)?;
        self.remember(version, d.clone());
        Some(d)
    }

    fn remember(&self, version: Version, digests: Digests) {
        let mut known = lock(&self.known);
        if known.len() >= MEMORY {
            known.clear();
        }
        known.insert(version, digests);
    }

    /// Hashes the file now; keeps the result if the file did not change meanwhile.
    fn compute(&self, file: &File, version: Version) -> Option<Digests> {
        let digests = Digests::compute(file, version.size).ok()?;
        let after = file.metadata().ok().map(|m| Version::of(&m));
        if after != Some(version) {
            return None;
        }
        // The attribute is a cache: a read-only file or a file system without user
        // attributes just keeps it in memory.
        let _ = file.set_xattr(XATTR, digests.encode(version).as_bytes());
        self.remember(version, digests.clone());
        Some(digests)
    }

    /// Hashes `file` on the blocking pool unless that is already under way.
    fn start(self: &Arc<Self>, file: &File, version: Version) {
        if !lock(&self.computing).insert(version) {
            return;
        }
        let Ok(file) = file.try_clone() else {
            lock(&self.computing).remove(&version);
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            lock(&self.computing).remove(&version);
            return;
        };
        let cache = Arc::clone(self);
        runtime.spawn_blocking(move || {
            let _ = cache.compute(&file, version);
            lock(&cache.computing).remove(&version);
        });
    }

    /// Hashes every regular file below `root` whose digests are not known yet (dotfiles
    /// only if `hidden`; symbolic links are not followed; directories for which `private`
    /// holds, the upload directory inside the root, are skipped). Blocking: the server runs
    /// it on the blocking pool at startup.
    pub(crate) fn precompute(&self, root: &Path, hidden: bool, private: impl Fn(&Path) -> bool) {
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                if !hidden && name.as_encoded_bytes().first() == Some(&b'.') {
                    continue;
                }
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    // The upload directory inside the root is not part of the served tree.
                    if !private(&entry.path()) {
                        dirs.push(entry.path());
                    }
                } else if kind.is_file() {
                    let Ok(file) = open_nofollow(&entry.path()) else {
                        continue;
                    };
                    let Ok(meta) = file.metadata() else { continue };
                    let version = Version::of(&meta);
                    if meta.is_file() && self.known(&file, version).is_none() {
                        let _ = self.compute(&file, version);
                    }
                }
            }
        }
    }
}

/// Opens a file for reading without following a link at its last component, and without
/// blocking on a FIFO swapped in.
fn open_nofollow(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn want_fields() {
        use Algorithm::{Sha256, Sha512};
        #[rustfmt::skip]
        let cases: &[(&str, Option<Algorithm>)] = &[
            ("sha-256=10", Some(Sha256)),
            ("sha-512=3, sha-256=10", Some(Sha256)),
            ("sha-512=10, sha-256=1", Some(Sha512)),
            ("sha-256=0", None),                       // 0: not acceptable
            ("sha-256=0, sha-512=1", Some(Sha512)),
            ("md5=10, sha-256=2", Some(Sha256)),       // unknown algorithms skipped
            ("unixsum=3", None),
            ("sha-256=11", None),                      // out of range
            ("sha-256=abc", None),
            ("sha-256", Some(Sha256)),                 // bare key: Boolean true
            ("sha-256=5;x=1", Some(Sha256)),           // parameters ignored
            ("", None),
        ];
        for (value, want) in cases {
            let mut h = HeaderMap::new();
            h.insert("want-repr-digest", HeaderValue::from_str(value).unwrap());
            assert_eq!(wanted(&h).repr, *want, "{value:?}");
            assert_eq!(wanted(&h).content, None);
            assert!(asked(&h));
        }
        assert!(!asked(&HeaderMap::new()));
    }

    #[test]
    fn digests_of_known_content_and_their_fields() {
        let mut f = tempfile::tempfile().unwrap();
        io::Write::write_all(&mut f, b"hello world\n").unwrap();
        let d = Digests::compute(&f, 12).unwrap();
        // sha256sum of "hello world\n".
        assert_eq!(
            hex(&d.sha256),
            "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447"
        );
        assert_eq!(
            d.field(Algorithm::Sha256),
            "sha-256=:qUiQTy8PR5uPgZdpSzAYSw0u0cHNKh7A+4XSmaGSpEc=:"
        );
        assert!(
            d.field(Algorithm::Sha512)
                .to_str()
                .unwrap()
                .starts_with("sha-512=:")
        );
    }

    #[test]
    fn the_attribute_text_round_trips_only_for_its_version() {
        let v = Version {
            dev: 1,
            inode: 42,
            size: 12,
            mtime: 1_700_000_000,
            mtime_nsec: 5,
        };
        let d = Digests {
            sha256: [7; 32],
            sha512: [9; 64],
        };
        let text = d.encode(v);
        assert_eq!(Digests::decode(&text, v), Some(d.clone()));
        for other in [
            Version { inode: 43, ..v },
            Version { size: 13, ..v },
            Version { mtime: 1, ..v },
            Version { mtime_nsec: 6, ..v },
        ] {
            assert_eq!(Digests::decode(&text, other), None);
        }
        assert_eq!(Digests::decode("v2 42 12 1700000000 5 00 00", v), None);
        assert_eq!(Digests::decode(&text[..text.len() - 2], v), None);
        assert_eq!(Digests::decode("", v), None);
    }
}

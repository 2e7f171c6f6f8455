//! The chunks of a tus upload (Core Protocol › Requests › PATCH), read from the local file
//! and hashed for `Upload-Checksum` (Checksum › Headers) on a blocking thread, one chunk
//! ahead: while one chunk is on the wire the next is being read and hashed, so the disk, the
//! hash and the network overlap. A chunk is read once and sent from memory, so its body is
//! exactly the bytes hashed; at most two chunks are held (the one sent and the next), and
//! the buffer of a chunk sent is used again for a later one (no fresh pages to fault in).

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use bytes::Bytes;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use tokio::task::JoinHandle;

use crate::Error;

/// The chunk checksum the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algo {
    None,
    Sha1,
    Sha256,
    /// CRC-32C (RFC 3720 § B.4), its 4 bytes big-endian in base64 (as S3's
    /// `x-amz-checksum-crc32c`): the chunk checksum guards against accidental corruption in
    /// transit, which a CRC does at a fraction of a hash's cost.
    Crc32c,
}

/// One chunk as read.
#[derive(Debug)]
pub(super) struct Chunk {
    /// The bytes, from the chunk's offset.
    pub(super) data: Bytes,
    /// The `Upload-Checksum` value, `<algorithm> <base64 digest>`, unless [`Algo::None`].
    pub(super) checksum: Option<String>,
}

/// Which chunk a read is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    offset: u64,
    len: u64,
    algo: Algo,
}

/// Reads chunks of one local file, the next one ahead.
#[derive(Debug)]
pub(super) struct Reader {
    path: PathBuf,
    ahead: Option<(Span, JoinHandle<Result<Chunk, Error>>)>,
    /// The buffer of a chunk sent, for the next read.
    spare: Option<Vec<u8>>,
}

impl Reader {
    pub(super) fn new(path: PathBuf) -> Self {
        Self {
            path,
            ahead: None,
            spare: None,
        }
    }

    /// The `len` bytes at `offset` (from the read ahead when it is that chunk), then starts
    /// reading the `next` bytes after them (none when 0).
    pub(super) async fn take(
        &mut self,
        offset: u64,
        len: u64,
        next: u64,
        algo: Algo,
    ) -> Result<Chunk, Error> {
        let span = Span { offset, len, algo };
        let task = match self.ahead.take() {
            Some((ahead, task)) if ahead == span => task,
            _ => self.spawn(span), // a resync moved the offset: the read ahead is dropped
        };
        let chunk = task
            .await
            .map_err(|e| Error::io("cannot read", &self.path)(std::io::Error::other(e)))?;
        if next > 0 {
            let span = Span {
                offset: offset + len,
                len: next,
                algo,
            };
            self.ahead = Some((span, self.spawn(span)));
        }
        chunk
    }

    /// Gives back the bytes of a chunk once sent; kept for a later read when nothing else
    /// holds them any more.
    pub(super) fn recycle(&mut self, data: Bytes) {
        if let Ok(buf) = data.try_into_mut() {
            self.spare = Some(buf.into());
        }
    }

    fn spawn(&mut self, span: Span) -> JoinHandle<Result<Chunk, Error>> {
        let path = self.path.clone();
        let buf = self.spare.take().unwrap_or_default();
        tokio::task::spawn_blocking(move || read(&path, span, buf))
    }
}

/// Reads and hashes one chunk into `buf`. A file shorter than the chunk's end has changed.
fn read(path: &Path, span: Span, mut buf: Vec<u8>) -> Result<Chunk, Error> {
    let mut file = File::open(path).map_err(Error::io("cannot read", path))?;
    file.seek(SeekFrom::Start(span.offset))
        .map_err(Error::io("cannot read", path))?;
    let changed = || Error::LocalChanged {
        path: path.to_owned(),
    };
    let len = usize::try_from(span.len).map_err(|_| changed())?;
    buf.clear();
    buf.reserve_exact(len);
    file.take(span.len)
        .read_to_end(&mut buf)
        .map_err(Error::io("cannot read", path))?;
    if buf.len() != len {
        return Err(changed());
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let checksum = match span.algo {
        Algo::None => None,
        Algo::Sha1 => Some(format!("sha1 {}", b64.encode(Sha1::digest(&buf)))),
        Algo::Sha256 => Some(format!("sha256 {}", b64.encode(Sha256::digest(&buf)))),
        Algo::Crc32c => Some(format!(
            "crc32c {}",
            b64.encode(crc_fast::crc32_iscsi(&buf).to_be_bytes())
        )),
    };
    Ok(Chunk {
        data: Bytes::from(buf),
        checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chunks_are_read_ahead_and_a_moved_offset_reads_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let content: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 256) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let mut reader = Reader::new(path.clone());
        let a = reader.take(0, 4000, 4000, Algo::Sha256).await.unwrap();
        assert_eq!(a.data, content[..4000]);
        let want = b64(&Sha256::digest(&content[..4000]));
        assert_eq!(a.checksum, Some(format!("sha256 {want}")));
        // The read ahead is this chunk.
        let b = reader.take(4000, 4000, 2000, Algo::Sha256).await.unwrap();
        assert_eq!(b.data, content[4000..8000]);
        reader.recycle(a.data);
        assert!(reader.spare.is_some(), "a chunk nobody holds is kept");
        let held = b.data.slice(..10);
        reader.recycle(b.data);
        assert_eq!(
            held,
            content[4000..4010],
            "a chunk still held is left alone"
        );
        // Not the chunk read ahead (a resync): read again, here without a checksum.
        let c = reader.take(1000, 9000, 0, Algo::None).await.unwrap();
        assert_eq!((c.data.as_ref(), c.checksum), (&content[1000..], None));
        // CRC-32C: the CRC catalogue's check value, big-endian in base64.
        std::fs::write(&path, b"123456789").unwrap();
        let crc = reader.take(0, 9, 0, Algo::Crc32c).await.unwrap();
        assert_eq!(crc.checksum.as_deref(), Some("crc32c 4waSgw=="));
        // A file that got shorter than the chunk has changed.
        std::fs::write(&path, &content[..5000]).unwrap();
        let short = reader.take(4000, 4000, 0, Algo::Sha1).await;
        assert!(
            matches!(short, Err(Error::LocalChanged { .. })),
            "{short:?}"
        );
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }
}

//! Disk space for uploads (issue 13 item 5), on a fake disk: the free space the server sees is
//! a capacity less the bytes in its upload directory (`Config::disk_space_source`), so the
//! tests are exact and never fill the real disk. Uploads created together cannot promise more
//! than the disk holds; a deferred-length upload sent as a chunked PATCH stops before the
//! reserve (507, what arrived kept); a Content-Length that does not fit is 507 at once.

use std::path::Path;
use std::time::Duration;

use durl_serve::DiskSpace;
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::OwnedReadHalf;

use crate::harness::{Server, bounded};
use crate::tus::{COLLECTION, b64, field, tus, upload_server};

const MIB: u64 = 1 << 20;

/// Bytes of the files in `dir`.
fn used(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok()?.metadata().ok())
            .map(|m| m.len())
            .sum()
    })
}

/// A server whose disk holds `capacity` bytes, `reserve` of them kept free.
async fn server_on_disk(capacity: u64, reserve: u64) -> Server {
    upload_server(move |c| {
        c.upload_reserve(reserve).disk_space_source(move |dir| {
            Ok(DiskSpace {
                available: capacity.saturating_sub(used(dir)),
                total: capacity,
            })
        })
    })
    .await
}

async fn post(server: &Server, length: Option<u64>) -> (StatusCode, Option<String>) {
    let mut request = tus(Method::POST, server.url(COLLECTION))
        .header("upload-metadata", format!("filename {}", b64(b"big.bin")));
    request = match length {
        Some(n) => request.header("upload-length", n.to_string()),
        None => request.header("upload-defer-length", "1"),
    };
    let r = request.send().await.unwrap();
    (r.status(), field(&r, "location").map(str::to_owned))
}

/// The status line of the response read from `read`.
async fn status_line(mut read: OwnedReadHalf) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(2).any(|w| w == b"\r\n") {
        let n = read.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed without an answer");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got).into_owned();
    text.lines().next().unwrap_or("").to_owned()
}

async fn offset(server: &Server, location: &str) -> u64 {
    let r = tus(Method::HEAD, server.url(location))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    field(&r, "upload-offset").unwrap().parse().unwrap()
}

#[tokio::test]
async fn uploads_created_together_cannot_promise_more_than_the_disk_holds() {
    bounded(async {
        // 8 MiB (and 64 KiB for the records), 1 MiB kept free: 7 MiB may be promised.
        let slack = 64 * 1024;
        let server = server_on_disk(8 * MIB + slack, MIB).await;
        let creating = (0..4).map(|_| post(&server, Some(6 * MIB)));
        let answers = futures_util::future::join_all(creating).await;
        let created: Vec<&String> = answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::CREATED)
            .filter_map(|(_, l)| l.as_ref())
            .collect();
        assert_eq!(created.len(), 1, "{answers:?}");
        assert!(
            answers
                .iter()
                .all(|(s, _)| *s == StatusCode::CREATED || *s == StatusCode::INSUFFICIENT_STORAGE),
            "{answers:?}"
        );
        // The refused ones left nothing behind.
        let dir = server.root.join(".durl-uploads");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            2,
            "one data file, one record"
        );
        // 1 MiB is left to promise.
        assert_eq!(
            post(&server, Some(MIB + slack)).await.0,
            StatusCode::INSUFFICIENT_STORAGE
        );
        let (status, small) = post(&server, Some(MIB)).await;
        assert_eq!(status, StatusCode::CREATED);
        // Terminated: its promise is free again.
        let r = tus(Method::DELETE, server.url(created[0]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(post(&server, Some(6 * MIB)).await.0, StatusCode::CREATED);
        // A deferred length announced too large is refused the same way.
        let (status, deferred) = post(&server, None).await;
        assert_eq!(status, StatusCode::CREATED);
        let r = tus(Method::PATCH, server.url(deferred.as_deref().unwrap()))
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "0")
            .header("upload-length", (MIB / 2).to_string())
            .body(vec![1u8; 10])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
        // ... and a Content-Length that does not fit, before a byte is written.
        let r = tus(Method::PATCH, server.url(deferred.as_deref().unwrap()))
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "0")
            .body(vec![1u8; usize::try_from(MIB / 2).unwrap()])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(offset(&server, deferred.as_deref().unwrap()).await, 0);
        assert!(small.is_some());
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_chunked_patch_of_a_deferred_upload_stops_before_the_reserve() {
    bounded(async {
        // 20 MiB, 4 MiB kept free: the body (24 MiB, chunked) may bring 16 MiB.
        let server = server_on_disk(20 * MIB, 4 * MIB).await;
        let (status, location) = post(&server, None).await;
        assert_eq!(status, StatusCode::CREATED);
        let location = location.unwrap();
        let stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let (read, mut write) = stream.into_split();
        let head = format!(
            "PATCH {location} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
             Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        let sending = tokio::spawn(async move {
            write.write_all(head.as_bytes()).await?;
            let chunk = vec![7u8; 64 * 1024];
            for _ in 0..(24 * MIB / chunk.len() as u64) {
                write
                    .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                    .await?;
                write.write_all(&chunk).await?;
                write.write_all(b"\r\n").await?;
            }
            write.write_all(b"0\r\n\r\n").await
        });
        let status = tokio::time::timeout(Duration::from_secs(20), status_line(read))
            .await
            .expect("an answer before the body ends");
        sending.abort();
        assert!(status.starts_with("HTTP/1.1 507"), "{status}");
        let kept = offset(&server, &location).await;
        assert!(kept > 0 && kept <= 16 * MIB, "{kept}");
        let data = server
            .root
            .join(".durl-uploads")
            .join(format!("{}.data", location.rsplit('/').next().unwrap()));
        let on_disk = std::fs::metadata(data).unwrap().len();
        assert!(
            on_disk <= 16 * MIB,
            "the data never reached into the reserve: {on_disk}"
        );
        server.stop().await;
    })
    .await;
}

//! tus uploads under stress: PATCHes cut mid-body, two PATCHes at once, size, disk and
//! concurrency limits (413, 507, 503), and expiry (410).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::{RawReader, Server, bounded, content};
use crate::tus::{
    COLLECTION, create, field, head, listing, offset, patch, tus, upload_dir, upload_server,
};

#[tokio::test]
async fn limits_413_507_and_503() {
    bounded(async {
        let server = upload_server(|c| c.max_upload_size(100).max_concurrent_uploads(1)).await;
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-length", "101")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // A deferred length is held to the limit too.
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-defer-length", "1")
            .send()
            .await
            .unwrap();
        let deferred = field(&r, "location").unwrap().to_owned();
        let r = patch(&server, &deferred, 0, &[b'x'; 101]).await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

        // One transfer at a time: while a PATCH is in flight, another upload's is 503.
        let a = create(&server, 100, "a.bin").await;
        let b = create(&server, 100, "b.bin").await;
        let mut held = start_patch(&server, &a, 0, 100, b"part").await;
        let r = patch(&server, &b, 0, b"data").await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(field(&r, "retry-after"), Some("1"));
        held.shutdown().await.unwrap();
        drop(held);
        server.stop().await;

        // More than the disk holds: 507.
        let server = upload_server(|c| c).await;
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-length", (u64::MAX / 2).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(listing(&upload_dir(&server)), Vec::<String>::new());
        server.stop().await;
    })
    .await;
}

/// Starts a PATCH of `total` bytes over a raw connection and sends only `first`.
async fn start_patch(
    server: &Server,
    path: &str,
    offset: u64,
    total: u64,
    first: &[u8],
) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n\
         Content-Length: {total}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    stream.flush().await.unwrap();
    // Let the server take the lock and start writing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream
}

/// Polls HEAD until the offset is `want` (bounded).
async fn wait_offset(server: &Server, path: &str, want: u64) {
    for _ in 0..200 {
        if offset(server, path).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!(
        "offset never reached {want}: {}",
        offset(server, path).await
    );
}

#[tokio::test]
async fn a_cut_patch_keeps_what_arrived_and_the_upload_completes() {
    bounded(async {
        let server = upload_server(|c| c).await;
        let data = content(1 << 20);
        let path = create(&server, data.len() as u64, "cut.bin").await;
        let stream = start_patch(&server, &path, 0, data.len() as u64, &data[..300_000]).await;
        drop(stream); // the client goes away mid-body
        wait_offset(&server, &path, 300_000).await;
        let r = patch(&server, &path, 300_000, &data[300_000..]).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(std::fs::read(server.root.join("cut.bin")).unwrap(), data);

        // With a checksum the chunk is all or nothing: a cut one keeps nothing.
        let path = create(&server, 10, "sum.bin").await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
             Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
             Upload-Checksum: sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=\r\nContent-Length: 10\r\n\r\nhello"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(stream);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(offset(&server, &path).await, 0);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn concurrent_patches_on_one_upload_never_interleave() {
    bounded(async {
        let server = upload_server(|c| c).await;
        let data = content(1000);
        let path = create(&server, 1000, "lock.bin").await;
        let mut first = start_patch(&server, &path, 0, 1000, &data[..400]).await;
        // A second PATCH (same offset, other bytes) while the first holds the upload: 423.
        let r = patch(&server, &path, 0, &[b'!'; 1000]).await;
        assert_eq!(r.status(), StatusCode::LOCKED);
        let r = tus(Method::DELETE, server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::LOCKED);
        first.write_all(&data[400..]).await.unwrap();
        let mut reader = RawReader::new(first);
        let response = reader.response(false).await.unwrap();
        assert_eq!(response.status, 204);
        assert_eq!(response.header("upload-offset"), Some("1000"));
        assert_eq!(std::fs::read(server.root.join("lock.bin")).unwrap(), data);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unfinished_uploads_expire() {
    bounded(async {
        let server = upload_server(|c| c.upload_expiry(Duration::from_millis(300))).await;
        let path = create(&server, 10, "e.txt").await;
        patch(&server, &path, 0, b"abc").await;
        let dir = upload_dir(&server);
        for _ in 0..200 {
            if listing(&dir).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(
            listing(&dir),
            Vec::<String>::new(),
            "the sweeper deleted it"
        );
        // Expiration: 410 "if the Server is keeping track of expired uploads".
        assert_eq!(head(&server, &path).await.status(), StatusCode::GONE);
        assert_eq!(
            patch(&server, &path, 3, b"d").await.status(),
            StatusCode::GONE
        );
        server.stop().await;
    })
    .await;
}

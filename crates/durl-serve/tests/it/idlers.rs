//! Issue 13 item 2: clients that hold connection slots without using them. An HTTP/2
//! connection that keeps exchanging PINGs but opens no request is closed after the idle
//! timeout, and one address cannot take every slot.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{RawReader, Server, bounded};

#[tokio::test]
async fn an_h2_connection_that_only_pings_is_closed_after_the_idle_timeout() {
    bounded(async {
        let server = Server::start(
            |root| std::fs::write(root.join("t.txt"), b"hello").unwrap(),
            |c| c.idle_timeout(Duration::from_millis(500)),
        )
        .await;
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let (mut client, mut connection) = h2::client::handshake(tcp).await.unwrap();
        let mut pings = connection.ping_pong().expect("the PING handle");
        let driver = tokio::spawn(connection);
        // One request, read in full.
        let request = http::Request::get(server.url("/t.txt")).body(()).unwrap();
        let (response, _) = client.send_request(request, true).unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.unwrap();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        // Then nothing but PINGs (and their ACKs), every 100 ms: bytes keep moving.
        let started = Instant::now();
        let closed = loop {
            if driver.is_finished() {
                break true;
            }
            if started.elapsed() > Duration::from_secs(10) {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            if pings.ping(h2::Ping::opaque()).await.is_err() {
                break true;
            }
        };
        assert!(closed, "the PING-only connection was still open after 10 s");
        drop(client);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn one_address_cannot_take_every_connection_slot() {
    bounded(async {
        let server = Server::start(
            |root| std::fs::write(root.join("t.txt"), b"hello").unwrap(),
            |c| {
                c.max_connections(4)
                    .header_read_timeout(Duration::from_secs(15))
            },
        )
        .await;
        // 127.0.0.1 holds its share (three of four) with silent connections, and more of its
        // connections only wait for one of its own slots (six at most), never taking the last.
        let mut held = Vec::new();
        for _ in 0..6 {
            held.push(TcpStream::connect(server.addr).await.unwrap());
        }
        // Beyond holding and waiting for its share, an address's connections are closed.
        let excess = TcpStream::connect(server.addr).await.unwrap();
        assert!(
            RawReader::new(excess)
                .closed_within(Duration::from_secs(5))
                .await,
            "an address held and waited for more than twice its share"
        );
        // Another address (127.0.0.2, loopback too) is served at once.
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let mut other = RawReader::new(socket.connect(server.addr).await.unwrap());
        other
            .stream
            .write_all(b"GET /t.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(5), other.response(false))
            .await
            .expect("another address was served within 5 s")
            .unwrap();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"hello"[..])
        );
        drop(held);
        server.stop().await;
    })
    .await;
}

/// Item 6: an upload body that trickles (a byte every 100 ms, below the floor of 1 KiB/s) is
/// cut with 408 within a window or two, keeping what arrived, and its transfer slot is free
/// again: with one slot, another upload goes through afterwards.
#[tokio::test]
async fn a_trickling_upload_body_is_cut_and_frees_its_slot() {
    use crate::tus::{create, offset, patch};
    bounded(async {
        let server = Server::start(
            |_| {},
            |c| {
                c.uploads(true)
                    .max_concurrent_uploads(1)
                    .min_upload_rate(1024, Duration::from_millis(500))
            },
        )
        .await;
        let path = create(&server, 100_000, "slow.bin").await;
        let mut slow = RawReader::new(TcpStream::connect(server.addr).await.unwrap());
        let head = format!(
            "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
             Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
             Content-Length: 100000\r\n\r\n"
        );
        slow.stream.write_all(head.as_bytes()).await.unwrap();
        let started = Instant::now();
        let status = loop {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "a trickling body was still being received after 10 s"
            );
            if slow.stream.write_all(b"x").await.is_err() {
                break None;
            }
            tokio::select! {
                response = slow.response(false) => break response.map(|r| r.status),
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        };
        assert!(matches!(status, Some(408) | None), "{status:?}");
        // What arrived is kept (fewer bytes than were sent at most), the slot is free.
        let kept = offset(&server, &path).await;
        assert!(kept < 100, "{kept}");
        let other = create(&server, 3, "fast.bin").await;
        assert_eq!(patch(&server, &other, 0, b"abc").await.status(), 204);
        server.stop().await;
    })
    .await;
}

/// Item 6, second half: one address holds at most its share (three quarters) of the upload
/// transfer slots; another address still gets one.
#[tokio::test]
async fn one_address_cannot_take_every_upload_slot() {
    use crate::tus::{COLLECTION, create, field};
    bounded(async {
        let server = Server::start(|_| {}, |c| c.uploads(true).max_concurrent_uploads(4)).await;
        // 127.0.0.1 holds three transfers open (bodies announced, not yet sent).
        let mut held = Vec::new();
        for i in 0..3 {
            let path = create(&server, 1000, &format!("held{i}.bin")).await;
            let mut stream = TcpStream::connect(server.addr).await.unwrap();
            let head = format!(
                "PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
                 Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
                 Content-Length: 1000\r\n\r\nabc"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            held.push(stream);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let upload = |client: reqwest::Client, name: &'static str| {
            let url = server.url(COLLECTION);
            async move {
                let r = client
                    .post(url)
                    .header("tus-resumable", "1.0.0")
                    .header("upload-length", "3")
                    .header(
                        "upload-metadata",
                        format!("filename {}", crate::tus::b64(name.as_bytes())),
                    )
                    .header("content-type", "application/offset+octet-stream")
                    .body("abc")
                    .send()
                    .await
                    .unwrap();
                (
                    r.status().as_u16(),
                    field(&r, "upload-offset").map(str::to_owned),
                )
            }
        };
        let local = |ip: [u8; 4]| {
            reqwest::Client::builder()
                .no_proxy()
                .local_address(std::net::IpAddr::from(ip))
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap()
        };
        // Its fourth is refused although a slot is free ...
        assert_eq!(upload(local([127, 0, 0, 1]), "fourth.bin").await.0, 503);
        // ... which another address gets.
        let (status, offset) = upload(local([127, 0, 0, 2]), "other.bin").await;
        assert_eq!((status, offset.as_deref()), (201, Some("3")));
        drop(held);
        server.stop().await;
    })
    .await;
}

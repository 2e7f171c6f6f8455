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

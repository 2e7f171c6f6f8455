//! Limits and robustness over raw sockets: oversized heads, slowloris, idle connections,
//! keep-alive, malformed requests, connection cap, graceful shutdown.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{RawReader, Server, assert_still_serving, bounded, client, content, get, raw};

#[tokio::test]
async fn oversized_heads_get_431_and_long_targets_414() {
    bounded(async {
        let server = Server::with_files(&[("t.txt", b"hello")]).await;

        // One 70 KiB header field: more than the 64 KiB head limit.
        let big = "x".repeat(70 * 1024);
        let request = format!("GET /t.txt HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
        let response = raw(server.addr, request.as_bytes()).await;
        assert_eq!(response.status, 431);
        assert_still_serving(&server, "/t.txt").await;

        // 150 header fields: more than 100.
        let fields: String = (0..150).map(|i| format!("X-F{i}: v\r\n")).collect();
        let request = format!("GET /t.txt HTTP/1.1\r\nHost: x\r\n{fields}\r\n");
        let response = raw(server.addr, request.as_bytes()).await;
        assert_eq!(response.status, 431);
        assert_still_serving(&server, "/t.txt").await;

        // A 10 KiB target: longer than the 8 KiB target limit.
        let target = format!("/{}", "a".repeat(10 * 1024));
        let response = raw(server.addr, &get(&target)).await;
        assert_eq!(response.status, 414);
        assert_still_serving(&server, "/t.txt").await;

        // A long but allowed name is simply not found (ENAMETOOLONG is the client's problem).
        let target = format!("/{}", "a".repeat(4000));
        assert_eq!(raw(server.addr, &get(&target)).await.status, 404);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn malformed_requests_do_not_stop_the_server() {
    bounded(async {
        // A short head timeout, so requests that leave the server waiting for more are cut.
        let server = Server::start(
            |root| std::fs::write(root.join("t.txt"), b"hello").unwrap(),
            |c| c.header_read_timeout(Duration::from_secs(1)),
        )
        .await;
        let garbage: &[&[u8]] = &[
            b"GARBAGE\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET / HTTP/9.9\r\n\r\n",
            b"GET /t.txt HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"GET /t.txt HTTP/1.1\r\nBad Header\r\n\r\n",
            b"\x00\x01\x02\x03\r\n\r\n",
            b"GET /t.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=\xff\xfe\r\nConnection: close\r\n\r\n",
            b"GET /t.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"\xff\"\r\nConnection: close\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00garbage",
        ];
        for request in garbage {
            let mut stream = TcpStream::connect(server.addr).await.unwrap();
            stream.write_all(request).await.unwrap();
            let mut reply = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply));
            let _ = read.await.unwrap_or_else(|_| {
                panic!("{:?}: server neither closed nor answered", String::from_utf8_lossy(request))
            });
            if reply.starts_with(b"HTTP/1.1 ") {
                let status = &reply[9..12];
                assert!(
                    status[0] != b'5',
                    "{:?} → {}",
                    String::from_utf8_lossy(request),
                    String::from_utf8_lossy(status)
                );
            }
            assert_still_serving(&server, "/t.txt").await;
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn keep_alive_serves_many_requests_on_one_connection() {
    bounded(async {
        let data = content(200_000);
        let server = Server::with_files(&[("d.bin", &data)]).await;
        let stream = TcpStream::connect(server.addr).await.unwrap();
        let mut reader = RawReader::new(stream);
        for i in 0..20usize {
            let (a, b) = (i * 1000, i * 1000 + 9999);
            let request =
                format!("GET /d.bin HTTP/1.1\r\nHost: x\r\nRange: bytes={a}-{b}\r\n\r\n");
            reader.stream.write_all(request.as_bytes()).await.unwrap();
            let response = reader.response(false).await.expect("answer on the same connection");
            assert_eq!(response.status, 206);
            assert_eq!(response.body, &data[a..=b]);
        }
        // An error answer (404) keeps the connection too.
        reader
            .stream
            .write_all(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\nGET /d.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(reader.response(false).await.unwrap().status, 404);
        assert_eq!(reader.response(false).await.unwrap().status, 206);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn slowloris_connections_are_cut_and_do_not_starve_others() {
    bounded(async {
        let server = Server::start(
            |root| std::fs::write(root.join("t.txt"), b"hello").unwrap(),
            |c| {
                c.max_connections(4)
                    .header_read_timeout(Duration::from_millis(600))
            },
        )
        .await;
        // Fill every connection slot with clients that dribble a head, one byte at a time.
        let mut slow = Vec::new();
        for _ in 0..4 {
            let mut stream = TcpStream::connect(server.addr).await.unwrap();
            slow.push(tokio::spawn(async move {
                let started = Instant::now();
                for byte in b"GET /t.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ".iter().cycle() {
                    if stream.write_all(&[*byte]).await.is_err() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if started.elapsed() > Duration::from_secs(10) {
                        panic!("slow connection was never cut");
                    }
                }
                started.elapsed()
            }));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;

        // A normal client still gets served, once the slow ones are cut.
        let started = Instant::now();
        let response = client().get(server.url("/t.txt")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );

        for task in slow {
            let lived = task.await.unwrap();
            assert!(
                lived < Duration::from_secs(5),
                "slow client lived {lived:?}"
            );
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn silent_and_idle_connections_are_closed() {
    bounded(async {
        let server = Server::start(
            |root| std::fs::write(root.join("t.txt"), b"hello").unwrap(),
            |c| c.header_read_timeout(Duration::from_millis(500)),
        )
        .await;
        // Connects and says nothing: closed by the first-request deadline.
        let silent = TcpStream::connect(server.addr).await.unwrap();
        assert!(
            RawReader::new(silent)
                .closed_within(Duration::from_secs(3))
                .await
        );

        // Sends part of an HTTP/2 preface and stalls (protocol sniffing must time out too).
        let mut partial = TcpStream::connect(server.addr).await.unwrap();
        partial.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        assert!(
            RawReader::new(partial)
                .closed_within(Duration::from_secs(3))
                .await
        );

        // One request, then idle keep-alive: closed by the header read timeout.
        let mut idle = RawReader::new(TcpStream::connect(server.addr).await.unwrap());
        idle.stream
            .write_all(b"GET /t.txt HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(idle.response(false).await.unwrap().status, 200);
        assert!(idle.closed_within(Duration::from_secs(3)).await);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn connection_cap_queues_instead_of_failing() {
    bounded(async {
        let data = content(100_000);
        let server = Server::start(
            move |root| std::fs::write(root.join("d.bin"), &data).unwrap(),
            |c| c.max_connections(2),
        )
        .await;
        // 20 concurrent clients through 2 slots: all served, in turn.
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let addr = server.addr;
            tasks.spawn(async move { raw(addr, &get("/d.bin")).await });
        }
        while let Some(response) = tasks.join_next().await {
            let response = response.unwrap();
            assert_eq!(response.status, 200);
            assert_eq!(response.body.len(), 100_000);
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish_and_refuses_new_ones() {
    bounded(async {
        let data = content(32 * 1024 * 1024);
        let expected = data.clone();
        let mut server = Server::start(
            move |root| std::fs::write(root.join("big.bin"), &data).unwrap(),
            |c| c.grace_period(Duration::from_secs(10)),
        )
        .await;
        let addr = server.addr;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(&get("/big.bin")).await.unwrap();
        // Read a little, so the response is in flight, then start shutdown.
        let mut first = vec![0u8; 1024];
        stream.read_exact(&mut first).await.unwrap();
        server.begin_stop();
        tokio::time::sleep(Duration::from_millis(200)).await;

        // New connections are refused once the listener is closed.
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "listener still open"
        );

        // The response in flight completes in full.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).await.unwrap();
        first.extend_from_slice(&rest);
        let body_at = crate::harness::find(&first, b"\r\n\r\n").unwrap() + 4;
        assert_eq!(first.len() - body_at, expected.len());
        assert!(first[body_at..] == expected[..]);
        server.join().await;
    })
    .await;
}

#[tokio::test]
async fn grace_period_bounds_shutdown_when_a_client_stops_reading() {
    bounded(async {
        let data = content(32 * 1024 * 1024);
        let server = Server::start(
            move |root| std::fs::write(root.join("big.bin"), &data).unwrap(),
            |c| c.grace_period(Duration::from_millis(300)),
        )
        .await;
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream.write_all(&get("/big.bin")).await.unwrap();
        let mut first = [0u8; 1024];
        stream.read_exact(&mut first).await.unwrap();
        // Never read again: the response cannot finish. Shutdown must still end promptly.
        let took = server.stop().await;
        assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
        drop(stream);
    })
    .await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_after_the_idle_timeout() {
    bounded(async {
        let data = content(32 * 1024 * 1024);
        let server = Server::start(
            move |root| std::fs::write(root.join("big.bin"), &data).unwrap(),
            |c| {
                c.max_connections(1)
                    .idle_timeout(Duration::from_millis(300))
            },
        )
        .await;
        // Takes the only connection slot, asks for 32 MiB and never reads.
        let mut stalled = TcpStream::connect(server.addr).await.unwrap();
        stalled.write_all(&get("/big.bin")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;

        // The slot comes back once the stalled connection is dropped.
        let started = Instant::now();
        let response = raw(server.addr, &get("/big.bin")).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.body.len(), 32 * 1024 * 1024);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        drop(stalled);
        server.stop().await;
    })
    .await;
}

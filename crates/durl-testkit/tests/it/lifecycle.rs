//! Starting, sharing and stopping the server.

use std::net::TcpStream;
use std::time::Duration;

use durl_testkit::{FaultServer, Resource};

use crate::client::get;

#[test]
fn drop_stops_the_server() {
    let server = FaultServer::start();
    server.put("/f", Resource::bytes("x"));
    let addr = server.addr();
    assert_eq!(get(addr, "/f", &[]).1, b"x");
    drop(server);
    let err =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect_err("server stopped");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn drop_with_open_and_stalled_connections_is_prompt() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(1, 1 << 20));
    server.push_fault(
        "/f",
        durl_testkit::Fault::StallAfter(10, Duration::from_secs(60)),
    );
    let mut conn = crate::client::Conn::connect(server.addr());
    conn.send("GET", "/f", &[]);
    let _ = conn.read_head();
    assert!(server.wait_until_body_bytes("/f", 10, Duration::from_secs(5)));
    let start = std::time::Instant::now();
    drop(server);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn url_and_addr() {
    let server = FaultServer::start();
    assert!(server.addr().ip().is_loopback());
    assert_eq!(
        server.url("/a/b"),
        format!("http://127.0.0.1:{}/a/b", server.addr().port())
    );
    assert_eq!(server.ca_cert_pem(), None);
    assert!(!server.wait_until_body_bytes("/a", 1, Duration::from_millis(20)));
}

#[tokio::test]
async fn works_inside_a_tokio_runtime() {
    let server = FaultServer::start();
    server.put("/f", Resource::bytes("async"));
    let addr = server.addr();
    let body = tokio::task::spawn_blocking(move || get(addr, "/f", &[]).1)
        .await
        .unwrap();
    assert_eq!(body, b"async");
    drop(server);
}

#[test]
fn server_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FaultServer>();
    let server = std::sync::Arc::new(FaultServer::start());
    server.put("/f", Resource::bytes("shared"));
    let other = std::sync::Arc::clone(&server);
    let body = std::thread::spawn(move || get(other.addr(), "/f", &[]).1)
        .join()
        .unwrap();
    assert_eq!(body, b"shared");
}

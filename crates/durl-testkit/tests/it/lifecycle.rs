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

#[test]
fn the_ftp_server_greets_refuses_unknown_commands_and_stops_on_drop() {
    use std::io::{BufRead, BufReader, Write};
    let server = durl_testkit::FtpServer::start();
    let addr = server.addr();
    assert!(server.url("/a/b").ends_with(&format!("{addr}/a/b")));
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = BufReader::new(tcp.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("220 "), "{line:?}");
    let mut ask = |command: &str| {
        (&tcp)
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line
    };
    assert!(ask("SIZE f").starts_with("530 "), "not logged in");
    assert!(ask("USER anonymous").starts_with("331 "));
    assert!(ask("PASS x@").starts_with("230 "));
    assert!(ask("SIZE f").starts_with("550 "), "no such file");
    server.put("f", "hello");
    assert_eq!(ask("SIZE f"), "213 5\r\n");
    assert!(ask("SITE CHMOD 777 f").starts_with("502 "));
    assert_eq!(server.commands()[2], "PASS ***");
    drop(server);
    let err =
        TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect_err("server stopped");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
}

//! HEAD mirrors GET (RFC 9110 §9.3.2); other methods get 405 with Allow (§15.5.6).

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::harness::{RawReader, Server, bounded, content, raw};

/// Header fields that must be identical between GET and HEAD. (Date may tick; a multipart
/// boundary is random per response, so Content-Type is compared without it.)
const SAME: &[&str] = &[
    "content-length",
    "content-range",
    "accept-ranges",
    "etag",
    "last-modified",
];

#[tokio::test]
async fn head_has_the_same_fields_as_get_and_no_body() {
    bounded(async {
        let data = content(300_000);
        let server = Server::with_files(&[("d.bin", &data), ("t.txt", b"hello")]).await;
        for (path, range) in [
            ("/d.bin", None),
            ("/d.bin", Some("bytes=10-99")),
            ("/d.bin", Some("bytes=0-9,200000-")),
            ("/d.bin", Some("bytes=-0")),
            ("/t.txt", None),
            ("/", None),
        ] {
            let range_field = range.map(|r| format!("Range: {r}\r\n")).unwrap_or_default();
            // GET and HEAD on one keep-alive connection: if HEAD leaked a body, the GET's
            // response would not parse.
            let mut stream = TcpStream::connect(server.addr).await.unwrap();
            let requests = format!(
                "HEAD {path} HTTP/1.1\r\nHost: x\r\n{range_field}\r\n\
                 GET {path} HTTP/1.1\r\nHost: x\r\n{range_field}Connection: close\r\n\r\n"
            );
            stream.write_all(requests.as_bytes()).await.unwrap();
            let mut reader = RawReader::new(stream);
            let head = reader.response(true).await.unwrap();
            let get = reader.response(false).await.unwrap();
            assert_eq!(head.status, get.status, "{path} {range:?}");
            for name in SAME {
                assert_eq!(
                    head.header(name),
                    get.header(name),
                    "{name} for {path} {range:?}"
                );
            }
            let ct = |r: &crate::harness::RawResponse| {
                r.header("content-type")
                    .map(|v| v.split(';').next().unwrap().to_owned())
            };
            assert_eq!(ct(&head), ct(&get), "{path} {range:?}");
            assert!(
                reader
                    .closed_within(std::time::Duration::from_secs(5))
                    .await
            );
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    bounded(async {
        let server = Server::with_files(&[("t.txt", b"hello")]).await;
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "BREW"] {
            let request = format!(
                "{method} /t.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let response = raw(server.addr, request.as_bytes()).await;
            assert_eq!(response.status, 405, "{method}");
            assert_eq!(response.header("allow"), Some("GET, HEAD"), "{method}");
        }
        // The file is untouched and still served.
        let response = raw(server.addr, &crate::harness::get("/t.txt")).await;
        assert_eq!(response.body, b"hello");
        server.stop().await;
    })
    .await;
}

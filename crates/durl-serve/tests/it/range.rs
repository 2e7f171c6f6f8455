//! Range requests over real sockets (RFC 9110 §14, §15.3.7, §15.5.17).

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, RANGE};

use crate::harness::{Server, bounded, client, content};

const TEXT: &[u8] = b"0123456789abcdefgh"; // 18 bytes, the dufs edge cases' length

async fn get_range(server: &Server, path: &str, range: &str) -> reqwest::Response {
    client()
        .get(server.url(path))
        .header(RANGE, range)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn full_get_carries_validators_type_and_length() {
    bounded(async {
        let server = Server::with_files(&[("t.txt", TEXT)]).await;
        let response = client().get(server.url("/t.txt")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let h = response.headers();
        assert_eq!(h[ACCEPT_RANGES], "bytes");
        assert_eq!(h[CONTENT_LENGTH], "18");
        assert_eq!(h[CONTENT_TYPE], "text/plain");
        let etag = h[ETAG].to_str().unwrap();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "strong ETag: {etag}"
        );
        assert!(h.contains_key("last-modified"));
        assert_eq!(response.bytes().await.unwrap(), TEXT);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn range_table_over_sockets() {
    bounded(async {
        let server = Server::with_files(&[("t.bin", TEXT)]).await;
        // (Range value, status, Content-Range, body)
        #[rustfmt::skip]
        let cases: &[(&str, u16, Option<&str>, &[u8])] = &[
            ("bytes=2-5", 206, Some("bytes 2-5/18"), b"2345"),
            ("bytes=0-0", 206, Some("bytes 0-0/18"), b"0"),
            ("bytes=12-20", 206, Some("bytes 12-17/18"), b"cdefgh"),       // §14.1.2 clamp
            ("bytes=12-", 206, Some("bytes 12-17/18"), b"cdefgh"),
            ("bytes=-3", 206, Some("bytes 15-17/18"), b"fgh"),
            ("bytes=-30", 206, Some("bytes 0-17/18"), TEXT),               // §14.1.2 whole file
            ("bytes=-0", 416, Some("bytes */18"), b""),                    // §14.1.1
            ("bytes=18-", 416, Some("bytes */18"), b""),
            ("bytes=99999999999999999999999-", 416, Some("bytes */18"), b""),
            ("bytes=0-99999999999999999999999", 206, Some("bytes 0-17/18"), TEXT),
            ("bytes=-99999999999999999999999", 206, Some("bytes 0-17/18"), TEXT),
            ("bytes=18446744073709551615-18446744073709551615", 416, Some("bytes */18"), b""),
            ("bytes=5-2", 200, None, TEXT),                                 // invalid → ignore
            ("items=0-1", 200, None, TEXT),                                 // unknown unit
            ("bytes=abc", 200, None, TEXT),
            ("bytes=", 200, None, TEXT),
            ("bytes=20-30,0-1", 206, Some("bytes 0-1/18"), b"01"),          // member dropped
            ("BYTES=1-1", 206, Some("bytes 1-1/18"), b"1"),
        ];
        for (range, status, content_range, body) in cases {
            let response = get_range(&server, "/t.bin", range).await;
            assert_eq!(response.status().as_u16(), *status, "{range}");
            assert_eq!(
                response
                    .headers()
                    .get(CONTENT_RANGE)
                    .map(|v| v.to_str().unwrap()),
                *content_range,
                "{range}"
            );
            assert_eq!(
                response.headers()[CONTENT_LENGTH],
                body.len().to_string().as_str(),
                "{range}"
            );
            assert_eq!(response.bytes().await.unwrap(), body, "{range}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn two_range_fields_are_ignored() {
    bounded(async {
        let server = Server::with_files(&[("t.bin", TEXT)]).await;
        let response = client()
            .get(server.url("/t.bin"))
            .header(RANGE, "bytes=0-1")
            .header(RANGE, "bytes=2-3")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.bytes().await.unwrap(), TEXT);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn empty_file_is_200_and_ranges_on_it_416() {
    bounded(async {
        let server = Server::with_files(&[("empty", b"")]).await;
        let response = client().get(server.url("/empty")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_LENGTH], "0");
        assert!(response.bytes().await.unwrap().is_empty());

        let response = get_range(&server, "/empty", "bytes=0-").await;
        assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(response.headers()[CONTENT_RANGE], "bytes */0");

        // A non-zero suffix selects the whole (empty) representation: 200 (§14.1.1).
        let response = get_range(&server, "/empty", "bytes=-5").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.bytes().await.unwrap().is_empty());
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn large_file_whole_and_ranges_across_chunks() {
    bounded(async {
        let data = content(3 * 1024 * 1024 + 123);
        let server = Server::with_files(&[("big.bin", &data)]).await;
        let whole = client().get(server.url("/big.bin")).send().await.unwrap();
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(whole.bytes().await.unwrap(), data.as_slice());

        for (start, end) in [(0, 1_048_575), (131_000, 1_179_999), (3_145_000, 3_145_850)] {
            let response = get_range(&server, "/big.bin", &format!("bytes={start}-{end}")).await;
            assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(
                response.headers()[CONTENT_RANGE],
                format!("bytes {start}-{end}/{}", data.len()).as_str()
            );
            assert_eq!(response.bytes().await.unwrap(), &data[start..=end]);
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn fifty_concurrent_range_requests() {
    bounded(async {
        let data = content(2 * 1024 * 1024);
        let server = Server::with_files(&[("big.bin", &data)]).await;
        let client = client();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50usize {
            let url = server.url("/big.bin");
            let client = client.clone();
            let start = i * 40_000;
            let end = start + 65_536 + i * 1000;
            tasks.spawn(async move {
                let response = client
                    .get(url)
                    .header(RANGE, format!("bytes={start}-{end}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
                (start, end, response.bytes().await.unwrap())
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (start, end, body) = done.unwrap();
            assert_eq!(body, &data[start..=end], "range {start}-{end}");
        }
        server.stop().await;
    })
    .await;
}

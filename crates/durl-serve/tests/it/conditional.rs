//! Preconditions over real sockets (RFC 9110 §13).

use std::fs::File;
use std::time::{Duration, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_RANGE, ETAG, HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE, LAST_MODIFIED, RANGE,
};

use crate::harness::{Server, bounded, client};

const TEXT: &[u8] = b"0123456789abcdefgh";
/// A fixed mtime in the past, so Last-Modified is known exactly.
const MTIME: u64 = 1_700_000_000;
const LM: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

fn set_mtime(path: &std::path::Path, secs: u64, nanos: u32) {
    let file = File::options().write(true).open(path).unwrap();
    file.set_modified(UNIX_EPOCH + Duration::new(secs, nanos))
        .unwrap();
}

async fn server() -> Server {
    Server::start(
        |root| {
            std::fs::write(root.join("f.txt"), TEXT).unwrap();
            set_mtime(&root.join("f.txt"), MTIME, 123_456_789);
        },
        |c| c,
    )
    .await
}

async fn etag(server: &Server) -> String {
    let response = client().head(server.url("/f.txt")).send().await.unwrap();
    assert_eq!(response.headers()[LAST_MODIFIED], LM);
    response.headers()[ETAG].to_str().unwrap().to_owned()
}

/// (request header fields, expected status, expected body).
type Case<'a> = (Vec<(HeaderName, &'a str)>, u16, &'static [u8]);

#[tokio::test]
async fn precondition_table() {
    bounded(async {
        let server = server().await;
        let tag = etag(&server).await;
        let weak = format!("W/{tag}");
        let before = "Tue, 14 Nov 2023 22:13:19 GMT";
        let after = "Tue, 14 Nov 2023 22:13:21 GMT";
        // (header fields, status, body)
        #[rustfmt::skip]
        let cases: Vec<Case<'_>> = vec![
            (vec![(IF_MATCH, tag.as_str())], 200, TEXT),
            (vec![(IF_MATCH, "\"other\"")], 412, b""),
            (vec![(IF_MATCH, weak.as_str())], 412, b""),                    // strong comparison
            (vec![(IF_MATCH, "*")], 200, TEXT),
            (vec![(IF_UNMODIFIED_SINCE, before)], 412, b""),
            (vec![(IF_UNMODIFIED_SINCE, LM)], 200, TEXT),
            (vec![(IF_NONE_MATCH, tag.as_str())], 304, b""),
            (vec![(IF_NONE_MATCH, weak.as_str())], 304, b""),              // weak comparison
            (vec![(IF_NONE_MATCH, "\"a\", \"b\"")], 200, TEXT),
            (vec![(IF_NONE_MATCH, "*")], 304, b""),
            (vec![(IF_MODIFIED_SINCE, LM)], 304, b""),
            (vec![(IF_MODIFIED_SINCE, after)], 304, b""),
            (vec![(IF_MODIFIED_SINCE, before)], 200, TEXT),
            (vec![(IF_MODIFIED_SINCE, "garbage")], 200, TEXT),
            (vec![(IF_NONE_MATCH, "\"other\""), (IF_MODIFIED_SINCE, after)], 200, TEXT), // INM wins
            (vec![(IF_MATCH, "\"other\""), (IF_NONE_MATCH, tag.as_str())], 412, b""),   // order
            (vec![(RANGE, "bytes=0-3"), (IF_RANGE, tag.as_str())], 206, b"0123"),
            (vec![(RANGE, "bytes=0-3"), (IF_RANGE, "\"other\"")], 200, TEXT),
            (vec![(RANGE, "bytes=0-3"), (IF_RANGE, weak.as_str())], 200, TEXT),
            (vec![(RANGE, "bytes=0-3"), (IF_RANGE, LM)], 206, b"0123"),
            (vec![(RANGE, "bytes=0-3"), (IF_RANGE, after)], 200, TEXT),
            (vec![(RANGE, "bytes=0-3"), (IF_RANGE, "nonsense")], 200, TEXT),
        ];
        for (fields, status, body) in &cases {
            let mut request = client().get(server.url("/f.txt"));
            for (name, value) in fields {
                request = request.header(name.clone(), *value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), *status, "{fields:?}");
            if *status == 304 {
                // RFC 9110 §15.4.5: the validators a 200 would carry.
                assert_eq!(response.headers()[ETAG], tag.as_str());
                assert_eq!(response.headers()[LAST_MODIFIED], LM);
            }
            assert_eq!(response.bytes().await.unwrap(), *body, "{fields:?}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn rewritten_file_gets_a_new_etag_and_if_range_sends_it_whole() {
    bounded(async {
        let server = server().await;
        let old = etag(&server).await;
        // Same length, same second, different nanoseconds: only a strong ETag tells.
        let path = server.root.join("f.txt");
        std::fs::write(&path, b"ABCDEFGHIJKLMNOPQR").unwrap();
        set_mtime(&path, MTIME, 987_654_321);
        let new = client().head(server.url("/f.txt")).send().await.unwrap();
        let new_tag = new.headers()[ETAG].to_str().unwrap().to_owned();
        assert_ne!(old, new_tag);

        let response = client()
            .get(server.url("/f.txt"))
            .header(RANGE, "bytes=9-")
            .header(IF_RANGE, old.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "stale If-Range → whole body"
        );
        assert!(response.headers().get(CONTENT_RANGE).is_none());
        assert_eq!(response.bytes().await.unwrap(), &b"ABCDEFGHIJKLMNOPQR"[..]);

        let response = client()
            .get(server.url("/f.txt"))
            .header(RANGE, "bytes=9-")
            .header(IF_RANGE, new_tag.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.bytes().await.unwrap(), &b"JKLMNOPQR"[..]);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn replaced_file_gets_a_new_etag_even_with_same_len_and_mtime() {
    bounded(async {
        let server = server().await;
        let old = etag(&server).await;
        // Rename a new file over the old one with identical length and mtime: the inode differs.
        let tmp = server.root.join("f.tmp");
        std::fs::write(&tmp, b"ABCDEFGHIJKLMNOPQR").unwrap();
        set_mtime(&tmp, MTIME, 123_456_789);
        std::fs::rename(&tmp, server.root.join("f.txt")).unwrap();
        assert_ne!(old, etag(&server).await);
        server.stop().await;
    })
    .await;
}

//! multipart/byteranges (RFC 9110 §14.6, §15.3.7.2) and range abuse (§17.15).

use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};

use crate::harness::{Server, bounded, client, content, find};

/// One parsed part: its Content-Type, Content-Range and content.
#[derive(Debug)]
struct Part {
    content_type: String,
    content_range: String,
    data: Vec<u8>,
}

/// Parses a multipart/byteranges body strictly: delimiters, part fields, CRLFs, close
/// delimiter, nothing after it.
fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let delimiter = format!("--{boundary}");
    let mut rest = body
        .strip_prefix(delimiter.as_bytes())
        .expect("body starts with the first delimiter");
    let mut parts = Vec::new();
    loop {
        if rest == b"--\r\n" {
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after delimiter");
        let head_end = find(rest, b"\r\n\r\n").expect("part head");
        let head = std::str::from_utf8(&rest[..head_end]).unwrap();
        let mut content_type = String::new();
        let mut content_range = String::new();
        for line in head.split("\r\n") {
            let (name, value) = line.split_once(": ").unwrap();
            match name.to_ascii_lowercase().as_str() {
                "content-type" => content_type = value.to_owned(),
                "content-range" => content_range = value.to_owned(),
                other => panic!("unexpected part field {other}"),
            }
        }
        rest = &rest[head_end + 4..];
        // The part's length comes from its Content-Range, not from searching for the
        // delimiter, so content that contains anything at all parses.
        let (first, last) = content_range
            .strip_prefix("bytes ")
            .and_then(|r| r.split_once('/'))
            .and_then(|(r, _)| r.split_once('-'))
            .unwrap();
        let len = last.parse::<usize>().unwrap() - first.parse::<usize>().unwrap() + 1;
        parts.push(Part {
            content_type,
            content_range,
            data: rest[..len].to_vec(),
        });
        rest = rest[len..]
            .strip_prefix(b"\r\n")
            .and_then(|r| r.strip_prefix(delimiter.as_bytes()))
            .expect("CRLF and delimiter after part content");
    }
}

async fn multipart(server: &Server, path: &str, range: &str) -> (String, Vec<Part>, usize) {
    let response = client()
        .get(server.url(path))
        .header(RANGE, range)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
    assert!(response.headers().get(CONTENT_RANGE).is_none());
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .expect("multipart content type")
        .to_owned();
    let length: usize = response.headers()[CONTENT_LENGTH]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), length, "Content-Length is exact");
    (content_type, parse_multipart(&body, &boundary), length)
}

#[tokio::test]
async fn two_ranges_make_a_multipart_body_in_request_order() {
    bounded(async {
        let text: Vec<u8> = b"0123456789abcdefgh".repeat(20); // 360 bytes
        let server = Server::with_files(&[("t.txt", &text)]).await;
        // Ranges less than 80 bytes apart would be coalesced (§14.2); these are 200 apart.
        let (_, parts, _) = multipart(&server, "/t.txt", "bytes=300-302,0-1").await;
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_range, "bytes 300-302/360");
        assert_eq!(parts[0].data, &text[300..303]);
        assert_eq!(parts[0].content_type, "text/plain");
        assert_eq!(parts[1].content_range, "bytes 0-1/360");
        assert_eq!(parts[1].data, b"01");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unsatisfiable_members_dropped_and_overlaps_coalesced() {
    bounded(async {
        let data = content(10_000);
        let server = Server::with_files(&[("d.bin", &data)]).await;
        // 20000- is dropped; 0-99 and 50-149 overlap; 5000-5099 stays apart.
        let (_, parts, _) =
            multipart(&server, "/d.bin", "bytes=20000-,0-99,5000-5099,50-149").await;
        let ranges: Vec<&str> = parts.iter().map(|p| p.content_range.as_str()).collect();
        assert_eq!(ranges, ["bytes 0-149/10000", "bytes 5000-5099/10000"]);
        assert_eq!(parts[0].data, &data[0..150]);
        assert_eq!(parts[1].data, &data[5000..5100]);

        // Everything overlapping collapses to one part: a plain 206 with Content-Range.
        let response = client()
            .get(server.url("/d.bin"))
            .header(RANGE, "bytes=0-99,10-20,99-199")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.headers()[CONTENT_RANGE], "bytes 0-199/10000");
        assert_eq!(response.bytes().await.unwrap(), &data[..200]);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn multipart_parts_stream_from_a_large_file() {
    bounded(async {
        let data = content(5 * 1024 * 1024);
        let server = Server::with_files(&[("big.bin", &data)]).await;
        let spans = [
            (100, 1_500_000),
            (2_000_000, 4_999_999),
            (5_242_000, 5_242_879),
        ];
        let range = spans
            .iter()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect::<Vec<_>>()
            .join(",");
        let (ct, parts, length) = multipart(&server, "/big.bin", &format!("bytes={range}")).await;
        assert!(ct.starts_with("multipart/byteranges; boundary="));
        assert_eq!(parts.len(), 3);
        for (part, (a, b)) in parts.iter().zip(spans) {
            assert_eq!(part.content_type, "application/octet-stream");
            assert_eq!(part.content_range, format!("bytes {a}-{b}/{}", data.len()));
            assert_eq!(part.data, &data[a..=b]);
        }
        let payload: usize = spans.iter().map(|(a, b)| b - a + 1).sum();
        assert!(length < payload + 500, "overhead stays small");
        server.stop().await;
    })
    .await;
}

/// RFC 9110 §17.15: no Range value makes the server send much more than the file.
#[tokio::test]
async fn abusive_range_lists_cost_at_most_the_file() {
    bounded(async {
        let data = content(100_000);
        let server = Server::with_files(&[("d.bin", &data)]).await;
        let cases = [
            // 1000 tiny ranges: more specs than we parse → whole file, 200.
            (0..1000)
                .map(|i| format!("{}-{}", i * 2, i * 2))
                .collect::<Vec<_>>(),
            // 100 scattered ranges: more parts than allowed → whole file, 200.
            (0..100)
                .map(|i| format!("{}-{}", i * 1000, i * 1000))
                .collect(),
            // 200 copies of the whole file: coalesced into one.
            vec!["0-".to_owned(); 200],
            // Many overlapping ranges.
            (0..200).map(|i| format!("{}-{}", i, 50_000 + i)).collect(),
        ];
        for specs in cases {
            let range = format!("bytes={}", specs.join(","));
            let response = client()
                .get(server.url("/d.bin"))
                .header(RANGE, &range)
                .send()
                .await
                .unwrap();
            let status = response.status();
            assert!(status == StatusCode::OK || status == StatusCode::PARTIAL_CONTENT);
            let body = response.bytes().await.unwrap();
            assert!(
                body.len() <= data.len() + 4096,
                "{} bytes sent for a {}-byte file ({} specs)",
                body.len(),
                data.len(),
                specs.len()
            );
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_file_containing_a_delimiter_like_line_still_parses() {
    bounded(async {
        // Content that looks like a multipart delimiter cannot break the framing: the boundary
        // is random per response.
        let line: &[u8] =
            b"\r\n--durl-00000000000000000000000000000000\r\nContent-Range: bytes 0-0/1\r\n\r\n";
        let data = line.repeat(10);
        let server = Server::with_files(&[("evil.bin", &data)]).await;
        let (_, parts, _) = multipart(&server, "/evil.bin", "bytes=0-99,300-399").await;
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].data, &data[0..100]);
        assert_eq!(parts[1].data, &data[300..400]);
        server.stop().await;
    })
    .await;
}

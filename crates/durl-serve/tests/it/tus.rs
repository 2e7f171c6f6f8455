//! tus 1.0.0 uploads at `/.durl/uploads/` over real sockets: OPTIONS, creation (with upload,
//! deferred length), HEAD, PATCH, DELETE, every refusal's status code, the final name's
//! sanitising and no-overwrite rule. Cut PATCHes, the lock, limits, expiry: `tus_limits.rs`.
//!
//! Section names in comments are those of the tus 1.0.0 specification.

use std::path::{Path, PathBuf};

use base64::Engine;
use durl_serve::Config;
use reqwest::{Method, Response, StatusCode};
use sha2::Digest;
use tokio::net::TcpListener;

use crate::harness::{Server, bounded, client, content};

pub(crate) const COLLECTION: &str = "/.durl/uploads/";

pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A server with uploads on and `configure` applied.
pub(crate) async fn upload_server(configure: impl FnOnce(Config) -> Config) -> Server {
    Server::start(|_| {}, |c| configure(c.uploads(true))).await
}

pub(crate) fn upload_dir(server: &Server) -> PathBuf {
    server.base().join("www/.durl-uploads")
}

/// Files in `dir`, sorted.
pub(crate) fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

pub(crate) fn field<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

/// `request` with `Tus-Resumable: 1.0.0`.
pub(crate) fn tus(method: Method, url: String) -> reqwest::RequestBuilder {
    client()
        .request(method, url)
        .header("tus-resumable", "1.0.0")
}

/// POST with `Upload-Length` and a `filename`; the upload's path (from Location).
pub(crate) async fn create(server: &Server, length: u64, name: &str) -> String {
    let r = tus(Method::POST, server.url(COLLECTION))
        .header("upload-length", length.to_string())
        .header(
            "upload-metadata",
            format!("filename {}", b64(name.as_bytes())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = field(&r, "location").unwrap().to_owned();
    assert!(location.starts_with(COLLECTION), "{location}");
    location
}

pub(crate) async fn patch(server: &Server, path: &str, offset: u64, data: &[u8]) -> Response {
    tus(Method::PATCH, server.url(path))
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .body(data.to_vec())
        .send()
        .await
        .unwrap()
}

pub(crate) async fn head(server: &Server, path: &str) -> Response {
    tus(Method::HEAD, server.url(path)).send().await.unwrap()
}

pub(crate) async fn offset(server: &Server, path: &str) -> u64 {
    let r = head(server, path).await;
    assert_eq!(r.status(), StatusCode::OK);
    field(&r, "upload-offset").unwrap().parse().unwrap()
}

#[tokio::test]
async fn options_advertises_version_extensions_and_checksums() {
    bounded(async {
        let server = upload_server(|c| c.max_upload_size(1 << 20)).await;
        // Core Protocol › OPTIONS: no Tus-Resumable needed.
        for path in [COLLECTION, "/.durl/uploads"] {
            let r = client()
                .request(Method::OPTIONS, server.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::NO_CONTENT);
            assert_eq!(field(&r, "tus-version"), Some("1.0.0"));
            assert_eq!(field(&r, "tus-resumable"), Some("1.0.0"));
            assert_eq!(field(&r, "tus-max-size"), Some("1048576"));
            assert_eq!(
                field(&r, "tus-checksum-algorithm"),
                Some("sha1,sha256,crc32c")
            );
            let extensions: Vec<&str> = field(&r, "tus-extension").unwrap().split(',').collect();
            for ext in [
                "creation",
                "creation-with-upload",
                "creation-defer-length",
                "termination",
                "expiration",
                "checksum",
            ] {
                assert!(extensions.contains(&ext), "{ext} in {extensions:?}");
            }
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_upload_in_chunks_gets_its_name_in_the_served_directory() {
    bounded(async {
        let server = upload_server(|c| c).await;
        let data = content(300_000);
        let path = create(&server, data.len() as u64, "report.pdf").await;

        let r = head(&server, &path).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(field(&r, "upload-offset"), Some("0"));
        assert_eq!(field(&r, "upload-length"), Some("300000"));
        assert_eq!(field(&r, "cache-control"), Some("no-store"));
        assert_eq!(field(&r, "tus-resumable"), Some("1.0.0"));
        assert_eq!(
            field(&r, "upload-metadata"),
            Some(format!("filename {}", b64(b"report.pdf")).as_str())
        );
        assert!(httpdate::parse_http_date(field(&r, "upload-expires").unwrap()).is_ok());

        let r = patch(&server, &path, 0, &data[..100_000]).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(field(&r, "upload-offset"), Some("100000"));
        assert!(field(&r, "upload-expires").is_some());
        assert_eq!(offset(&server, &path).await, 100_000);
        // Unfinished uploads are never in the served tree.
        assert!(!server.root.join("report.pdf").exists());
        assert_eq!(listing(&server.root), vec![".durl-uploads".to_owned()]);

        let r = patch(&server, &path, 100_000, &data[100_000..]).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(field(&r, "upload-offset"), Some("300000"));
        assert_eq!(std::fs::read(server.root.join("report.pdf")).unwrap(), data);
        // HEAD still answers for a finished upload (Core Protocol › HEAD).
        assert_eq!(offset(&server, &path).await, 300_000);
        // The file is served like any other; the upload URL is not a file.
        let r = client()
            .get(server.url("/report.pdf"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.bytes().await.unwrap(), data);
        let r = client().get(server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
        let r = tus(Method::GET, server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_missing_or_wrong_tus_resumable_is_412_and_changes_nothing() {
    bounded(async {
        let server = upload_server(|c| c).await;
        let path = create(&server, 10, "a.txt").await;
        for version in [None, Some("0.2.2"), Some("1.0")] {
            let with = |b: reqwest::RequestBuilder| match version {
                Some(v) => b.header("tus-resumable", v),
                None => b,
            };
            let requests = [
                with(client().post(server.url(COLLECTION))).header("upload-length", "5"),
                with(client().head(server.url(&path))),
                with(client().patch(server.url(&path)))
                    .header("content-type", "application/offset+octet-stream")
                    .header("upload-offset", "0")
                    .body("hello"),
                with(client().delete(server.url(&path))),
            ];
            for request in requests {
                let r = request.send().await.unwrap();
                assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED, "{version:?}");
                assert_eq!(field(&r, "tus-version"), Some("1.0.0"));
            }
        }
        assert_eq!(offset(&server, &path).await, 0);
        // One upload only: the refused POSTs created nothing.
        assert_eq!(listing(&upload_dir(&server)).len(), 2);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_wrong_offset_is_409_and_a_wrong_content_type_415() {
    bounded(async {
        let server = upload_server(|c| c).await;
        let path = create(&server, 10, "a.txt").await;
        assert_eq!(
            patch(&server, &path, 0, b"hello").await.status(),
            StatusCode::NO_CONTENT
        );
        // Core Protocol › PATCH: 409 "without modifying the upload resource".
        for wrong in [0, 4, 6, 10] {
            let r = patch(&server, &path, wrong, b"world").await;
            assert_eq!(r.status(), StatusCode::CONFLICT, "offset {wrong}");
        }
        assert_eq!(offset(&server, &path).await, 5);
        let r = tus(Method::PATCH, server.url(&path))
            .header("content-type", "application/octet-stream")
            .header("upload-offset", "5")
            .body("world")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let r = tus(Method::PATCH, server.url(&path))
            .header("content-type", "application/offset+octet-stream")
            .body("world")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no Upload-Offset");
        // Past the length: 413, nothing kept.
        let r = patch(&server, &path, 5, b"world!").await;
        assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(offset(&server, &path).await, 5);
        assert_eq!(
            patch(&server, &path, 5, b"world").await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            std::fs::read(server.root.join("a.txt")).unwrap(),
            b"helloworld"
        );
        // Unknown ids are 404; malformed ones too.
        let missing = format!("{COLLECTION}{}", "0".repeat(32));
        assert_eq!(
            head(&server, &missing).await.status(),
            StatusCode::NOT_FOUND
        );
        for bad in [
            "/.durl/uploads/not-an-id",
            "/.durl/uploads/%2e%2e%2fetc",
            "/.durl/uploads/a/b",
        ] {
            let r = patch(&server, bad, 0, b"x").await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn checksums_are_verified_and_a_mismatch_is_460_keeping_nothing() {
    bounded(async {
        let server = upload_server(|c| c).await;
        let path = create(&server, 33, "c.txt").await;
        let send = |offset: u64, body: &'static [u8], checksum: String| {
            tus(Method::PATCH, server.url(&path))
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", offset.to_string())
                .header("upload-checksum", checksum)
                .body(body)
                .send()
        };
        let sha1 = |d: &[u8]| format!("sha1 {}", b64(&sha1::Sha1::digest(d)));
        let sha256 = |d: &[u8]| format!("sha256 {}", b64(&sha2::Sha256::digest(d)));

        // Checksum: the spec's own example, then a mismatch.
        let r = send(
            0,
            b"hello world",
            "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=".into(),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(field(&r, "upload-offset"), Some("11"));
        let r = send(11, b"HELLO WORLD", sha1(b"hello world"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 460);
        assert_eq!(offset(&server, &path).await, 11, "the chunk is discarded");
        let r = send(11, b"HELLO WORLD", sha256(b"hello world"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 460);
        // Unsupported algorithm: 400, chunk discarded.
        let r = send(11, b"HELLO WORLD", "md5 XrY7u+Ae7tCTyyK7j1rNww==".into())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(offset(&server, &path).await, 11);
        let r = send(11, b"HELLO WORLD", sha256(b"HELLO WORLD"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        // crc32c (CRC-32C, big-endian in base64): "hello world" is c99465aa.
        let r = send(22, b"HELLO WORLD", "crc32c yZRlqg==".into())
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 460);
        assert_eq!(offset(&server, &path).await, 22, "the chunk is discarded");
        let r = send(22, b"hello world", "crc32c yZRlqg==".into())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            std::fs::read(server.root.join("c.txt")).unwrap(),
            b"hello worldHELLO WORLDhello world"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn delete_terminates_and_the_url_is_gone() {
    bounded(async {
        let server = upload_server(|c| c).await;
        let path = create(&server, 10, "d.txt").await;
        assert_eq!(
            patch(&server, &path, 0, b"abc").await.status(),
            StatusCode::NO_CONTENT
        );
        let r = tus(Method::DELETE, server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(field(&r, "tus-resumable"), Some("1.0.0"));
        // Termination: "SHOULD respond with the 404 Not Found or 410 Gone status".
        assert_eq!(head(&server, &path).await.status(), StatusCode::GONE);
        let r = patch(&server, &path, 3, b"def").await;
        assert_eq!(r.status(), StatusCode::GONE);
        let r = tus(Method::DELETE, server.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::GONE);
        assert_eq!(listing(&upload_dir(&server)), Vec::<String>::new());
        assert!(!server.root.join("d.txt").exists());
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn creation_with_upload_deferred_lengths_and_empty_files() {
    bounded(async {
        let server = upload_server(|c| c).await;
        // Creation With Upload: the POST body is the first chunk.
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-length", "11")
            .header("upload-metadata", format!("filename {}", b64(b"w.txt")))
            .header("content-type", "application/offset+octet-stream")
            .body("hello")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(field(&r, "upload-offset"), Some("5"));
        assert!(field(&r, "upload-expires").is_some());
        let path = field(&r, "location").unwrap().to_owned();
        assert_eq!(
            patch(&server, &path, 5, b" world").await.status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            std::fs::read(server.root.join("w.txt")).unwrap(),
            b"hello world"
        );

        // Upload-Defer-Length: HEAD says so until a PATCH gives the length.
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-defer-length", "1")
            .header("upload-metadata", format!("filename {}", b64(b"later.bin")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let path = field(&r, "location").unwrap().to_owned();
        let r = head(&server, &path).await;
        assert_eq!(field(&r, "upload-defer-length"), Some("1"));
        assert_eq!(field(&r, "upload-length"), None);
        assert_eq!(
            patch(&server, &path, 0, b"abc").await.status(),
            StatusCode::NO_CONTENT
        );
        let r = tus(Method::PATCH, server.url(&path))
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "3")
            .header("upload-length", "6")
            .body("def")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(
            std::fs::read(server.root.join("later.bin")).unwrap(),
            b"abcdef"
        );
        assert_eq!(
            field(&head(&server, &path).await, "upload-length"),
            Some("6")
        );

        // Upload-Length: 0 is complete at once.
        let path = create(&server, 0, "empty.txt").await;
        assert_eq!(std::fs::read(server.root.join("empty.txt")).unwrap(), b"");
        assert_eq!(offset(&server, &path).await, 0);

        // Malformed creations: 400.
        for (name, value) in [
            ("upload-defer-length", "2"),
            ("upload-length", "-1"),
            ("upload-metadata", "filename !!!"),
        ] {
            let mut request = tus(Method::POST, server.url(COLLECTION)).header(name, value);
            if name == "upload-metadata" {
                request = request.header("upload-length", "1");
            }
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}: {value}");
        }
        let r = tus(Method::POST, server.url(COLLECTION))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "no length at all");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn names_are_sanitised_and_existing_files_kept_unless_overwrite() {
    bounded(async {
        let server = Server::start(
            |root| std::fs::write(root.join("taken.txt"), b"old").unwrap(),
            |c| c.uploads(true),
        )
        .await;
        let path = create(&server, 3, "../../escape.txt").await;
        patch(&server, &path, 0, b"abc").await;
        assert_eq!(
            std::fs::read(server.root.join("escape.txt")).unwrap(),
            b"abc"
        );
        assert!(!server.base().join("escape.txt").exists());
        let path = create(&server, 3, ".hidden").await;
        patch(&server, &path, 0, b"abc").await;
        assert!(server.root.join("_hidden").exists());

        // A taken name is refused at creation (409) ...
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-length", "3")
            .header("upload-metadata", format!("filename {}", b64(b"taken.txt")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT);
        // ... and one taken while uploading gets a numbered name.
        let path = create(&server, 3, "race.txt").await;
        std::fs::write(server.root.join("race.txt"), b"first").unwrap();
        patch(&server, &path, 0, b"abc").await;
        assert_eq!(
            std::fs::read(server.root.join("race.txt")).unwrap(),
            b"first"
        );
        assert_eq!(
            std::fs::read(server.root.join("race (1).txt")).unwrap(),
            b"abc"
        );
        // No usable name: the upload's id.
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-length", "1")
            .send()
            .await
            .unwrap();
        let path = field(&r, "location").unwrap().to_owned();
        patch(&server, &path, 0, b"x").await;
        let id = path.rsplit('/').next().unwrap();
        assert_eq!(std::fs::read(server.root.join(id)).unwrap(), b"x");
        assert_eq!(
            std::fs::read(server.root.join("taken.txt")).unwrap(),
            b"old"
        );
        server.stop().await;

        let server = Server::start(
            |root| std::fs::write(root.join("taken.txt"), b"old").unwrap(),
            |c| c.uploads(true).overwrite(true),
        )
        .await;
        let path = create(&server, 3, "taken.txt").await;
        patch(&server, &path, 0, b"new").await;
        assert_eq!(
            std::fs::read(server.root.join("taken.txt")).unwrap(),
            b"new"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn uploads_are_off_by_default_and_need_auth_when_configured() {
    bounded(async {
        let server = Server::start(|_| {}, |c| c).await;
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-length", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(!upload_dir(&server).exists());
        server.stop().await;

        let server = upload_server(|c| c.basic_auth("u", "pw")).await;
        let r = tus(Method::POST, server.url(COLLECTION))
            .header("upload-length", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = tus(Method::POST, server.url(COLLECTION))
            .basic_auth("u", Some("pw"))
            .header("upload-length", "1")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_upload_dir_inside_the_root_is_refused() {
    bounded(async {
        let base = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let config = Config::new(base.path())
            .uploads(true)
            .upload_dir(base.path().join("inside"));
        let result = durl_serve::run(listener, config, std::future::pending::<()>()).await;
        assert!(
            matches!(
                result,
                Err(durl_serve::ServeError::UploadDirOverlapsRoot { .. })
            ),
            "{result:?}"
        );
    })
    .await;
}

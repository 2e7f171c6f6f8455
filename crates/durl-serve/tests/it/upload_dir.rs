//! The default upload directory, `DIR/.durl-uploads`: inside the served directory (no
//! permission needed outside it, on its file system), yet never served, listed or reached by
//! any URL, with or without `--hidden`, through links or encodings; a planted link or a
//! directory of another user refuses the start; the old default beside DIR is still used.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use durl_serve::{Config, ServeError};
use reqwest::{Method, StatusCode};
use tokio::net::TcpListener;

use tokio::io::AsyncWriteExt as _;

use crate::harness::{RawReader, Server, bounded, client};
use crate::tus::{create, listing, patch, upload_server};

/// An unfinished upload's id (the data file is `ROOT/.durl-uploads/<id>.data`).
async fn unfinished(server: &Server) -> String {
    let path = create(server, 10, "secret.html").await;
    let r = patch(server, &path, 0, b"<script>").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    path.rsplit('/').next().unwrap().to_owned()
}

/// Every way of naming the upload directory or a file in it answers 404, and no listing
/// (HTML or JSON, of the root or through a link) shows it.
async fn assert_unreachable(server: &Server, id: &str) {
    for path in [
        "/.durl-uploads".to_owned(),
        "/.durl-uploads/".to_owned(),
        "/%2edurl-uploads/".to_owned(),
        "/./.durl-uploads/".to_owned(),
        "//.durl-uploads//".to_owned(),
        format!("/.durl-uploads/{id}.data"),
        format!("/.durl-uploads/{id}.info"),
        format!("/%2Edurl-uploads/{id}%2Edata"),
        "/alias".to_owned(),
        "/alias/".to_owned(),
        format!("/alias/{id}.data"),
        format!("/alias/{id}.info"),
        "/data-link".to_owned(),
        "/sub/up/".to_owned(),
        format!("/sub/up/{id}.data"),
    ] {
        for method in ["GET", "HEAD"] {
            let request =
                format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let r = RawReader::new(stream)
                .response(method == "HEAD")
                .await
                .expect("a response");
            assert_eq!(r.status, 404, "{method} {path}");
            assert!(!String::from_utf8_lossy(&r.body).contains("<script>"));
        }
    }
    for (path, accept) in [
        ("/", "text/html"),
        ("/", "application/json"),
        ("/?format=json", "*/*"),
        ("/sub/", "text/html"),
        ("/sub/?format=json", "*/*"),
    ] {
        let r = client()
            .get(server.url(path))
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let text = r.text().await.unwrap();
        assert!(
            text.contains("visible.txt") || path.starts_with("/sub"),
            "{text}"
        );
        for hidden in [
            ".durl-uploads",
            "alias",
            "data-link",
            "\"up/\"",
            "\"up\"",
            id,
        ] {
            assert!(
                !text.contains(hidden),
                "{path} ({accept}) lists {hidden}: {text}"
            );
        }
    }
    // The tus endpoint itself is not a way in: it answers tus requests only.
    let r = client()
        .get(server.url(&format!("/.durl/uploads/{id}")))
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), StatusCode::OK);
}

/// Links into the upload directory, planted by someone with write access to DIR.
fn plant_links(root: &Path, id: &str) {
    std::os::unix::fs::symlink(".durl-uploads", root.join("alias")).unwrap();
    std::os::unix::fs::symlink(format!(".durl-uploads/{id}.data"), root.join("data-link")).unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::os::unix::fs::symlink(root.join(".durl-uploads"), root.join("sub/up")).unwrap();
}

#[tokio::test]
async fn the_default_upload_dir_is_inside_dir_and_never_reachable() {
    bounded(async {
        for hidden in [false, true] {
            for follow in [false, true] {
                let server = upload_server(|c| c.hidden(hidden).follow_symlinks(follow)).await;
                std::fs::write(server.root.join("visible.txt"), b"hi").unwrap();
                let id = unfinished(&server).await;
                let dir = server.root.join(".durl-uploads");
                assert_eq!(
                    listing(&dir),
                    [format!("{id}.data"), format!("{id}.info")],
                    "unfinished uploads live in DIR/.durl-uploads"
                );
                let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o700);
                assert!(
                    !server.base().join(".www.durl-uploads").exists(),
                    "nothing created outside DIR"
                );
                plant_links(&server.root, &id);
                assert_unreachable(&server, &id).await;
                // Nor can an upload be placed into it (hidden or not).
                server.stop().await;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_planted_link_or_a_foreign_upload_dir_refuses_the_start() {
    bounded(async {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("www");
        std::fs::create_dir(&root).unwrap();
        let elsewhere = base.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, root.join(".durl-uploads")).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let result = durl_serve::run(listener, Config::new(&root).uploads(true), async {}).await;
        assert!(
            matches!(&result, Err(ServeError::UploadDir { path, .. }) if path.ends_with(".durl-uploads")),
            "{result:?}"
        );
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

        // A directory another user owns (they could read the uploads): refused too.
        std::fs::remove_file(root.join(".durl-uploads")).unwrap();
        std::fs::create_dir(root.join(".durl-uploads")).unwrap();
        // Only root can give a directory away; elsewhere this half cannot be set up.
        if std::os::unix::fs::chown(root.join(".durl-uploads"), Some(65534), Some(65534)).is_ok() {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let result =
                durl_serve::run(listener, Config::new(&root).uploads(true), async {}).await;
            assert!(
                matches!(&result, Err(ServeError::UploadDir { .. })),
                "{result:?}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn the_old_default_beside_dir_is_still_used_when_it_exists() {
    bounded(async {
        let server = Server::start(
            |root| {
                let old = root.parent().unwrap().join(".www.durl-uploads");
                std::fs::create_dir(old).unwrap();
            },
            |c| c.uploads(true),
        )
        .await;
        let path = create(&server, 3, "a.txt").await;
        let id = path.rsplit('/').next().unwrap();
        let old = server.base().join(".www.durl-uploads");
        assert_eq!(listing(&old), [format!("{id}.data"), format!("{id}.info")]);
        assert!(!server.root.join(".durl-uploads").exists());
        let r = patch(&server, &path, 0, b"abc").await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(std::fs::read(server.root.join("a.txt")).unwrap(), b"abc");
        let r = crate::tus::tus(Method::HEAD, server.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        server.stop().await;
    })
    .await;
}

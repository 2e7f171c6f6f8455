//! Issue 13 item 8: a file someone uploaded is served without letting a browser run it as the
//! server's origin: `X-Content-Type-Options: nosniff` on every file, and
//! `Content-Security-Policy: sandbox` on active types (HTML, SVG, XML, JavaScript) that
//! arrived by upload (marked when placed) — or on every active file with `sandbox_all`.
//! A site's own pages are not sandboxed, so its scripts run (issue 16: `durl serve ./site`).

use reqwest::StatusCode;

use crate::harness::{Server, bounded, client};
use crate::tus::{create, patch};

#[tokio::test]
async fn uploaded_active_files_are_sandboxed_and_never_sniffed() {
    bounded(async {
        for all in [true, false] {
            uploaded_and_own_files(all).await;
        }
    })
    .await;
}

/// With `all`, every active file is sandboxed (the site's own SVG too); without, only the
/// uploaded page.
async fn uploaded_and_own_files(all: bool) {
    {
        let server = Server::start(
            |root| {
                std::fs::write(root.join("plain.txt"), b"<script>alert(1)</script>").unwrap();
                std::fs::write(root.join("image.svg"), b"<svg onload=alert(1)/>").unwrap();
            },
            |c| c.uploads(true).sandbox_all(all),
        )
        .await;
        let page = b"<script>fetch('/.durl/uploads/')</script>";
        let path = create(&server, page.len() as u64, "x.html").await;
        assert_eq!(
            patch(&server, &path, 0, page).await.status(),
            StatusCode::NO_CONTENT
        );
        for (name, sandboxed) in [("x.html", true), ("image.svg", all), ("plain.txt", false)] {
            for range in [None, Some("bytes=0-3")] {
                let mut request = client().get(server.url(&format!("/{name}")));
                if let Some(range) = range {
                    request = request.header("range", range);
                }
                let r = request.send().await.unwrap();
                assert!(r.status().is_success(), "{name}: {}", r.status());
                let field = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
                assert_eq!(
                    field("x-content-type-options").as_deref(),
                    Some("nosniff"),
                    "{name}"
                );
                let policy = field("content-security-policy");
                assert_eq!(
                    policy.as_deref() == Some("sandbox"),
                    sandboxed,
                    "{name}: {policy:?}"
                );
            }
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn a_sites_own_pages_are_not_sandboxed_so_its_scripts_run() {
    bounded(async {
        for uploads in [false, true] {
            let server = Server::start(
                |root| {
                    std::fs::write(root.join("index.html"), b"<script src=app.js></script>")
                        .unwrap();
                    std::fs::write(root.join("app.js"), b"document.title = 'ok'").unwrap();
                },
                |c| c.uploads(uploads),
            )
            .await;
            for path in ["/", "/index.html", "/app.js"] {
                let r = client().get(server.url(path)).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                assert_eq!(
                    r.headers().get("content-security-policy"),
                    None,
                    "{path} (uploads {uploads})"
                );
                assert_eq!(
                    r.headers()["x-content-type-options"].to_str().unwrap(),
                    "nosniff"
                );
            }
            server.stop().await;
        }
    })
    .await;
}

//! Issue 13 item 8: a file someone uploaded is served without letting a browser run it as the
//! server's origin: `X-Content-Type-Options: nosniff` on every file, and
//! `Content-Security-Policy: sandbox` on active types (HTML, SVG, XML, JavaScript).

use reqwest::StatusCode;

use crate::harness::{Server, bounded, client};
use crate::tus::{create, patch};

#[tokio::test]
async fn uploaded_active_files_are_sandboxed_and_never_sniffed() {
    bounded(async {
        let server = Server::start(
            |root| {
                std::fs::write(root.join("plain.txt"), b"<script>alert(1)</script>").unwrap();
                std::fs::write(root.join("image.svg"), b"<svg onload=alert(1)/>").unwrap();
            },
            |c| c.uploads(true),
        )
        .await;
        let page = b"<script>fetch('/.durl/uploads/')</script>";
        let path = create(&server, page.len() as u64, "x.html").await;
        assert_eq!(
            patch(&server, &path, 0, page).await.status(),
            StatusCode::NO_CONTENT
        );
        for (name, sandboxed) in [("x.html", true), ("image.svg", true), ("plain.txt", false)] {
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
    })
    .await;
}

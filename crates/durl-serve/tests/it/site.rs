//! durl serve as a site: index.html for directories, dotfiles hidden, the favicon, the
//! listing page (columns, sorting, breadcrumbs, style) and the JSON listing.

use crate::harness::{Server, bounded, get, raw};

fn site(root: &std::path::Path) {
    std::fs::create_dir_all(root.join("docs/api")).unwrap();
    std::fs::write(root.join("docs/index.html"), b"<p>docs home</p>").unwrap();
    std::fs::write(root.join("docs/page.html"), b"<p>page</p>").unwrap();
    std::fs::write(root.join("docs/api/ref.txt"), b"reference").unwrap();
    std::fs::write(root.join("docs/api/start.htm"), b"start").unwrap();
    std::fs::write(root.join("top.txt"), b"top").unwrap();
    std::fs::write(root.join(".env"), b"SECRET=1").unwrap();
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), b"[core]").unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/.hidden"), b"h").unwrap();
}

#[tokio::test]
async fn a_directory_with_index_html_is_answered_with_it() {
    bounded(async {
        let server = Server::start(site, |c| c).await;
        let r = raw(server.addr, &get("/docs/")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"<p>docs home</p>");
        assert_eq!(r.header("content-type"), Some("text/html"));
        // The index is a file answer: validators and ranges as for any file.
        assert!(r.header("etag").is_some());
        let ranged = raw(
            server.addr,
            b"GET /docs/ HTTP/1.1\r\nHost: x\r\nRange: bytes=3-6\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(ranged.status, 206);
        assert_eq!(ranged.body, b"docs");
        // Without the slash: the redirect first, so the page's relative links work.
        let r = raw(server.addr, &get("/docs")).await;
        assert_eq!(r.status, 301);
        assert_eq!(r.header("location"), Some("/docs/"));
        // A directory without one is listed.
        let r = raw(server.addr, &get("/docs/api/")).await;
        assert_eq!(r.status, 200);
        assert!(String::from_utf8_lossy(&r.body).contains("ref.txt"));
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_index_name_can_change_or_be_turned_off() {
    bounded(async {
        let server = Server::start(site, |c| c.index_file(Some("start.htm"))).await;
        assert_eq!(raw(server.addr, &get("/docs/api/")).await.body, b"start");
        let docs = raw(server.addr, &get("/docs/")).await;
        assert!(
            String::from_utf8_lossy(&docs.body).contains("page.html"),
            "listed"
        );
        server.stop().await;

        let server = Server::start(site, |c| c.index_file(None)).await;
        let docs = raw(server.addr, &get("/docs/")).await;
        let html = String::from_utf8_lossy(&docs.body);
        assert!(
            html.contains("index.html") && html.contains("page.html"),
            "{html}"
        );
        server.stop().await;

        // Listings off, index on: the index is still served, other directories are 404.
        let server = Server::start(site, |c| c.list_directories(false)).await;
        assert_eq!(
            raw(server.addr, &get("/docs/")).await.body,
            b"<p>docs home</p>"
        );
        assert_eq!(raw(server.addr, &get("/docs/api/")).await.status, 404);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn dotfiles_are_404_and_unlisted_unless_hidden_is_on() {
    bounded(async {
        let server = Server::start(site, |c| c).await;
        for path in [
            "/.env",
            "/.git/config",
            "/.git/",
            "/sub/.hidden",
            "/%2eenv",
            "/sub/%2Ehidden",
        ] {
            assert_eq!(raw(server.addr, &get(path)).await.status, 404, "{path}");
        }
        let root = String::from_utf8_lossy(&raw(server.addr, &get("/")).await.body).into_owned();
        assert!(root.contains("top.txt"));
        assert!(!root.contains(".env") && !root.contains(".git"), "{root}");
        let sub = raw(server.addr, &get("/sub/")).await;
        assert!(!String::from_utf8_lossy(&sub.body).contains(".hidden"));
        server.stop().await;

        let server = Server::start(site, |c| c.hidden(true)).await;
        assert_eq!(raw(server.addr, &get("/.env")).await.body, b"SECRET=1");
        assert_eq!(raw(server.addr, &get("/.git/config")).await.status, 200);
        let root = String::from_utf8_lossy(&raw(server.addr, &get("/")).await.body).into_owned();
        assert!(root.contains(".env") && root.contains(".git/"), "{root}");
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn favicon_is_embedded_unless_the_root_has_one() {
    bounded(async {
        let server = Server::start(site, |c| c).await;
        let r = raw(server.addr, &get("/favicon.ico")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("image/x-icon"));
        assert_eq!(&r.body[..4], &[0, 0, 1, 0], "an ICO file");
        assert!(r.header("etag").is_some());
        // Only at the root.
        assert_eq!(raw(server.addr, &get("/sub/favicon.ico")).await.status, 404);
        server.stop().await;

        let server = Server::start(
            |root| std::fs::write(root.join("favicon.ico"), b"mine").unwrap(),
            |c| c,
        )
        .await;
        assert_eq!(raw(server.addr, &get("/favicon.ico")).await.body, b"mine");
        server.stop().await;
    })
    .await;
}

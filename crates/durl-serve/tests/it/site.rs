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

fn rows(html: &str) -> Vec<String> {
    // The name cells' link texts, in page order.
    html.match_indices("<td class=\"name\"><a href=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            let text = &rest[rest.find('>').unwrap() + 1..];
            text[..text.find("</a>").unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test]
async fn the_listing_sorts_by_each_column_through_links() {
    bounded(async {
        let server = Server::start(
            |root| {
                std::fs::write(root.join("small.txt"), b"1").unwrap();
                std::fs::write(root.join("Big.bin"), vec![0u8; 5000]).unwrap();
                std::fs::write(root.join("mid.txt"), b"12345").unwrap();
                std::fs::create_dir(root.join("zdir")).unwrap();
                std::fs::create_dir(root.join("adir")).unwrap();
                let old = std::time::SystemTime::UNIX_EPOCH
                    + std::time::Duration::from_secs(1_000_000_000);
                let f = std::fs::File::options()
                    .write(true)
                    .open(root.join("Big.bin"))
                    .unwrap();
                f.set_modified(old).unwrap();
            },
            |c| c,
        )
        .await;
        let page = |q: &'static str| async move {
            let r = raw(server.addr, &get(&format!("/{q}"))).await;
            assert_eq!(r.status, 200, "{q}");
            assert_eq!(r.header("vary"), Some("accept"));
            String::from_utf8(r.body).unwrap()
        };
        let html = page("").await;
        assert_eq!(
            rows(&html),
            ["adir/", "zdir/", "Big.bin", "mid.txt", "small.txt"]
        );
        assert!(html.contains("<th scope=\"col\" class=\"name\" aria-sort=\"ascending\">"));
        assert!(html.contains("href=\"?sort=size&amp;order=desc\""));
        assert!(html.contains("4.9 KiB") && html.contains("2001-09-09 01:46"));
        let html = page("?sort=size&order=desc").await;
        assert_eq!(
            rows(&html),
            ["zdir/", "adir/", "Big.bin", "mid.txt", "small.txt"]
        );
        let html = page("?sort=size&order=asc").await;
        assert_eq!(
            rows(&html),
            ["adir/", "zdir/", "small.txt", "mid.txt", "Big.bin"]
        );
        let html = page("?sort=modified&order=asc").await;
        assert_eq!(rows(&html)[2], "Big.bin", "the oldest file first");
        let html = page("?sort=name&order=desc").await;
        assert_eq!(
            rows(&html),
            ["zdir/", "adir/", "small.txt", "mid.txt", "Big.bin"]
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_listing_has_breadcrumbs_a_parent_link_and_its_style_sheet() {
    bounded(async {
        let server = Server::start(site, |c| c).await;
        let r = raw(server.addr, &get("/docs/api/")).await;
        let html = String::from_utf8(r.body).unwrap();
        assert!(html.contains(
            "<li><a href=\"/\">Root</a></li><li><a href=\"/docs/\">docs</a></li>\
             <li><a href=\"/docs/api/\" aria-current=\"page\">api</a></li>"
        ));
        assert!(html.contains("<a href=\"../\">Parent directory</a>"));
        let csp = r
            .headers
            .iter()
            .find(|(n, _)| n == "content-security-policy")
            .unwrap();
        assert!(csp.1.contains("style-src 'self'") && !csp.1.contains("unsafe"));
        assert!(html.contains("<link rel=\"stylesheet\" href=\"/.durl/listing.css\">"));
        let css = raw(server.addr, &get("/.durl/listing.css")).await;
        assert_eq!(css.status, 200);
        assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
        let css = String::from_utf8(css.body).unwrap();
        assert!(css.contains("prefers-color-scheme: dark") && css.contains("max-width: 40rem"));
        server.stop().await;
        // Without listings there is no style sheet either: an ordinary (hidden) path.
        let server = Server::start(site, |c| c.list_directories(false)).await;
        assert_eq!(
            raw(server.addr, &get("/.durl/listing.css")).await.status,
            404
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_json_listing_for_scripts() {
    bounded(async {
        let server = Server::start(site, |c| c).await;
        let accept = b"GET /docs/api/ HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\
                       Connection: close\r\n\r\n";
        for r in [
            raw(server.addr, accept).await,
            raw(server.addr, &get("/docs/api/?format=json")).await,
        ] {
            assert_eq!(r.status, 200);
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.header("vary"), Some("accept"));
            let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(doc["path"], "/docs/api/");
            let entries = doc["entries"].as_array().unwrap();
            let names: Vec<&str> = entries
                .iter()
                .map(|e| e["name"].as_str().unwrap())
                .collect();
            assert_eq!(names, ["ref.txt", "start.htm"]);
            assert_eq!(entries[0]["type"], "file");
            assert_eq!(entries[0]["size"], 9);
            // The ETag is the one a GET of the file carries.
            let file = raw(server.addr, &get("/docs/api/ref.txt")).await;
            assert_eq!(entries[0]["etag"].as_str(), file.header("etag"));
            let mtime = entries[0]["mtime"].as_str().unwrap();
            assert!(mtime.len() == 20 && mtime.ends_with('Z'), "{mtime}");
        }
        // Directories: type and no size; dotfiles left out here too.
        let r = raw(server.addr, &get("/?format=json&sort=name")).await;
        let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let entries = doc["entries"].as_array().unwrap();
        assert_eq!(entries[0]["name"], "docs");
        assert_eq!(entries[0]["type"], "directory");
        assert!(entries[0]["size"].is_null() && entries[0]["etag"].is_null());
        assert!(
            entries
                .iter()
                .all(|e| !e["name"].as_str().unwrap().starts_with('.'))
        );
        // A browser's Accept gets the page.
        let browser = b"GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html,application/json;q=0.9\r\n\
                        Connection: close\r\n\r\n";
        let r = raw(server.addr, browser).await;
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        server.stop().await;
    })
    .await;
}

/// Issue 13 item 7: a link leading outside DIR is not listed, so neither its target's size
/// nor its time shows; links inside are listed with their target's.
#[tokio::test]
async fn listings_never_stat_link_targets_outside_the_root() {
    bounded(async {
        let fill = |root: &std::path::Path| {
            let outside = root.parent().unwrap().join("outside.txt");
            std::fs::write(&outside, vec![b's'; 4321]).unwrap();
            std::fs::write(root.join("inside.txt"), b"abc").unwrap();
            std::os::unix::fs::symlink(&outside, root.join("passwd-link")).unwrap();
            std::os::unix::fs::symlink("inside.txt", root.join("inside-link")).unwrap();
            std::os::unix::fs::symlink("missing", root.join("dangling")).unwrap();
        };
        let server = Server::start(fill, |c| c).await;
        let html = String::from_utf8(raw(server.addr, &get("/")).await.body).unwrap();
        assert!(
            !html.contains("passwd-link") && !html.contains("4321"),
            "{html}"
        );
        assert!(!html.contains("dangling"));
        assert_eq!(rows(&html), ["inside-link", "inside.txt"]);
        assert!(html.contains("<data value=\"3\">3 B</data>"));
        let json = raw(server.addr, &get("/?format=json")).await;
        assert!(!String::from_utf8_lossy(&json.body).contains("passwd-link"));
        server.stop().await;

        let server = Server::start(fill, |c| c.follow_symlinks(true)).await;
        let html = String::from_utf8(raw(server.addr, &get("/")).await.body).unwrap();
        assert!(html.contains("passwd-link") && html.contains("<data value=\"4321\">"));
        server.stop().await;
    })
    .await;
}

//! Nothing outside the root is ever served, whatever the spelling (raw sockets, since reqwest
//! would normalise these paths before sending them).

use std::os::unix::fs::symlink;
use std::path::Path;

use crate::harness::{Server, assert_still_serving, bounded, get, raw};

const SECRET: &[u8] = b"TOP SECRET";

/// base/secret.txt and base/www2/secret.txt (a sibling whose name starts with the root's)
/// hold the secret; base/www is the root.
fn fill(root: &Path) {
    let base = root.parent().unwrap();
    std::fs::write(base.join("secret.txt"), SECRET).unwrap();
    std::fs::create_dir(base.join("www2")).unwrap();
    std::fs::write(base.join("www2/secret.txt"), SECRET).unwrap();
    std::fs::write(root.join("a.txt"), b"public").unwrap();
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/b.txt"), b"public b").unwrap();
    // Links inside the root, to things inside the root: fine.
    symlink("a.txt", root.join("inside-link")).unwrap();
    symlink("sub", root.join("inside-dir-link")).unwrap();
    // Links leading out.
    symlink("../secret.txt", root.join("outside-link")).unwrap();
    symlink(base.join("www2"), root.join("outside-dir-link")).unwrap();
    symlink("../www2/secret.txt", root.join("sibling-link")).unwrap();
}

const SPELLINGS: &[&str] = &[
    "/../secret.txt",
    "/../www2/secret.txt",
    "/sub/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/.%2e/secret.txt",
    "/%2e./secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/sub%2f..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/%2e%2e%5csecret.txt",
    "/..\\secret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "//../secret.txt",
    "/./../secret.txt",
    "/..;/secret.txt",
    "/a.txt%00",
    "/%00",
    "/a.txt%00.png",
    "/%c0%ae%c0%ae/secret.txt",
    "/..%00/secret.txt",
    "http://localhost/../secret.txt",
    "http://localhost/%2e%2e/secret.txt",
    "http://localhost/..%2fwww2/secret.txt",
    "../secret.txt",
    "*",
    "/outside-link",
    "/outside-dir-link/secret.txt",
    "/sibling-link",
    "/inside-dir-link/../../secret.txt",
];

#[tokio::test]
async fn no_spelling_escapes_the_root() {
    bounded(async {
        let server = Server::start(fill, |c| c).await;
        for target in SPELLINGS {
            let response = raw(server.addr, &get(target)).await;
            assert!(
                matches!(response.status, 400 | 403 | 404),
                "{target}: status {}",
                response.status
            );
            assert!(
                !response.body.windows(SECRET.len()).any(|w| w == SECRET),
                "{target} leaked the secret"
            );
            assert_still_serving(&server, "/a.txt").await;
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn specific_refusals() {
    bounded(async {
        let server = Server::start(fill, |c| c).await;
        // Traversal syntax and NUL are malformed requests; links out are forbidden.
        for (target, status) in [
            ("/../secret.txt", 400),
            ("/%2e%2e/secret.txt", 400),
            ("/a.txt%00", 400),
            ("/outside-link", 403),
            ("/outside-dir-link/secret.txt", 403),
            ("/sibling-link", 403),
            ("/%252e%252e/secret.txt", 404), // a literal "%2e%2e" directory: not there
        ] {
            assert_eq!(
                raw(server.addr, &get(target)).await.status,
                status,
                "{target}"
            );
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn symlinks_inside_the_root_work() {
    bounded(async {
        let server = Server::start(fill, |c| c).await;
        let response = raw(server.addr, &get("/inside-link")).await;
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"public"[..])
        );
        let response = raw(server.addr, &get("/inside-dir-link/b.txt")).await;
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"public b"[..])
        );
        let response = raw(server.addr, &get("/sub/./b.txt")).await;
        assert_eq!(response.status, 200);
        let response = raw(server.addr, &get("/%73ub/b.txt")).await; // %73 = 's'
        assert_eq!(response.status, 200);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn follow_symlinks_serves_links_out_but_never_dot_dot() {
    bounded(async {
        let server = Server::start(fill, |c| c.follow_symlinks(true)).await;
        let response = raw(server.addr, &get("/outside-link")).await;
        assert_eq!((response.status, response.body.as_slice()), (200, SECRET));
        let response = raw(server.addr, &get("/outside-dir-link/secret.txt")).await;
        assert_eq!(response.status, 200);
        // `..` stays refused even when links are followed.
        for target in ["/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"] {
            let response = raw(server.addr, &get(target)).await;
            assert_eq!(response.status, 400, "{target}");
        }
        server.stop().await;
    })
    .await;
}

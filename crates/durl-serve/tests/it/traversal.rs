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

/// Issue 13 item 1: a local user with write access to the served tree exchanges a directory
/// with a symbolic link to an outside directory (`renameat2(RENAME_EXCHANGE)`, atomic) as fast
/// as it can, while clients fetch a file below that directory. Every answer must be the inside
/// file or a refusal; the outside file's bytes never go out. Also listings of the directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_swapped_for_a_link_never_leaks_outside_bytes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    bounded(async {
        let server = Server::start(
            |root| {
                let outside = root.parent().unwrap().join("outside");
                std::fs::create_dir(&outside).unwrap();
                std::fs::write(outside.join("file"), SECRET).unwrap();
                std::fs::write(outside.join("secret-name"), SECRET).unwrap();
                std::fs::create_dir(root.join("dir")).unwrap();
                std::fs::write(root.join("dir/file"), b"inside").unwrap();
                symlink(&outside, root.join("swap")).unwrap();
            },
            |c| c.access_log(false),
        )
        .await;
        let stop = Arc::new(AtomicBool::new(false));
        let swaps = Arc::new(AtomicU64::new(0));
        let swapper = {
            let (root, stop, swaps) = (server.root.clone(), Arc::clone(&stop), Arc::clone(&swaps));
            std::thread::spawn(move || {
                let root_dir = std::fs::File::open(&root).unwrap();
                let started = Instant::now();
                // Bounded in count and time whatever the clients do.
                while !stop.load(Ordering::Relaxed)
                    && swaps.load(Ordering::Relaxed) < 20_000_000
                    && started.elapsed() < Duration::from_secs(20)
                {
                    let swapped = rustix::fs::renameat_with(
                        &root_dir,
                        "dir",
                        &root_dir,
                        "swap",
                        rustix::fs::RenameFlags::EXCHANGE,
                    );
                    if swapped.is_err() {
                        break; // the test failed and its directory is gone
                    }
                    swaps.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut clients = tokio::task::JoinSet::new();
        for worker in 0..4 {
            let (client, url) = (client.clone(), server.url(""));
            clients.spawn(async move {
                let (mut served, mut refused) = (0u32, 0u32);
                let started = Instant::now();
                for i in 0..2500 {
                    if started.elapsed() > Duration::from_secs(12) {
                        break;
                    }
                    // One in eight asks for the listing of the swapped directory.
                    let path = if (i + worker) % 8 == 0 {
                        "/dir/"
                    } else {
                        "/dir/file"
                    };
                    let response = client.get(format!("{url}{path}")).send().await.unwrap();
                    let status = response.status().as_u16();
                    let body = response.bytes().await.unwrap();
                    assert!(
                        !body.windows(SECRET.len()).any(|w| w == SECRET)
                            && !body.windows(11).any(|w| w == b"secret-name"),
                        "{path} served bytes from outside the root (status {status})"
                    );
                    match status {
                        200 => served += 1,
                        403 | 404 => refused += 1,
                        other => panic!("{path}: unexpected status {other}"),
                    }
                }
                (served, refused)
            });
        }
        let (mut served, mut refused) = (0, 0);
        while let Some(done) = clients.join_next().await {
            let (s, r) = done.unwrap();
            served += s;
            refused += r;
        }
        stop.store(true, Ordering::Relaxed);
        swapper.join().unwrap();
        assert!(
            served > 0,
            "some requests found the inside file ({refused} refused)"
        );
        assert!(
            swaps.load(Ordering::Relaxed) > 100,
            "the directory was swapped"
        );
        server.stop().await;
    })
    .await;
}

//! Uploads into the directory being viewed (`Upload-Metadata` key `directory`), checked on
//! the server: inside DIR (`..` in any spelling refused), existing, a directory, not hidden
//! unless `--hidden`, not the upload directory, reached without any symbolic link (also one
//! swapped in before the file is placed), the user's write right there. Name conflicts:
//! keep both (`onconflict keep`: a numbered name picked atomically), replace only where the
//! server overwrites. Accounts: only an upload's creator continues or deletes it.

use std::path::Path;

use durl_serve::{AccessRule, Accounts};
use reqwest::{Method, StatusCode};

use crate::harness::{Server, bounded, content};
use crate::tus::{COLLECTION, b64, field, listing, tus, upload_server};

/// POST creating an upload of `len` bytes named `name` with extra metadata pairs; the
/// answer's status and Location. `login`: Basic credentials.
async fn post(
    server: &Server,
    len: usize,
    name: &str,
    extra: &[(&str, &str)],
    login: Option<(&str, &str)>,
) -> (StatusCode, Option<String>) {
    let mut metadata = vec![format!("filename {}", b64(name.as_bytes()))];
    for (key, value) in extra {
        metadata.push(format!("{key} {}", b64(value.as_bytes())));
    }
    let mut request = tus(Method::POST, server.url(COLLECTION))
        .header("upload-length", len.to_string())
        .header("upload-metadata", metadata.join(","));
    if let Some((user, password)) = login {
        request = request.basic_auth(user, Some(password));
    }
    let r = request.send().await.unwrap();
    (r.status(), field(&r, "location").map(str::to_owned))
}

/// PATCH `data` at `offset` as `login`; the status.
async fn send(
    server: &Server,
    location: &str,
    offset: usize,
    data: &[u8],
    login: Option<(&str, &str)>,
) -> StatusCode {
    let mut request = tus(Method::PATCH, server.url(location))
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset.to_string())
        .body(data.to_vec());
    if let Some((user, password)) = login {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.unwrap().status()
}

/// Creates and completes an upload of `data`; the POST status if it was refused.
async fn upload(
    server: &Server,
    name: &str,
    data: &[u8],
    extra: &[(&str, &str)],
) -> Result<(), StatusCode> {
    let (status, location) = post(server, data.len(), name, extra, None).await;
    if status != StatusCode::CREATED {
        return Err(status);
    }
    let status = send(server, &location.unwrap(), 0, data, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    Ok(())
}

fn tree(root: &Path, outside: &Path) {
    std::fs::create_dir_all(root.join("docs/sub dir")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join("a.txt"), b"a file").unwrap();
    std::fs::write(root.join("docs/taken.txt"), b"old").unwrap();
    std::os::unix::fs::symlink("docs", root.join("inside-link")).unwrap();
    std::os::unix::fs::symlink(outside, root.join("out")).unwrap();
}

#[tokio::test]
async fn uploads_land_in_the_directory_named_and_nowhere_outside() {
    bounded(async {
        for hidden in [false, true] {
            let outside = tempfile::tempdir().unwrap();
            let out = outside.path().to_owned();
            let server =
                Server::start(|root| tree(root, &out), |c| c.uploads(true).hidden(hidden)).await;
            let root = server.root.clone();
            let dir = |d: &str| vec![("directory", d.to_owned())];
            let ok = |d: &str| {
                let extra = dir(d);
                let server = &server;
                async move {
                    let pairs: Vec<(&str, &str)> =
                        extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    upload(server, "new.txt", b"hello", &pairs).await
                }
            };
            // The viewed directory, as the page names it (percent-encoded, trailing slash).
            ok("/docs/sub%20dir/").await.unwrap();
            assert_eq!(
                std::fs::read(root.join("docs/sub dir/new.txt")).unwrap(),
                b"hello"
            );
            ok("/docs").await.unwrap();
            assert_eq!(std::fs::read(root.join("docs/new.txt")).unwrap(), b"hello");
            ok("/").await.unwrap();
            assert_eq!(std::fs::read(root.join("new.txt")).unwrap(), b"hello");
            // Never outside DIR: `..` in every spelling is 400.
            for bad in [
                "/../",
                "/docs/../../",
                "/%2e%2e/",
                "/docs/%2E%2e/%2e./",
                "..",
                "/a\\b/",
                "docs/",
            ] {
                assert_eq!(ok(bad).await, Err(StatusCode::BAD_REQUEST), "{bad}");
            }
            // Missing, a file, the upload directory: 404. Hidden: 404 unless --hidden.
            for missing in ["/nope/", "/a.txt/", "/docs/taken.txt", "/.durl-uploads/"] {
                assert_eq!(ok(missing).await, Err(StatusCode::NOT_FOUND), "{missing}");
            }
            if hidden {
                ok("/.git/").await.unwrap();
                assert!(root.join(".git/new.txt").exists());
            } else {
                assert_eq!(ok("/.git/").await, Err(StatusCode::NOT_FOUND));
            }
            // Links: refused, the one leading out and even one inside.
            for link in ["/out/", "/inside-link/", "/out", "/inside-link/sub%20dir/"] {
                assert_eq!(ok(link).await, Err(StatusCode::FORBIDDEN), "{link}");
            }
            assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
            server.stop().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_directory_swapped_for_a_link_before_the_last_byte_receives_nothing() {
    bounded(async {
        let outside = tempfile::tempdir().unwrap();
        let out = outside.path().to_owned();
        let server = Server::start(|root| tree(root, &out), |c| c.uploads(true)).await;
        let data = content(1000);
        let (status, location) = post(
            &server,
            data.len(),
            "x.bin",
            &[("directory", "/docs/sub%20dir/")],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        let location = location.unwrap();
        assert_eq!(
            send(&server, &location, 0, &data[..500], None).await,
            StatusCode::NO_CONTENT
        );
        // The directory becomes a link to a place outside DIR.
        let sub = server.root.join("docs/sub dir");
        std::fs::rename(&sub, server.root.join("docs/moved")).unwrap();
        std::os::unix::fs::symlink(outside.path(), &sub).unwrap();
        let status = send(&server, &location, 500, &data[500..], None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        assert!(!server.root.join("docs/moved/x.bin").exists());
        // The bytes are kept (the upload is complete, waiting for its directory).
        let r = tus(Method::HEAD, server.url(&location))
            .send()
            .await
            .unwrap();
        assert_eq!(field(&r, "upload-offset"), Some("1000"));
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_taken_name_is_kept_both_or_replaced_only_where_allowed() {
    bounded(async {
        let outside = tempfile::tempdir().unwrap();
        let out = outside.path().to_owned();
        let server = Server::start(|root| tree(root, &out), |c| c.uploads(true)).await;
        let docs = [("directory", "/docs/")];
        let taken = server.root.join("docs/taken.txt");
        // Without a choice: 409, as before.
        assert_eq!(
            upload(&server, "taken.txt", b"new", &docs).await,
            Err(StatusCode::CONFLICT)
        );
        // Replace: this server does not overwrite, so 403 (the page offers no Replace).
        let replace = [("directory", "/docs/"), ("onconflict", "replace")];
        assert_eq!(
            upload(&server, "taken.txt", b"new", &replace).await,
            Err(StatusCode::FORBIDDEN)
        );
        // Keep both: numbered names, picked when each file is placed; several at once never
        // take the same name.
        let keep = [("directory", "/docs/"), ("onconflict", "keep")];
        let mut started = Vec::new();
        for i in 0..4u8 {
            let (status, location) = post(&server, 1, "taken.txt", &keep, None).await;
            assert_eq!(status, StatusCode::CREATED);
            started.push((location.unwrap(), i));
        }
        let finishing = started
            .iter()
            .map(|(location, i)| send(&server, location, 0, std::slice::from_ref(i), None));
        for status in futures_util::future::join_all(finishing).await {
            assert_eq!(status, StatusCode::NO_CONTENT);
        }
        assert_eq!(std::fs::read(&taken).unwrap(), b"old");
        let names = listing(&server.root.join("docs"));
        assert_eq!(
            names,
            [
                "sub dir",
                "taken (1).txt",
                "taken (2).txt",
                "taken (3).txt",
                "taken (4).txt",
                "taken.txt"
            ]
        );
        let mut contents: Vec<u8> = (1..=4)
            .map(|n| std::fs::read(server.root.join(format!("docs/taken ({n}).txt"))).unwrap()[0])
            .collect();
        contents.sort_unstable();
        assert_eq!(contents, [0, 1, 2, 3]);
        server.stop().await;

        // A server that overwrites: `replace` replaces, `refuse` still asks (409), `keep`
        // keeps both.
        let server =
            Server::start(|root| tree(root, &out), |c| c.uploads(true).overwrite(true)).await;
        let taken = server.root.join("docs/taken.txt");
        let refuse = [("directory", "/docs/"), ("onconflict", "refuse")];
        assert_eq!(
            upload(&server, "taken.txt", b"new", &refuse).await,
            Err(StatusCode::CONFLICT)
        );
        upload(&server, "taken.txt", b"kept", &keep).await.unwrap();
        assert_eq!(
            std::fs::read(server.root.join("docs/taken (1).txt")).unwrap(),
            b"kept"
        );
        assert_eq!(std::fs::read(&taken).unwrap(), b"old");
        upload(&server, "taken.txt", b"new", &replace)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&taken).unwrap(), b"new");
        let odd = [("onconflict", "sometimes")];
        assert_eq!(
            upload(&server, "b.txt", b"x", &odd).await,
            Err(StatusCode::BAD_REQUEST)
        );
        server.stop().await;
    })
    .await;
}

/// SHA-512-crypt hashes (`openssl passwd -6 -salt NAMEsalt NAME-pw`).
const USERS: &str = "\
alice:$6$alicesalt$HFdxLk8wA2OrrIRe2fi88/dNWjVgW3Rgo//Lrtub09NaZ00EjCmK5ofIco9Wv57xiylXKDqqLmvAlfRMjg85W/
carol:$6$carolsalt$kwEjCFUw54yY5LXfzzRythm3Ejw85UQC6bdscDeUP0j/vzv7Jrt6vDKN3EGkKin6WyP1.DJei9OSd17YniOhj.
bob:$6$bobsalt$rt.1WAPDQAm9w/bMx2NAc4Xf.JZ4.BiqVAcw2L1UeNjI8OkCzNXRPzkbFYvaOOnzK6liKZXUOSixQpLTF1l3K/
";

#[tokio::test]
async fn write_rights_are_checked_for_the_target_and_uploads_belong_to_their_creator() {
    bounded(async {
        let base = tempfile::tempdir().unwrap();
        let users = base.path().join("users");
        std::fs::write(&users, USERS).unwrap();
        let accounts = Accounts::from_htpasswd(&users).unwrap();
        let server = upload_server(move |c| {
            let rule = |r: &str| AccessRule::parse(r).unwrap();
            c.accounts(accounts)
                .allow(rule("alice:rw:/incoming"))
                .allow(rule("carol:rw:/incoming"))
                .allow(rule("alice:r:/"))
                .allow(rule("bob:r:/"))
        })
        .await;
        std::fs::create_dir_all(server.root.join("incoming/deep")).unwrap();
        std::fs::create_dir_all(server.root.join("other")).unwrap();
        let (alice_login, carol_login) = (("alice", "alice-pw"), ("carol", "carol-pw"));
        let (alice, carol) = (Some(alice_login), Some(carol_login));
        let bob = Some(("bob", "bob-pw"));
        let incoming = [("directory", "/incoming/deep/")];
        // Write right where the file goes, not at the top.
        let (status, _) = post(&server, 3, "a.txt", &incoming, alice).await;
        assert_eq!(status, StatusCode::CREATED);
        for elsewhere in ["/", "/other/"] {
            let (status, _) = post(&server, 3, "a.txt", &[("directory", elsewhere)], alice).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{elsewhere}");
        }
        let (status, _) = post(&server, 3, "a.txt", &[], alice).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // No write right anywhere: refused before anything else (bob 403, anonymous 401).
        let (status, _) = post(&server, 3, "a.txt", &incoming, bob).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = post(&server, 3, "a.txt", &incoming, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // The page shows the upload area only where the user may upload, for that directory.
        for (path, area) in [("/", false), ("/other/", false), ("/incoming/deep/", true)] {
            let page = crate::harness::client()
                .get(server.url(path))
                .basic_auth("alice", Some("alice-pw"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(page.contains("id=\"durl-upload\""), area, "{path}: {page}");
            if area {
                assert!(
                    page.contains(&format!("data-directory=\"{path}\"")),
                    "{page}"
                );
            }
        }

        // alice's unfinished upload: carol (who may write there too) can neither continue,
        // query nor delete it; alice can.
        let (status, location) = post(&server, 3, "mine.txt", &incoming, alice).await;
        assert_eq!(status, StatusCode::CREATED);
        let location = location.unwrap();
        assert_eq!(
            send(&server, &location, 0, b"m", alice).await,
            StatusCode::NO_CONTENT
        );
        let as_user = |method: Method, login: (&str, &str)| {
            tus(method, server.url(&location)).basic_auth(login.0, Some(login.1))
        };
        let r = as_user(Method::DELETE, carol_login).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = as_user(Method::HEAD, carol_login).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            send(&server, &location, 1, b"x", carol).await,
            StatusCode::FORBIDDEN
        );
        let r = as_user(Method::HEAD, alice_login).send().await.unwrap();
        assert_eq!(field(&r, "upload-offset"), Some("1"));
        let r = as_user(Method::DELETE, alice_login).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        server.stop().await;
    })
    .await;
}

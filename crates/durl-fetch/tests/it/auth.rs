//! HTTP Basic credentials (RFC 7617) from `login`, `.netrc` and the URL: sent to the origin the
//! user named, on every request there (ranges, segments, retries), never to another origin.

use base64::Engine as _;
use durl_fetch::ErrorKind;
use durl_testkit::{FaultServer, Resource};

use crate::support::{SEED, assert_complete, expected, request};

const LEN: u64 = 8 << 20;

fn guarded() -> FaultServer {
    let server = FaultServer::start();
    server.put(
        "/f.bin",
        Resource::pattern(SEED, LEN).with_basic_auth("ann", "s3cret"),
    );
    server
}

/// The `Authorization` value for ann:s3cret (RFC 7617 §2).
fn basic() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode("ann:s3cret");
    format!("Basic {token}")
}

#[tokio::test]
async fn without_credentials_a_401_is_a_refused_login_naming_the_url() {
    let server = guarded();
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(&request(&server, "/f.bin", dir.path()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err:?}");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("401") && text.contains("/f.bin"), "{text}");
    // Not retried: one request.
    assert_eq!(server.log().len(), 1);

    // A wrong password is refused the same way and never printed.
    let req = request(&server, "/f.bin", dir.path()).login(Some("ann".into()), Some("nope".into()));
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused);
    assert!(!format!("{err} {err:?}").contains("nope"));
}

#[tokio::test]
async fn a_login_is_sent_on_every_request_of_a_split_download() {
    let server = guarded();
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f.bin", dir.path())
        .login(Some("ann".into()), Some("s3cret".into()))
        .connections(3);
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    let log = server.log();
    assert!(log.len() >= 3, "{log:?}");
    for got in log {
        assert_eq!(
            got.header("authorization"),
            Some(basic().as_str()),
            "{got:?}"
        );
        assert_eq!(got.status / 100, 2, "{got:?}");
    }
}

#[tokio::test]
async fn netrc_gives_the_login_for_its_host() {
    let server = guarded();
    let dir = tempfile::tempdir().unwrap();
    let netrc = dir.path().join("netrc");
    std::fs::write(&netrc, "machine 127.0.0.1 login ann password s3cret\n").unwrap();
    let req = request(&server, "/f.bin", dir.path()).netrc(Some(netrc.clone()));
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));

    // A netrc entry for another host is not used.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(&netrc, "machine other.example login ann password s3cret\n").unwrap();
    let req = request(&server, "/f.bin", dir.path()).netrc(Some(netrc));
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused);
}

#[tokio::test]
async fn the_urls_own_login_is_sent_once() {
    let server = guarded();
    let dir = tempfile::tempdir().unwrap();
    let url = server
        .url("/f.bin")
        .replace("http://", "http://ann:s3cret@");
    let req = durl_fetch::GetRequest::new(&url)
        .unwrap()
        .output(dir.path().join("out.bin"))
        // The URL's login comes before the one given.
        .login(Some("bob".into()), Some("x".into()));
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    for got in server.log() {
        let values = got
            .headers
            .iter()
            .filter(|(n, _)| n == "authorization")
            .count();
        assert_eq!(values, 1, "{got:?}");
        assert_eq!(got.header("authorization"), Some(basic().as_str()));
    }
}

#[tokio::test]
async fn credentials_do_not_follow_a_redirect_or_a_mirror_to_another_origin() {
    // Two servers are two origins (another port).
    let a = FaultServer::start();
    let b = FaultServer::start();
    b.put("/f.bin", Resource::pattern(SEED, LEN));
    a.put("/moved", Resource::redirect(302, &b.url("/f.bin")));
    a.put("/same", Resource::redirect(307, "/f.bin"));
    a.put(
        "/f.bin",
        Resource::pattern(SEED, LEN).with_basic_auth("ann", "s3cret"),
    );
    let login = |req: durl_fetch::GetRequest| req.login(Some("ann".into()), Some("s3cret".into()));

    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&login(request(&a, "/moved", dir.path())), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert_eq!(a.log()[0].header("authorization"), Some(basic().as_str()));
    let seen = b.log();
    assert!(!seen.is_empty());
    for got in &seen {
        assert_eq!(got.header("authorization"), None, "{got:?}");
    }

    // Within the origin the login goes on after the redirect.
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&login(request(&a, "/same", dir.path())), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(LEN));

    // A mirror on another origin gets no login (it serves without one here).
    let before = b.log().len();
    let dir = tempfile::tempdir().unwrap();
    let req = login(request(&a, "/f.bin", dir.path()))
        .mirrors(&[b.url("/f.bin")])
        .unwrap()
        .connections(4);
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    let mirror = &b.log()[before..];
    assert!(!mirror.is_empty(), "the mirror served segments");
    for got in mirror {
        assert_eq!(got.header("authorization"), None, "{got:?}");
    }
}

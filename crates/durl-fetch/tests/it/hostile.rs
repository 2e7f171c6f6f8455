//! Issue 13, durl get: hostile local files (links and special files planted beside the output
//! by another user of a shared directory) and hostile servers (names, redirects).

use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use durl_fetch::Error;
use durl_testkit::{Fault, FaultServer, Resource};

use crate::support::*;

const LEN: u64 = 200_000;

fn victim(root: &Path) -> std::path::PathBuf {
    let victim = root.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    victim
}

#[tokio::test]
async fn a_planted_part_file_link_is_refused_not_followed() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    let victim = victim(root.path());
    std::os::unix::fs::symlink(&victim, part(&dir)).unwrap();
    let err = durl_fetch::get(&request(&server, "/f", &dir), &())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotRegularFile { path, found: "a symbolic link" } if *path == part(&dir)),
        "{err:?}"
    );
    assert_eq!(err.kind(), durl_fetch::ErrorKind::Io);
    assert!(err.to_string().contains("out.bin.durl-part"), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(!out(&dir).exists());
    assert_eq!(server.requests_for("/f"), 0, "refused before any request");
}

#[tokio::test]
async fn a_planted_state_temporary_link_is_not_written_through() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    // The cut makes durl checkpoint (write the state file through its temporary) mid-way.
    server.push_fault("/f", Fault::CutAfter(50_000));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    let victim = victim(root.path());
    let tmp = dir.join("out.bin.durl-state.tmp");
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    durl_fetch::get(&request(&server, "/f", &dir), &())
        .await
        .unwrap();
    assert_complete(&dir, &expected(LEN));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert!(std::fs::symlink_metadata(&tmp).is_err(), "temporary left");
    assert!(!std::fs::symlink_metadata(out(&dir)).unwrap().is_symlink());
}

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

#[tokio::test]
async fn a_fifo_output_is_refused_even_with_force() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    mkfifo(&out(dir.path()));
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(out(dir.path()), &link).unwrap();
    for overwrite in [true, false] {
        for output in [out(dir.path()), link.clone()] {
            let req = request(&server, "/f", dir.path())
                .output(&output)
                .overwrite(overwrite);
            let err = durl_fetch::get(&req, &()).await.unwrap_err();
            assert!(
                matches!(&err, Error::NotRegularFile { path, found: "a FIFO" } if *path == output),
                "{err:?}"
            );
        }
    }
    let t = std::fs::symlink_metadata(out(dir.path()))
        .unwrap()
        .file_type();
    assert!(t.is_fifo(), "the FIFO was replaced");
    assert!(!part(dir.path()).exists());
    assert_eq!(server.requests_for("/f"), 0);
}

#[tokio::test]
async fn a_long_server_name_leaves_room_for_the_state_temporary() {
    // Issue 13, item 12: a 250-byte name is valid, but `.durl-state.tmp` would not fit.
    let server = FaultServer::start();
    let long = format!("{}.iso", "n".repeat(246));
    server.put(
        "/dl",
        Resource::pattern(SEED, LEN)
            .with_content_disposition(&format!("attachment; filename=\"{long}\"")),
    );
    server.push_fault("/dl", Fault::CutAfter(50_000));
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/dl", dir.path()).dir(dir.path());
    let outcome = durl_fetch::get(&req, &()).await.unwrap();
    let name = outcome.path.file_name().unwrap().to_str().unwrap();
    assert!(name.ends_with("n.iso") && name.len() <= 240, "{name}");
    assert_eq!(std::fs::read(&outcome.path).unwrap(), expected(LEN));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn a_bidi_override_in_a_server_name_is_refused() {
    // `\u{202E}txt.exe` is shown as `exe.txt`: the URL's name is used instead.
    let server = FaultServer::start();
    server.put(
        "/report.bin",
        Resource::pattern(SEED, 1000)
            .with_content_disposition("attachment; filename*=UTF-8''%E2%80%AEtxt.exe"),
    );
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/report.bin", dir.path()).dir(dir.path());
    let outcome = durl_fetch::get(&req, &()).await.unwrap();
    assert_eq!(outcome.path, dir.path().join("report.bin"));
}

fn api_key() -> durl_fetch::header::HeaderMap {
    let mut h = durl_fetch::header::HeaderMap::new();
    h.insert("x-api-key", "s3cret".parse().unwrap());
    h
}

#[tokio::test]
async fn headers_are_dropped_on_a_redirect_to_another_origin_and_no_referer_is_sent() {
    // Issue 13, item 14: two servers are two origins (another port).
    let a = FaultServer::start();
    let b = FaultServer::start();
    b.put("/f", Resource::pattern(SEED, LEN));
    a.put("/signed", Resource::redirect(302, &b.url("/f")));
    a.put("/same", Resource::redirect(307, "/g"));
    a.put("/g", Resource::pattern(SEED, LEN));
    for trusted in [false, true] {
        let before = b.log().len();
        let dir = tempfile::tempdir().unwrap();
        let req = request(&a, "/signed?sig=abc", dir.path())
            .headers(api_key())
            .location_trusted(trusted);
        durl_fetch::get(&req, &()).await.unwrap();
        assert_complete(dir.path(), &expected(LEN));
        let first = a.log().pop().unwrap();
        assert_eq!(first.header("x-api-key"), Some("s3cret"));
        let log = b.log();
        assert!(log.len() > before);
        for got in &log[before..] {
            assert_eq!(got.header("referer"), None, "{got:?}");
            let want = trusted.then_some("s3cret");
            assert_eq!(got.header("x-api-key"), want, "trusted {trusted}: {got:?}");
        }
    }
    // Within the origin the headers go on.
    let dir = tempfile::tempdir().unwrap();
    let req = request(&a, "/same", dir.path()).headers(api_key());
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    let g: Vec<_> = a.log().into_iter().filter(|s| s.path == "/g").collect();
    assert!(!g.is_empty());
    for got in g {
        assert_eq!(got.header("x-api-key"), Some("s3cret"));
        assert_eq!(got.header("referer"), None);
    }
}

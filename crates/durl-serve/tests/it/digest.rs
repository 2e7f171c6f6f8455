//! RFC 9530 digests: `Repr-Digest` for `Want-Repr-Digest` / `Want-Content-Digest`, checked
//! against `sha256sum` and asked for with curl; cached per file version; large files hashed
//! in the background; `precompute_digests` hashes at startup.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::harness::{Server, bounded, content, raw};

/// `sha256sum FILE`, as the field value `sha-256=:BASE64:`.
fn sha256sum_field(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.split(' ').next().unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The header fields curl prints for `curl -sS -D - -o /dev/null -H FIELD url`, lowercased
/// names.
fn curl_fields(url: &str, extra: &[&str]) -> Vec<(String, String)> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--noproxy",
        "*",
        "--max-time",
        "10",
        "-D",
        "-",
        "-o",
        "/dev/null",
    ]);
    for e in extra {
        cmd.args(["-H", e]);
    }
    let out = cmd.arg(url).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn request(path: &str, fields: &[&str]) -> Vec<u8> {
    let mut r = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for f in fields {
        r.push_str(f);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

#[tokio::test]
async fn curl_gets_a_repr_digest_equal_to_sha256sum() {
    bounded(async {
        let data = content(300_000);
        let server = Server::start(
            move |root| std::fs::write(root.join("f.bin"), &data).unwrap(),
            |c| c,
        )
        .await;
        let path = server.root.join("f.bin");
        let url = server.url("/f.bin");
        let want = sha256sum_field(&path);
        let fields = tokio::task::spawn_blocking(move || {
            curl_fields(&url, &["Want-Repr-Digest: sha-256=10"])
        })
        .await
        .unwrap();
        assert_eq!(field(&fields, "repr-digest"), Some(want.as_str()));
        assert_eq!(field(&fields, "content-digest"), None, "not asked for");
        // Without a want field: no digest.
        let plain = raw(server.addr, &request("/f.bin", &[])).await;
        assert_eq!(plain.header("repr-digest"), None);
        // A range carries the digest of the whole representation; sha-512 when preferred.
        let ranged = raw(
            server.addr,
            &request(
                "/f.bin",
                &["Range: bytes=0-9", "Want-Repr-Digest: sha-256=1, sha-512=9"],
            ),
        )
        .await;
        assert_eq!(ranged.status, 206);
        let sha512 = ranged.header("repr-digest").unwrap();
        assert!(
            sha512.starts_with("sha-512=:") && sha512.len() == 9 + 88 + 1,
            "{sha512}"
        );
        // Want-Content-Digest: both fields on a whole 200.
        let whole = raw(
            server.addr,
            &request("/f.bin", &["Want-Content-Digest: sha-256=3"]),
        )
        .await;
        assert_eq!(whole.header("content-digest"), Some(want.as_str()));
        assert_eq!(whole.header("repr-digest"), Some(want.as_str()));
        // Nothing acceptable: nothing.
        let none = raw(
            server.addr,
            &request("/f.bin", &["Want-Repr-Digest: md5=10, sha-256=0"]),
        )
        .await;
        assert_eq!(none.header("repr-digest"), None);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_changed_file_gets_a_new_digest() {
    bounded(async {
        let server = Server::start(
            |root| std::fs::write(root.join("a.txt"), b"one").unwrap(),
            |c| c,
        )
        .await;
        let ask = request("/a.txt", &["Want-Repr-Digest: sha-256=10"]);
        let first = raw(server.addr, &ask).await;
        let path = server.root.join("a.txt");
        assert_eq!(
            first.header("repr-digest"),
            Some(sha256sum_field(&path).as_str())
        );
        std::fs::write(&path, b"two, longer").unwrap();
        let second = raw(server.addr, &ask).await;
        assert_eq!(
            second.header("repr-digest"),
            Some(sha256sum_field(&path).as_str())
        );
        assert_ne!(first.header("repr-digest"), second.header("repr-digest"));
        server.stop().await;
    })
    .await;
}

/// Whether user extended attributes work where the tests write.
fn user_xattrs_work(dir: &Path) -> bool {
    let probe = dir.join("xattr-probe");
    std::fs::write(&probe, b"x").unwrap();
    let ok = xattr::set(&probe, "user.durl.probe", b"1").is_ok();
    std::fs::remove_file(probe).unwrap();
    ok
}

#[tokio::test]
async fn a_large_file_is_hashed_in_the_background_and_the_digest_kept_in_an_xattr() {
    bounded(async {
        let data = content(6 << 20);
        let server = Server::start(
            move |root| std::fs::write(root.join("big.bin"), &data).unwrap(),
            |c| c,
        )
        .await;
        let path = server.root.join("big.bin");
        let want = sha256sum_field(&path);
        let ask = request(
            "/big.bin",
            &["Range: bytes=0-0", "Want-Repr-Digest: sha-256=10"],
        );
        // The first answer does not wait for the hash.
        let first = raw(server.addr, &ask).await;
        assert_eq!(first.status, 206);
        let deadline = Instant::now() + Duration::from_secs(20);
        let got = loop {
            let r = raw(server.addr, &ask).await;
            if let Some(v) = r.header("repr-digest") {
                break v.to_owned();
            }
            assert!(Instant::now() < deadline, "no digest within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(got, want);
        if user_xattrs_work(server.base()) {
            let text = xattr::get(&path, "user.durl.digest").unwrap().unwrap();
            let text = String::from_utf8(text).unwrap();
            assert!(text.starts_with("v1 "), "{text}");
            assert!(
                text.contains(&format!(" {} ", 6 << 20)),
                "keyed by size: {text}"
            );
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn precomputed_digests_are_ready_for_the_first_request() {
    bounded(async {
        let data = content(5 << 20);
        let fill = move |root: &Path| {
            std::fs::create_dir(root.join("sub")).unwrap();
            std::fs::write(root.join("sub/big.bin"), &data).unwrap();
        };
        let server = Server::start(fill, |c| c.precompute_digests(true)).await;
        let path = server.root.join("sub/big.bin");
        if !user_xattrs_work(server.base()) {
            server.stop().await;
            return;
        }
        // No request yet: the startup walk alone writes the attribute.
        let deadline = Instant::now() + Duration::from_secs(20);
        while xattr::get(&path, "user.durl.digest")
            .ok()
            .flatten()
            .is_none()
        {
            assert!(Instant::now() < deadline, "not precomputed within 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let r = raw(
            server.addr,
            &request("/sub/big.bin", &["Want-Repr-Digest: sha-256=1"]),
        )
        .await;
        assert_eq!(
            r.header("repr-digest"),
            Some(sha256sum_field(&path).as_str())
        );
        server.stop().await;
    })
    .await;
}

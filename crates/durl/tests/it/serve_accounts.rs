//! `durl serve --auth-file --allow` with curl: the right password, a wrong one, a user
//! without rights (403), an anonymous subtree, a listing filtered by rights, the rate limit
//! on failed logins; `durl passwd` makes a hash the server accepts; a weak hash is refused.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::serve::Serve;

/// `curl -s` of `path` as `user` (`None`: anonymous): the status and the body.
fn curl(server: &Serve, path: &str, user: Option<&str>) -> (u16, String, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--noproxy", "*", "--max-time", "20", "-D", "-"]);
    if let Some(user) = user {
        cmd.args(["-u", user]);
    }
    let out = cmd.arg(server.url(path)).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// `durl passwd USER` with the password on stdin.
fn passwd(dir: &Path, user: &str, password: &str) -> String {
    let mut child = crate::durl(dir)
        .args(["passwd", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `openssl passwd -6 PASSWORD`: SHA-512-crypt from a tool nobody here wrote.
fn openssl_sha512(password: &str) -> String {
    let out = Command::new("openssl")
        .args(["passwd", "-6", password])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn tree(www: &Path) {
    for (path, text) in [
        ("top.txt", "top"),
        ("private/p.txt", "private"),
        ("public/a.txt", "public a"),
        ("public/open/o.txt", "open to all"),
    ] {
        let p = www.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

#[test]
fn accounts_rights_and_the_rate_limit_with_curl() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    tree(&www);
    let alice = passwd(dir.path(), "alice", "alice pw");
    assert!(alice.starts_with("alice:$argon2id$"), "{alice}");
    let users = dir.path().join("users");
    std::fs::write(
        &users,
        format!(
            "# durl accounts\n{alice}\nbob:{}\n",
            openssl_sha512("bob-pw")
        ),
    )
    .unwrap();
    let server = Serve::start(
        &www,
        &[
            "--auth-file",
            users.to_str().unwrap(),
            "--allow",
            "alice:rw:/",
            "--allow",
            "bob:r:/public",
            "--allow",
            "*:r:/public/open",
        ],
    );
    // The right password; a wrong one.
    assert_eq!(
        curl(&server, "/private/p.txt", Some("alice:alice pw")).2,
        "private"
    );
    let (status, head, _) = curl(&server, "/private/p.txt", Some("alice:wrong"));
    assert_eq!(status, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: basic")
    );
    // bob: read in /public only.
    assert_eq!(curl(&server, "/public/a.txt", Some("bob:bob-pw")).0, 200);
    assert_eq!(curl(&server, "/private/p.txt", Some("bob:bob-pw")).0, 403);
    assert_eq!(curl(&server, "/top.txt", Some("bob:bob-pw")).0, 403);
    // Anonymous: the open subtree only; elsewhere asked to log in.
    assert_eq!(curl(&server, "/public/open/o.txt", None).2, "open to all");
    assert_eq!(curl(&server, "/public/a.txt", None).0, 401);
    assert_eq!(curl(&server, "/private/", None).0, 401);
    // Listings show only what the user may read (and the way there).
    let (status, _, root) = curl(&server, "/", Some("bob:bob-pw"));
    assert_eq!(status, 200);
    assert!(
        root.contains("public/") && !root.contains("private") && !root.contains("top.txt"),
        "{root}"
    );
    let (_, _, root) = curl(&server, "/", Some("alice:alice pw"));
    assert!(root.contains("private/") && root.contains("top.txt"));
    let (status, _, public) = curl(&server, "/public/", None);
    assert_eq!(status, 200);
    assert!(
        public.contains("open/") && !public.contains("a.txt"),
        "{public}"
    );
    // Five failures from one address, then even the right password waits (429).
    for _ in 0..5 {
        assert_eq!(curl(&server, "/top.txt", Some("alice:guess")).0, 401);
    }
    let (status, head, _) = curl(&server, "/top.txt", Some("alice:alice pw"));
    assert_eq!(status, 429, "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    // Anonymous requests are not held up.
    assert_eq!(curl(&server, "/public/open/o.txt", None).0, 200);
    let (status, stderr, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(
        stderr.contains("failed login from 127.0.0.1 as \"alice\""),
        "{stderr}"
    );
    assert!(
        !stderr.contains("alice pw") && !stderr.contains("guess"),
        "no passwords logged"
    );
}

#[test]
fn a_weak_hash_is_refused_naming_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, "# ok\nann:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n").unwrap();
    let out = crate::durl(dir.path())
        .args(["serve", ".", "--port", "0", "--auth-file", "users"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("users line 2: unsalted SHA-1 ({SHA}) is refused"),
        "{stderr}"
    );
    let out = crate::durl(dir.path())
        .args(["serve", ".", "--port", "0", "--allow", "bob:x:/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RIGHTS must be r, w or rw"));
}

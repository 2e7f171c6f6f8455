//! Logins end to end: `-u`, `--password-stdin` and `.netrc` for HTTP (Basic, against the
//! testkit server) and for `durl put ftp://` (against a real vsftpd); the password never
//! printed, in errors, hints or `--json`.

use std::io::Write as _;
use std::process::Stdio;

use durl_testkit::{FaultServer, Resource, Vsftpd, VsftpdOptions, pattern_bytes};

use crate::durl;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `durl ARGS` in `dir` with `stdin` fed (if any); returns (exit code, stdout, stderr).
fn run(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut cmd = durl(dir);
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn http_logins_from_user_password_stdin_and_netrc() {
    let server = FaultServer::start();
    server.put(
        "/f.bin",
        Resource::pattern(5, 100_000).with_basic_auth("ann", "s3cret"),
    );
    let dir = tempfile::tempdir().unwrap();
    let netrc = dir.path().join("netrc");
    std::fs::write(&netrc, "machine 127.0.0.1 login ann password s3cret\n").unwrap();
    let empty = dir.path().join("empty-netrc");
    std::fs::write(&empty, "").unwrap();
    let url = server.url("/f.bin");
    let netrc = netrc.to_str().unwrap();
    let empty = empty.to_str().unwrap();
    let cases: &[(&[&str], Option<&str>, i32)] = &[
        (&["--netrc-file", empty], None, 11),
        (&["--netrc-file", empty, "--user", "ann:s3cret"], None, 0),
        (
            &["--netrc-file", empty, "-u", "ann", "--password-stdin"],
            Some("s3cret\n"),
            0,
        ),
        (&["--netrc-file", netrc], None, 0),
        // --user beats netrc
        (&["--netrc-file", netrc, "--user", "ann:wrong"], None, 11),
        (
            &["--netrc-file", empty, "--user", "ann:wrong", "--json"],
            None,
            11,
        ),
    ];
    for (i, (extra, stdin, code)) in cases.iter().enumerate() {
        let name = format!("out{i}.bin");
        let mut args = vec!["get", "--retries", "0", "-o", &name];
        args.extend_from_slice(extra);
        args.push(&url);
        let (got, stdout, stderr) = run(dir.path(), &args, *stdin);
        assert_eq!(got, *code, "{extra:?}: {stderr}");
        let all = format!("{stdout}{stderr}");
        assert!(
            !all.contains("s3cret") && !all.contains("wrong"),
            "password shown: {all}"
        );
        assert_eq!(dir.path().join(&name).exists(), *code == 0, "{extra:?}");
        if *code == 0 {
            assert_eq!(
                std::fs::read(dir.path().join(&name)).unwrap(),
                pattern_bytes(5, 0..100_000)
            );
        } else {
            // One line naming the URL and the status, and a hint that is true.
            assert!(stderr.contains(&url) && stderr.contains("401"), "{stderr}");
            assert!(
                stderr.contains("hint:") && stderr.contains("-u"),
                "{stderr}"
            );
        }
    }
}

#[test]
fn put_ftp_logs_in_with_user_and_netrc() {
    // vsftpd here serves anonymous users only: a named user is refused (530), so the login
    // durl sent is the one given.
    let server = Vsftpd::start_with(VsftpdOptions {
        upload: true,
        tls: false,
    });
    let dir = tempfile::tempdir().unwrap();
    let data = pattern_bytes(9, 0..200_000);
    std::fs::write(dir.path().join("a.bin"), &data).unwrap();
    let netrc = dir.path().join("netrc");
    std::fs::write(&netrc, "machine 127.0.0.1 login bob password hunter2\n").unwrap();
    let netrc = netrc.to_str().unwrap();
    let url = server.url("up/");
    let cases: &[(&[&str], Option<&str>, i32)] = &[
        (&["--user", "bob:hunter2"], None, 11),
        (&["-u", "bob", "--password-stdin"], Some("hunter2\n"), 11),
        (&["--netrc-file", netrc], None, 11),
        (&["--netrc-file", netrc, "--json"], None, 11),
        // --user beats netrc: anonymous with an e-mail address as password
        (
            &["--netrc-file", netrc, "-u", "anonymous:me@example"],
            None,
            0,
        ),
    ];
    for (extra, stdin, code) in cases {
        let mut args = vec!["put", "--retries", "0"];
        args.extend_from_slice(extra);
        args.extend(["a.bin", &url]);
        let (got, stdout, stderr) = run(dir.path(), &args, *stdin);
        assert_eq!(got, *code, "{extra:?}: {stderr}");
        let all = format!("{stdout}{stderr}");
        assert!(!all.contains("hunter2"), "password shown: {all}");
        if *code != 0 {
            assert!(stderr.contains("530"), "{stderr}");
            assert!(server.read("up/a.bin").is_none());
        }
    }
    assert_eq!(server.read("up/a.bin").unwrap(), data);
}

#[test]
fn a_password_in_the_url_is_never_printed() {
    // A closed port: every attempt fails with "connection refused", whose message names the
    // URL.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = FaultServer::start();
    server.put(
        "/f.bin",
        Resource::pattern(5, 1000).with_basic_auth("ann", "s3cret"),
    );
    let wrong = server
        .url("/f.bin")
        .replace("http://", "http://ann:hunter2@");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin"), b"data").unwrap();
    let refused = |scheme: &str| format!("{scheme}://ann:hunter2@127.0.0.1:{port}/x/");
    let cases: Vec<Vec<String>> = vec![
        vec!["get".into(), refused("http")],
        vec!["get".into(), "--json".into(), refused("http")],
        vec!["get".into(), refused("ftp") + "f"],
        vec!["get".into(), "--json".into(), wrong.clone()],
        vec!["get".into(), "-o".into(), "o.bin".into(), wrong],
        vec!["get".into(), "http://ann:hunter2@127.0.0.1:bad/".into()],
        vec![
            "put".into(),
            "--json".into(),
            "a.bin".into(),
            refused("http"),
        ],
        vec!["put".into(), "a.bin".into(), refused("ftp")],
    ];
    for case in cases {
        let mut args = vec!["--retries", "0"];
        args.splice(0..0, [case[0].as_str()]);
        args.extend(case[1..].iter().map(String::as_str));
        let (code, stdout, stderr) = run(dir.path(), &args, None);
        assert_ne!(code, 0, "{args:?}");
        let all = format!("{stdout}{stderr}");
        assert!(
            !all.contains("hunter2"),
            "password shown for {args:?}: {all}"
        );
        assert!(all.contains("ann@127.0.0.1"), "{args:?}: {all}");
    }
}

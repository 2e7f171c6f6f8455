//! `durl get ftp://…` end to end: `kill -9` and resume against a real vsftpd, the exit
//! codes of FTP refusals, logins from `--user`, `--password-stdin` and `.netrc`, and FTP
//! entries in lists.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use durl_fetch::fuzzing::State;
use durl_testkit::{FaultServer, FtpServer, Resource, Vsftpd, pattern_bytes};

use crate::durl;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The bytes the state file claims (0 without a readable one).
fn durable(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| State::decode(&t).ok())
        .map_or(0, |s| s.durable())
}

#[test]
fn kill_9_then_the_same_command_resumes_exactly_one_and_four_connections() {
    let len: u64 = 8 << 20;
    let body = pattern_bytes(21, 0..len);
    let server = Vsftpd::start();
    server.put("big.bin", &body);
    for connections in ["1", "4"] {
        let dir = tempfile::tempdir().unwrap();
        let state_path = dir.path().join("big.bin.durl-state");
        let args = [
            "get",
            "-q",
            "-x",
            connections,
            "--limit-rate",
            "4M",
            "--checkpoint-interval",
            "0.1",
            &server.url("big.bin"),
        ];
        let mut child = durl(dir.path()).args(args).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while durable(&state_path) < 2 << 20 {
            assert!(Instant::now() < deadline, "-x {connections}: no checkpoint");
            assert!(
                child.try_wait().unwrap().is_none(),
                "-x {connections}: exited"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let state = State::decode(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
        let held = state.have.total();
        assert!(held >= 2 << 20 && held < len, "-x {connections}: {held}");

        let before = server.wait_downloads(0).len();
        let out = durl(dir.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(std::fs::read(dir.path().join("big.bin")).unwrap() == body);
        assert!(!state_path.exists());
        if connections == "1" {
            // vsftpd's own count: the resumed RETR sent exactly the bytes not held.
            let log = server.wait_downloads(before + 1);
            assert_eq!(log.last(), Some(&(len - held)), "{log:?}");
        }
    }
}

#[test]
fn ftp_refusals_have_their_own_exit_codes_and_show_the_reply() {
    let server = Vsftpd::start();
    server.put("f.bin", b"data");
    server.put("secret.bin", b"data");
    server.forbid("secret.bin");
    let dir = tempfile::tempdir().unwrap();
    // Local users are disabled in this vsftpd: any named user is refused.
    let wrong = server.url("f.bin").replace("ftp://", "ftp://bob:hunter2@");
    let table = [
        (wrong, 11, "530"),
        (server.url("nope.bin"), 12, "550"),
        (server.url("secret.bin"), 13, "550"),
    ];
    for (url, code, reply) in table {
        let out = durl(dir.path())
            .args(["get", "--retries", "0", &url])
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{url}: {stderr}");
        assert!(stderr.contains(reply), "{stderr}");
        assert!(!stderr.contains("hunter2"), "password shown: {stderr}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "files left"
    );
}

#[test]
fn logins_from_user_password_stdin_and_netrc() {
    let server = FtpServer::start();
    server.require_login("ann", "s3cret");
    server.put("f.bin", pattern_bytes(5, 0..10_000));
    let dir = tempfile::tempdir().unwrap();
    let netrc = dir.path().join("netrc");
    std::fs::write(
        &netrc,
        "machine 127.0.0.1\n  login ann\n  password s3cret\n",
    )
    .unwrap();
    let empty = dir.path().join("empty-netrc");
    std::fs::write(&empty, "").unwrap();
    let url = server.url("f.bin");
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
    ];
    for (i, (extra, stdin, code)) in cases.iter().enumerate() {
        let name = format!("out{i}.bin");
        let mut cmd = durl(dir.path());
        cmd.args(["get", "-q", "--retries", "0", "-o", &name])
            .args(*extra)
            .arg(&url)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
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
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{extra:?}: {stderr}");
        assert!(
            !stderr.contains("s3cret") && !stderr.contains("wrong"),
            "{stderr}"
        );
        assert_eq!(dir.path().join(&name).exists(), *code == 0, "{extra:?}");
    }
}

#[test]
fn lists_take_ftp_entries_beside_http_ones() {
    let ftp = FtpServer::start();
    ftp.put("a.bin", pattern_bytes(1, 0..300_000));
    ftp.put("b.bin", pattern_bytes(2, 0..3_000_000));
    let http = FaultServer::start();
    http.put("/c.bin", Resource::pattern(3, 200_000));
    let dir = tempfile::tempdir().unwrap();
    let list = format!(
        "{}\n{}\n  out=bee.bin\n{}\n",
        ftp.url("a.bin"),
        ftp.url("b.bin"),
        http.url("/c.bin")
    );
    std::fs::write(dir.path().join("list.txt"), list).unwrap();
    let run = || {
        durl(dir.path())
            .args(["get", "-q", "-x", "2", "-i", "list.txt"])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let read = |name: &str| std::fs::read(dir.path().join(name)).unwrap();
    assert!(read("a.bin") == pattern_bytes(1, 0..300_000));
    assert!(read("bee.bin") == pattern_bytes(2, 0..3_000_000));
    assert!(read("c.bin") == pattern_bytes(3, 0..200_000));
    // Rerun: every file is recognised as complete without a transfer.
    let retrs = ftp.retrs().len();
    let out = run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(ftp.retrs().len(), retrs);
}

#[test]
fn continue_adopts_an_ftp_prefix_and_knows_a_complete_file() {
    let body = pattern_bytes(31, 0..3_000_000);
    let server = Vsftpd::start();
    server.put("f.bin", &body);
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        durl(dir.path())
            .args(["get", "-c", "-o", "f.bin", &server.url("f.bin")])
            .output()
            .unwrap()
    };
    // A prefix left by another tool: its tail is compared, the rest fetched with REST.
    std::fs::write(dir.path().join("f.bin"), &body[..1_000_000]).unwrap();
    let out = run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(dir.path().join("f.bin")).unwrap() == body);
    // Run again: complete, nothing fetched but the tail check.
    let out = run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("already complete"),
        "{}",
        text(&out.stderr)
    );
    assert!(std::fs::read(dir.path().join("f.bin")).unwrap() == body);
}

#[test]
fn ftp_mirrors_in_a_list_drop_one_of_another_version() {
    let len = 4 << 20;
    let body = pattern_bytes(41, 0..len);
    let (a, b, c) = (FtpServer::start(), FtpServer::start(), FtpServer::start());
    a.put_with_mdtm("f.bin", body.clone(), "20300101000000");
    b.put_with_mdtm("f.bin", body.clone(), "20300101000000");
    c.put_with_mdtm("f.bin", pattern_bytes(42, 0..len), "20310101000000");
    let dir = tempfile::tempdir().unwrap();
    let list = format!(
        "{}\t{}\t{}\n  out=f.bin\n",
        a.url("f.bin"),
        b.url("f.bin"),
        c.url("f.bin")
    );
    std::fs::write(dir.path().join("list.txt"), list).unwrap();
    let out = durl(dir.path())
        .args(["get", "-x", "4", "-i", "list.txt"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(std::fs::read(dir.path().join("f.bin")).unwrap() == body);
    assert!(
        stderr.contains("mirror") && stderr.contains("differs"),
        "{stderr}"
    );
    assert!(!a.retrs().is_empty() && !b.retrs().is_empty());
    assert!(
        c.retrs().is_empty(),
        "no byte of the other version was fetched"
    );
}

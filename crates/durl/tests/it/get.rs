use std::process::Stdio;
use std::time::{Duration, Instant};

use durl_testkit::{FaultServer, Resource, pattern_bytes};

use crate::{durl, signal};

const SEED: u64 = 3;

fn server(len: u64) -> FaultServer {
    let server = FaultServer::start();
    server.put("/file.bin", Resource::pattern(SEED, len));
    server
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn downloads_into_the_url_name_and_prints_one_summary_line() {
    let server = server(100_000);
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("file.bin")).unwrap(),
        pattern_bytes(SEED, 0..100_000)
    );
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("file.bin") && stderr.contains("97.66 KiB"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // Quiet: nothing at all.
    let out = durl(dir.path())
        .args(["get", "-q", "-o", "again.bin", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn output_and_dir_options_place_the_file() {
    let server = server(1000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let out = durl(dir.path())
        .args([
            "get",
            "-q",
            "-d",
            "sub",
            "-o",
            "named.bin",
            &server.url("/file.bin"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("sub/named.bin").exists());
}

#[test]
fn an_existing_file_is_refused_with_exit_7_and_kept() {
    let server = server(1000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file.bin"), b"mine").unwrap();
    let out = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("file.bin already exists"), "{stderr}");
    assert!(
        stderr.contains("--continue") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(dir.path().join("file.bin")).unwrap(), b"mine");

    let out = durl(dir.path())
        .args(["get", "--force", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("file.bin")).unwrap(),
        pattern_bytes(SEED, 0..1000)
    );
}

#[test]
fn continue_on_a_complete_file_succeeds_without_downloading_it() {
    let server = server(200_000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file.bin"), pattern_bytes(SEED, 0..200_000)).unwrap();
    let out = durl(dir.path())
        .args(["get", "-c", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("already complete"));
    assert_eq!(
        server.body_bytes_served("/file.bin"),
        64 << 10,
        "only the tail check"
    );
}

#[test]
fn http_errors_exit_4_naming_the_url_and_leave_nothing() {
    let server = server(1000);
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/nope.bin");
    let out = durl(dir.path()).args(["get", &url]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("HTTP 404") && stderr.contains(&url),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["get", "not a url"],
        vec!["get", "gopher://example.invalid/x"],
        vec!["get", "-H", "NoColon", "http://127.0.0.1:9/x"],
        vec!["get", "--stall-timeout", "0", "http://127.0.0.1:9/x"],
        vec![
            "get",
            "--cacert",
            "/nonexistent.pem",
            "http://127.0.0.1:9/x",
        ],
    ] {
        let out = durl(dir.path()).args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(
            text(&out.stderr).lines().count(),
            1,
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn network_failure_exits_5_after_the_retries() {
    // Nothing listens on a port we just closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "--retries", "1", "--retry-delay", "0.01"])
        .arg(format!("http://127.0.0.1:{port}/x.bin"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("retry 1"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sigint_checkpoints_exits_130_with_a_hint_and_the_next_run_continues() {
    let len = 4 << 20;
    let server = FaultServer::start();
    server.put(
        "/file.bin",
        Resource::pattern(SEED, len).with_rate_limit(1 << 20),
    );
    let dir = tempfile::tempdir().unwrap();
    let child = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(server.wait_until_body_bytes("/file.bin", 500_000, Duration::from_secs(20)));
    signal(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("interrupted") && stderr.contains("run the same command again"),
        "{stderr}"
    );
    let part = std::fs::metadata(dir.path().join("file.bin.durl-part"))
        .unwrap()
        .len();
    assert!(part >= 400_000, "{part}");

    server.put("/file.bin", Resource::pattern(SEED, len));
    let requests_before = server.log().len();
    let out = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("resumed at"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.path().join("file.bin")).unwrap(),
        pattern_bytes(SEED, 0..len)
    );
    let second_run: u64 = server.log()[requests_before..]
        .iter()
        .map(|s| s.body_bytes)
        .sum();
    assert_eq!(
        second_run,
        len - part,
        "the second run fetched only what was missing"
    );
}

#[test]
fn sigterm_and_sighup_checkpoint_and_exit_143_and_129() {
    for (sig, code) in [("TERM", 143), ("HUP", 129)] {
        let server = FaultServer::start();
        server.put(
            "/file.bin",
            Resource::pattern(SEED, 4 << 20).with_rate_limit(1 << 20),
        );
        let dir = tempfile::tempdir().unwrap();
        let child = durl(dir.path())
            .args(["get", "-q", &server.url("/file.bin")])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(server.wait_until_body_bytes("/file.bin", 100_000, Duration::from_secs(20)));
        signal(child.id(), sig);
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "SIG{sig}");
        assert!(dir.path().join("file.bin.durl-state").exists());
    }
}

#[test]
fn a_second_durl_on_the_same_output_exits_8() {
    let server = FaultServer::start();
    server.put(
        "/file.bin",
        Resource::pattern(SEED, 4 << 20).with_rate_limit(1 << 20),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut first = durl(dir.path())
        .args(["get", "-q", &server.url("/file.bin")])
        .spawn()
        .unwrap();
    assert!(server.wait_until_body_bytes("/file.bin", 50_000, Duration::from_secs(20)));
    let start = Instant::now();
    let out = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("another durl process"),
        "{}",
        text(&out.stderr)
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn https_with_cacert() {
    let server = FaultServer::start_tls();
    server.put("/file.bin", Resource::pattern(SEED, 50_000));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), server.ca_cert_pem().unwrap()).unwrap();
    let out = durl(dir.path())
        .args(["get", "-q", "--cacert", "ca.pem", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = durl(dir.path())
        .args([
            "get",
            "-q",
            "--retries",
            "0",
            "-o",
            "x.bin",
            &server.url("/file.bin"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "untrusted: {}",
        text(&out.stderr)
    );
}

#[test]
fn a_write_error_exits_3_with_a_clear_message_and_keeps_the_partial() {
    // The file-size limit makes write(2) fail part-way (EFBIG), through the same path as a
    // full disk (ENOSPC): the error names the file and the partial stays for the next run.
    let len = 2 << 20;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "trap '' XFSZ; ulimit -f 512; exec '{}' get -q --retries 0 '{}'",
        env!("CARGO_BIN_EXE_durl"),
        server.url("/file.bin")
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("file.bin.durl-part"), "{stderr}");
    assert!(stderr.contains("run the same command again"), "{stderr}");
    let part = std::fs::metadata(dir.path().join("file.bin.durl-part"))
        .unwrap()
        .len();
    assert!(part > 0, "partial kept");

    // The bytes written before the failure were synced and recorded (issue 14.2: the state
    // was missing when the write failed before the first checkpoint, and the next run
    // started from byte 0).
    assert!(dir.path().join("file.bin.durl-state").exists(), "{stderr}");
    assert!(!stderr.contains("an earlier write failed"), "{stderr}");
    // The message names the OS cause (EFBIG, as ENOSPC would be "No space left on device").
    assert!(stderr.contains("File too large"), "{stderr}");
    let before = server.body_bytes_served("/file.bin");
    let out = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("resumed at"),
        "{}",
        text(&out.stderr)
    );
    let rerun = server.body_bytes_served("/file.bin") - before;
    assert!(rerun < len, "the rerun fetched {rerun} of {len} bytes");
    assert_eq!(
        std::fs::read(dir.path().join("file.bin")).unwrap(),
        pattern_bytes(SEED, 0..len)
    );
}

#[test]
fn a_full_tmpfs_before_the_first_checkpoint_leaves_a_partial_the_rerun_resumes() {
    // Issue 14.2 on a real full disk: a 1 MiB tmpfs (in a private mount namespace, so it
    // vanishes with the script) and a 3 MiB file on a fast link fill the disk long before the
    // first checkpoint, with one connection and with four. After room is made, the same
    // command resumes. Needs unshare(1) and CAP_SYS_ADMIN (root, as CI runs): without them
    // it fails and says so, it does not skip.
    let len = 3 << 20;
    for split in ["1", "4"] {
        let server = server(len);
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        let out = dir.path().join("out");
        std::fs::create_dir(&mnt).unwrap();
        std::fs::create_dir(&out).unwrap();
        let script = r#"
            mount -t tmpfs -o size=1m tmpfs "$1" 2>/dev/null || exit 99
            cd "$1" || exit 98
            "$3" get -x "$5" --retries 0 "$4" 2> "$2/first.err"; echo $? > "$2/first.rc"
            test -e file.bin.durl-state && touch "$2/state"
            { ls -ls; cat file.bin.durl-state; } > "$2/ls" 2>&1
            touch "$2/first.done"
            read -r _
            mount -o remount,size=8m "$1" || exit 97
            "$3" get -x "$5" "$4" 2> "$2/second.err"; echo $? > "$2/second.rc"
            cp file.bin "$2/file.bin"
        "#;
        let child = std::process::Command::new("unshare")
            .args(["-m", "--propagation", "private", "bash", "-c", script, "x"])
            .arg(&mnt)
            .arg(&out)
            .arg(env!("CARGO_BIN_EXE_durl"))
            .arg(server.url("/file.bin"))
            .arg(split)
            .stdin(Stdio::piped())
            .spawn();
        let mut child = child.expect("unshare(1) from util-linux");
        // Between the runs: what the first one was sent (bytes in flight when the disk
        // filled included), then room is made and the second run starts.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !out.join("first.done").exists() && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let before = server.body_bytes_served("/file.bin");
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().unwrap();
            let _ = stdin.write_all(b"go\n");
        }
        let status = child.wait();
        let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
        assert!(
            out.join("first.rc").exists(),
            "no tmpfs could be mounted ({status:?}): this test needs CAP_SYS_ADMIN (root, as CI)"
        );
        let first = read("first.err");
        let listing = read("ls");
        assert_eq!(read("first.rc").trim(), "3", "-x {split}: {first}");
        assert!(first.contains("No space left on device"), "{first}");
        assert!(first.contains("run the same command again"), "{first}");
        assert!(
            out.join("state").exists(),
            "a partial with its state: {first}"
        );
        let second = read("second.err");
        assert_eq!(read("second.rc").trim(), "0", "-x {split}: {second}");
        assert!(
            second.contains("resumed at"),
            "-x {split}: {first}\n{listing}\n{second}"
        );
        assert_eq!(
            std::fs::read(out.join("file.bin")).unwrap(),
            pattern_bytes(SEED, 0..len)
        );
        // The rerun fetched only what was missing (the first run kept up to 1 MiB).
        let rerun = server.body_bytes_served("/file.bin") - before;
        assert!(
            rerun < len,
            "-x {split}: the rerun fetched {rerun} of {len} bytes"
        );
        assert!(status.unwrap().success());
    }
}

#[test]
fn a_file_changed_without_validators_is_fetched_again_with_a_notice() {
    // Issue 14.3: no ETag, no Last-Modified, same length, new content between two runs.
    let len = 1 << 20;
    let bare = |seed| {
        Resource::pattern(seed, len)
            .with_etag(None)
            .with_last_modified(None)
    };
    let server = FaultServer::start();
    server.put("/file.bin", bare(SEED));
    server.push_fault("/file.bin", durl_testkit::Fault::CutAfter(300_000));
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "--retries", "0", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    server.put("/file.bin", bare(SEED + 1));
    let out = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("file.bin")).unwrap(),
        pattern_bytes(SEED + 1, 0..len)
    );
    let notice = "the remote file changed (the bytes before the resume point differ); \
                  downloading again from the start";
    assert_eq!(stderr.matches(notice).count(), 1, "{stderr}");
}

#[test]
fn a_checksum_mismatch_exits_9_and_the_file_never_gets_its_name() {
    let server = server(100_000);
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args([
            "get",
            "--checksum",
            &format!("sha256={}", "ab".repeat(32)),
            &server.url("/file.bin"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("checksum mismatch"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("file.bin").exists());
    assert!(dir.path().join("file.bin.durl-part").exists());
}

#[test]
fn bad_split_options_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["get", "-x", "0", "http://127.0.0.1:9/x"],
        vec!["get", "-x", "33", "http://127.0.0.1:9/x"],
        vec!["get", "--limit-rate", "fast", "http://127.0.0.1:9/x"],
        vec!["get", "--checksum", "sha256=12", "http://127.0.0.1:9/x"],
    ] {
        let out = durl(dir.path()).args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn a_split_download_through_the_cli() {
    let len = 8 << 20;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "-x", "8", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("file.bin")).unwrap(),
        pattern_bytes(SEED, 0..len)
    );
    assert!(server.requests_for("/file.bin") >= 8);
}

#[test]
fn a_fifo_output_exits_3_even_with_force_and_stays_a_fifo() {
    use std::os::unix::fs::FileTypeExt;
    let server = server(10_000);
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let out = durl(dir.path())
        .args(["get", "--force", "-o", "pipe", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pipe is a FIFO, not a regular file"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
    assert!(t.is_fifo());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn location_trusted_sends_headers_to_another_origin() {
    let target = server(10_000);
    let origin = FaultServer::start();
    origin.put("/r", Resource::redirect(302, &target.url("/file.bin")));
    for (trusted, want) in [(false, None), (true, Some("k"))] {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = durl(dir.path());
        cmd.args(["get", "-H", "X-Api-Key: k", "-o", "f", &origin.url("/r")]);
        if trusted {
            cmd.arg("--location-trusted");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let last = target.log().pop().unwrap();
        assert_eq!(last.header("x-api-key"), want, "{last:?}");
        assert_eq!(last.header("referer"), None);
    }
}

/// Regression (issue 14.7): "the partial download is kept: run the same command again" was
/// printed when nothing was kept (a missing directory, a directory as -o, a name too long,
/// connection refused). It is printed only when a partial with its state exists; otherwise the
/// hint says what is true, or nothing.
#[test]
fn the_resume_hint_appears_only_when_a_partial_was_kept() {
    let server = server(10_000);
    let dir = tempfile::tempdir().unwrap();
    let long = "a".repeat(300);
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/file.bin", l.local_addr().unwrap())
    }; // closed again: nothing listens there
    let cases: [(Vec<String>, u8, Option<&str>); 4] = [
        (
            vec![
                "-o".into(),
                "missing/sub/f.bin".into(),
                server.url("/file.bin"),
            ],
            3,
            Some("the directory missing/sub does not exist"),
        ),
        (
            vec!["-o".into(), ".".into(), server.url("/file.bin")],
            3,
            Some("-o names a directory"),
        ),
        (
            vec!["-o".into(), long, server.url("/file.bin")],
            3,
            Some("too long"),
        ),
        (vec!["--retries".into(), "0".into(), refused], 5, None),
    ];
    for (args, code, hint) in cases {
        let out = durl(dir.path()).arg("get").args(&args).output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(i32::from(code)),
            "{args:?}: {stderr}"
        );
        assert!(
            !stderr.contains("run the same command again"),
            "{args:?}: {stderr}"
        );
        match hint {
            Some(h) => assert!(
                stderr
                    .lines()
                    .any(|l| l.starts_with("hint: ") && l.contains(h)),
                "{args:?}: {stderr}"
            ),
            None => assert!(!stderr.contains("hint: "), "{args:?}: {stderr}"),
        }
        if code == 5 {
            // One line: the step that failed and the OS's cause, without the HTTP stack's
            // wrapper layers.
            let line = stderr.lines().find(|l| l.starts_with("durl: ")).unwrap();
            assert!(
                line.ends_with(": cannot connect: Connection refused (os error 111)")
                    && !line.contains("error sending request"),
                "{stderr}"
            );
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "{args:?} left files"
        );
    }
}

#[test]
fn verbose_shows_every_request_and_response_head_with_secrets_masked() {
    let server = FaultServer::start();
    let len = 8 << 20;
    server.put(
        "/file.bin",
        Resource::pattern(SEED, len).with_basic_auth("ann", "s3cret"),
    );
    server.put("/r", Resource::redirect(302, "/file.bin"));
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/r").replace("http://", "http://ann:s3cret@");
    let out = durl(dir.path())
        .args(["get", "-v", "-q", "-x", "4", "-o", "f.bin"])
        .args(["-H", "Cookie: session=abc123"])
        .arg(&url)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read(dir.path().join("f.bin")).unwrap(),
        pattern_bytes(SEED, 0..len)
    );
    for secret in ["s3cret", "YW5uOnMzY3JldA", "abc123"] {
        assert!(!stderr.contains(secret), "{secret} shown: {stderr}");
    }
    // Every request the server saw has its head printed, and the response to it.
    let seen = server.log();
    let ids: std::collections::BTreeSet<&str> = stderr
        .lines()
        .filter(|l| l.contains("] > GET "))
        .map(|l| l.split(']').next().unwrap())
        .collect();
    assert_eq!(ids.len(), seen.len(), "{stderr}");
    for id in &ids {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&format!("{id}] < HTTP/1.1 "))),
            "no response for {id}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("{id}] > authorization: Basic ****\n")),
            "{stderr}"
        );
        assert!(
            stderr.contains(&format!("{id}] > cookie: ****\n")),
            "{stderr}"
        );
    }
    let url_shown = server.url("/r").replace("http://", "http://ann@");
    assert!(stderr.contains(&format!("> GET {url_shown}\n")), "{stderr}");
    assert!(stderr.contains("< HTTP/1.1 302 Found"), "{stderr}");
    assert!(stderr.contains("< location: /file.bin"), "{stderr}");
    // The segments: ranged requests and their 206 answers.
    assert!(stderr.matches("> range: bytes=").count() >= 3, "{stderr}");
    assert!(
        stderr.contains("< HTTP/1.1 206 Partial Content"),
        "{stderr}"
    );
    assert!(stderr.contains("< content-range: bytes "), "{stderr}");
}

/// Response heads as curl -I prints them, compared without case in names and without the
/// order of fields: sorted lines `name: value`, the status line first.
fn head_lines(out: &[u8]) -> Vec<String> {
    let text = text(out);
    let mut lines = text.split("\r\n");
    let status = lines.next().unwrap_or_default().to_owned();
    let mut fields: Vec<String> = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (name, value) = l.split_once(':').unwrap_or((l, ""));
            let name = name.to_ascii_lowercase();
            // Two answers a moment apart may fall in different seconds: `Date` is compared
            // for its presence only.
            let value = if name == "date" {
                "(a date)"
            } else {
                value.trim()
            };
            format!("{name}: {value}")
        })
        .collect();
    fields.sort();
    fields.insert(0, status);
    fields
}

#[test]
fn head_prints_the_response_head_as_curl_does_and_writes_nothing() {
    let server = server(100_000);
    server.put("/r", Resource::redirect(302, "/file.bin"));
    let dir = tempfile::tempdir().unwrap();
    let durl_head = durl(dir.path())
        .args(["get", "-I", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(durl_head.status.success(), "{}", text(&durl_head.stderr));
    let curl_head = std::process::Command::new("curl")
        .args(["-sI", &server.url("/file.bin")])
        .output()
        .expect("curl runs");
    assert!(curl_head.status.success());
    assert_eq!(head_lines(&durl_head.stdout), head_lines(&curl_head.stdout));
    assert!(text(&durl_head.stdout).ends_with("\r\n\r\n"));
    assert!(durl_head.stderr.is_empty(), "{}", text(&durl_head.stderr));
    // After a redirect: the final head (curl -sIL prints both; durl the last).
    let out = durl(dir.path())
        .args(["get", "-I", &server.url("/r")])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        text(&out.stdout).starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("content-length: 100000\r\n"));
    // Only HEAD requests were sent, and nothing was written.
    assert!(
        server.log().iter().all(|s| s.method == "HEAD"),
        "{:?}",
        server.log()
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn head_falls_back_to_get_when_head_is_refused_and_error_statuses_exit_as_downloads_do() {
    let server = server(50_000_000);
    server.push_fault(
        "/file.bin",
        durl_testkit::Fault::Status {
            code: 405,
            retry_after: None,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "-I", &server.url("/file.bin")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(text(&out.stdout).contains("content-length: 50000000\r\n"));
    let methods: Vec<String> = server.log().into_iter().map(|s| s.method).collect();
    assert_eq!(methods, ["HEAD", "GET"]);
    // The GET's body was not read.
    assert!(server.body_bytes_served("/file.bin") < 50_000_000);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

    let out = durl(dir.path())
        .args(["get", "-I", &server.url("/missing")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("HTTP/1.1 404 Not Found\r\n"));
}

#[test]
fn proxies_from_the_flag_and_the_environment_and_noproxy() {
    let server = server(300_000);
    let proxy = durl_testkit::Proxy::http();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url("/file.bin");
    let env_proxy = proxy.url();
    // (extra args, http_proxy in the environment, whether the proxy is used)
    let cases: &[(&[&str], Option<&str>, bool)] = &[
        (&["--proxy", &env_proxy], None, true),
        (&[], Some(&env_proxy), true),
        (&["--noproxy", "127.0.0.1"], Some(&env_proxy), false),
        (&["--noproxy", "*"], Some(&env_proxy), false),
        (
            &["--proxy", &env_proxy, "--noproxy", "localhost,127.0.0.1"],
            None,
            false,
        ),
    ];
    for (i, (extra, env, used)) in cases.iter().enumerate() {
        let before = proxy.asked().len();
        let name = format!("out{i}.bin");
        let mut cmd = durl(dir.path());
        cmd.args(["get", "-q", "-o", &name]).args(*extra).arg(&url);
        cmd.env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("all_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("no_proxy")
            .env_remove("NO_PROXY");
        if let Some(env) = env {
            cmd.env("http_proxy", env);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{extra:?}: {}", text(&out.stderr));
        assert_eq!(
            std::fs::read(dir.path().join(&name)).unwrap(),
            pattern_bytes(SEED, 0..300_000)
        );
        assert_eq!(proxy.asked().len() > before, *used, "{extra:?} {env:?}");
    }
    // A proxy URL durl cannot use: exit 2, its password not shown.
    for bad in ["ftp://u:hunter2@h:1", "not a url", "http://u:hunter2@"] {
        let out = durl(dir.path())
            .args(["get", "--proxy", bad, &url])
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(
            stderr.contains("--proxy") && !stderr.contains("hunter2"),
            "{stderr}"
        );
    }
}

#[test]
fn dash_output_streams_the_body_to_stdout_and_a_cut_continues_within_the_run() {
    let len = 3_000_000;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    let want = pattern_bytes(SEED, 0..len);
    for args in [&["-o", "-"][..], &["-O", "-"][..]] {
        server.push_fault("/file.bin", durl_testkit::Fault::CutAfter(1_000_000));
        let before = server.log().len();
        let out = durl(dir.path())
            .args(["get", "--retry-delay", "0.05"])
            .args(args)
            .arg(server.url("/file.bin"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(out.stdout == want, "{args:?}: {} bytes", out.stdout.len());
        // The second request asked for the rest, proven to be the same version.
        let log = &server.log()[before..];
        assert_eq!(log.len(), 2, "{log:?}");
        assert_eq!(log[1].header("range"), Some("bytes=1000000-"));
        assert!(log[1].header("if-range").is_some());
        // No file, part or state written.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // The summary line, on stderr.
        assert!(
            text(&out.stderr).contains("-: 2.86 MiB in "),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn dash_output_stops_when_the_file_changes_after_bytes_went_out() {
    let len = 3_000_000;
    let server = server(len);
    server.push_fault("/file.bin", durl_testkit::Fault::CutAfter(1_000_000));
    server.push_fault(
        "/file.bin",
        durl_testkit::Fault::ChangeEtag("\"other\"".into()),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "--retry-delay", "0.05", "-o", "-"])
        .arg(server.url("/file.bin"))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains("changed on the server after 1000000 bytes"),
        "{stderr}"
    );
    // What went out is the old version's prefix, nothing of the new one.
    assert!(out.stdout == pattern_bytes(SEED, 0..1_000_000));
    // Options that need a file are refused up front.
    for bad in [
        &["-c"][..],
        &["-x", "2"],
        &["--checksum", &format!("sha256={}", "0".repeat(64))],
    ] {
        let out = durl(dir.path())
            .args(["get", "-o", "-"])
            .args(bad)
            .arg(server.url("/file.bin"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn dash_output_checks_the_repr_digest_and_exits_9_on_a_mismatch() {
    // The bytes are already out when the digest is known: exit 9 with one line saying so.
    let len = 300_000;
    let server = FaultServer::start();
    let zeros = format!("sha-256=:{}=:", "A".repeat(43));
    server.put(
        "/file.bin",
        Resource::pattern(SEED, len).with_header("Repr-Digest", &zeros),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "-q", "-o", "-"])
        .arg(server.url("/file.bin"))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "{stderr}");
    assert!(out.stdout == pattern_bytes(SEED, 0..len));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("do not match the server's Repr-Digest")
            && stderr.contains("already out")
            && stderr.contains(&format!("sha256={}", "0".repeat(64))),
        "{stderr}"
    );
}

use std::time::Duration;

use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::durl;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Serves `small` files of 4 KiB (`/s0` …) and `large` files of 2 MiB (`/l0` …).
fn server(small: u64, large: u64) -> FaultServer {
    let server = FaultServer::start();
    for i in 0..small {
        server.put(&format!("/s{i}"), Resource::pattern(i, 4096));
    }
    for i in 0..large {
        server.put(&format!("/l{i}"), Resource::pattern(1000 + i, 2 << 20));
    }
    server
}

#[test]
fn a_list_with_faults_completes_the_right_files_and_exits_10() {
    let server = server(200, 3);
    server.push_fault("/s7", Fault::CutAfter(1000));
    server.push_fault(
        "/s8",
        Fault::Status {
            code: 503,
            retry_after: Some("0".into()),
        },
    );
    server.push_fault("/s9", Fault::ResetAfter(10));
    server.push_fault("/l0", Fault::CutAfter(500_000));
    server.push_fault("/l1", Fault::StallAfter(100_000, Duration::from_secs(30)));
    let mut list = String::from("# 200 small files, 3 large ones and one that is missing\n");
    for i in 0..200 {
        list.push_str(&format!("{}\n", server.url(&format!("/s{i}"))));
    }
    for i in 0..3 {
        list.push_str(&format!(
            "{}\n  out=large-{i}.bin\n",
            server.url(&format!("/l{i}"))
        ));
    }
    list.push_str(&format!("{}\n", server.url("/missing")));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list.txt"), &list).unwrap();
    let out = durl(dir.path())
        .args([
            "get",
            "-j",
            "8",
            "--stall-timeout",
            "1",
            "--retry-delay",
            "0.05",
            "-i",
            "list.txt",
        ])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(10), "{stderr}");
    assert!(
        stderr.contains("HTTP 404") && stderr.contains("/missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("204 files: 203 downloaded, 0 already complete, 1 failed"),
        "{stderr}"
    );
    for i in 0..200 {
        assert_eq!(
            std::fs::read(dir.path().join(format!("s{i}"))).unwrap(),
            pattern_bytes(i, 0..4096)
        );
    }
    for i in 0..3 {
        let got = std::fs::read(dir.path().join(format!("large-{i}.bin"))).unwrap();
        assert!(got == pattern_bytes(1000 + i, 0..2 << 20), "large-{i}");
    }
    assert!(!dir.path().join("missing").exists());

    // Running the same list again transfers no file body again.
    let before = server.log().len();
    let out = durl(dir.path())
        .args(["get", "-q", "-j", "8", "-i", "list.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stderr));
    let again = &server.log()[before..];
    assert!(
        again
            .iter()
            .all(|s| s.status == 416 || s.path == "/missing"),
        "only body-less checks: {:?}",
        again.iter().filter(|s| s.status != 416).collect::<Vec<_>>()
    );
}

#[test]
fn kill_9_mid_batch_then_every_file_is_exact_and_nothing_is_fetched_twice() {
    let server = FaultServer::start();
    for i in 0..20u64 {
        server.put(&format!("/s{i}"), Resource::pattern(i, 4096));
    }
    for i in 0..4u64 {
        server.put(
            &format!("/l{i}"),
            Resource::pattern(1000 + i, 4 << 20).with_rate_limit(2 << 20),
        );
    }
    let mut list = String::new();
    for i in 0..4 {
        list.push_str(&format!("{}\n", server.url(&format!("/l{i}"))));
    }
    for i in 0..20 {
        list.push_str(&format!("{}\n", server.url(&format!("/s{i}"))));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list"), &list).unwrap();
    let args = [
        "get",
        "-q",
        "-j",
        "4",
        "--checkpoint-interval",
        "0.1",
        "-i",
        "list",
    ];
    let mut child = durl(dir.path()).args(args).spawn().unwrap();
    assert!(server.wait_until_body_bytes("/l3", 1 << 20, Duration::from_secs(20)));
    child.kill().unwrap();
    child.wait().unwrap();
    let partial: Vec<u64> = (0..4)
        .filter(|i| dir.path().join(format!("l{i}.durl-part")).exists())
        .collect();
    assert!(!partial.is_empty(), "the kill left partial files");

    let before = server.log().len();
    let out = durl(dir.path()).args(args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for i in 0..4 {
        let got = std::fs::read(dir.path().join(format!("l{i}"))).unwrap();
        assert!(got == pattern_bytes(1000 + i, 0..4 << 20), "l{i}");
    }
    for i in 0..20 {
        assert_eq!(
            std::fs::read(dir.path().join(format!("s{i}"))).unwrap(),
            pattern_bytes(i, 0..4096)
        );
    }
    for s in &server.log()[before..] {
        let range = s.header("range").unwrap_or("");
        let index: u64 = s.path[2..].parse().unwrap();
        if s.path.starts_with("/l") && partial.contains(&index) {
            // A partial large file continues where it stopped.
            assert!(
                range.starts_with("bytes=") && !range.starts_with("bytes=0-"),
                "{}: {range}",
                s.path
            );
        } else if s.status != 416 {
            // Anything else was either complete (a body-less 416 check) or never started.
            assert!(range.is_empty(), "{} fetched again: {range}", s.path);
            assert!(
                !dir.path().join(&s.path[1..]).exists() || s.status == 200,
                "{}",
                s.path
            );
        }
    }
}

#[test]
fn colliding_names_and_bad_lines_are_refused_before_any_request() {
    let server = server(2, 0);
    let dir = tempfile::tempdir().unwrap();
    let list = format!(
        "{}\n  out=same\n{}\n  out=same\n",
        server.url("/s0"),
        server.url("/s1")
    );
    std::fs::write(dir.path().join("list"), list).unwrap();
    let out = durl(dir.path())
        .args(["get", "-i", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 1 and line 3 would both write same"),
        "{}",
        text(&out.stderr)
    );

    let out = durl(dir.path())
        .args(["get", "-i", "no-such-list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read the list no-such-list"),
        "{stderr}"
    );

    std::fs::write(
        dir.path().join("list"),
        format!("{}\n  speed=fast\n", server.url("/s0")),
    )
    .unwrap();
    let out = durl(dir.path())
        .args(["get", "-i", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("list:2: unknown option"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.log().len(), 0);
}

#[test]
fn json_report_has_one_object_per_file() {
    let server = server(2, 0);
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args([
            "get",
            "-q",
            "--json",
            &server.url("/s0"),
            &server.url("/s1"),
            &server.url("/nope"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["status"], "done");
    assert_eq!(lines[0]["bytes"], 4096);
    assert_eq!(lines[0]["path"], "s0");
    assert_eq!(lines[2]["status"], "failed");
    assert_eq!(lines[2]["error"], "http");
}

#[test]
fn mirrors_in_a_list_share_the_work_and_a_bad_one_is_dropped_with_a_message() {
    let len = 8 << 20;
    let (good, also_good, bad) = (
        FaultServer::start(),
        FaultServer::start(),
        FaultServer::start(),
    );
    good.put("/f.bin", Resource::pattern(5, len));
    also_good.put("/f.bin", Resource::pattern(5, len));
    bad.put("/f.bin", Resource::pattern(6, len));
    let list = format!(
        "{}\t{}\t{}\n",
        good.url("/f.bin"),
        also_good.url("/f.bin"),
        bad.url("/f.bin")
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list"), list).unwrap();
    let out = durl(dir.path())
        .args(["get", "-x", "6", "-i", "list"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(got_exact(&dir.path().join("f.bin"), 5, len));
    assert!(
        also_good.body_bytes_served("/f.bin") > 0,
        "segments came from both good mirrors"
    );
    assert!(
        stderr.contains(&format!("mirror {} dropped", bad.url("/f.bin"))),
        "{stderr}"
    );
}

fn got_exact(path: &std::path::Path, seed: u64, len: u64) -> bool {
    std::fs::read(path).unwrap() == pattern_bytes(seed, 0..len)
}

/// Regression (issue 14.6): after SIGINT, `durl get -j 3 -i list` sent GETs for the queued
/// files in the same millisecond, left 0-byte part files without state and counted every file
/// "failed". Now dispatching stops at the signal: the running files are "interrupted" (their
/// partials saved), the queued ones are never requested or touched, and the exit is 130.
#[test]
fn ctrl_c_in_a_list_stops_dispatching_and_touches_no_queued_file() {
    let server = FaultServer::start();
    for i in 0..8u64 {
        server.put(
            &format!("/q{i}"),
            Resource::pattern(70 + i, 8 << 20).with_rate_limit(1 << 20),
        );
    }
    let list: String = (0..8)
        .map(|i| format!("{}\n", server.url(&format!("/q{i}"))))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("list"), &list).unwrap();
    let child = durl(dir.path())
        .args([
            "get",
            "-j",
            "3",
            "--checkpoint-interval",
            "0.2",
            "-i",
            "list",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for i in 0..3 {
        let path = format!("/q{i}");
        assert!(
            server.wait_until_body_bytes(&path, 256 << 10, Duration::from_secs(20)),
            "{path}"
        );
    }
    crate::signal(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    for i in 0..3 {
        assert!(
            dir.path().join(format!("q{i}.durl-state")).exists(),
            "q{i} is saved: {stderr}"
        );
    }
    for i in 3..8 {
        let path = format!("/q{i}");
        assert_eq!(
            server.requests_for(&path),
            0,
            "{path} was requested: {stderr}"
        );
        for suffix in ["", ".durl-part", ".durl-state"] {
            let f = dir.path().join(format!("q{i}{suffix}"));
            assert!(!f.exists(), "{} was touched", f.display());
        }
    }
    assert!(
        stderr.contains("3 interrupted")
            && stderr.contains("5 not started")
            && stderr.contains("0 failed"),
        "{stderr}"
    );
}

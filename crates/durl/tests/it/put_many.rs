//! `durl put` with several files: on the command line, from `-i` lists (with `to=` lines),
//! `-j`, the summary, `--json`, exit codes, refusals before anything is sent, and a batch
//! killed with SIGKILL and run again — all against the real `durl serve --upload` and vsftpd.

use std::path::Path;
use std::time::{Duration, Instant};

use durl_testkit::{Vsftpd, VsftpdOptions, pattern_bytes};

use crate::durl;
use crate::serve::{Serve, text};

/// A `durl serve --upload` of `base/www`, unfinished uploads in `base/up`.
fn upload_server(base: &Path) -> Serve {
    let www = base.join("www");
    std::fs::create_dir_all(&www).unwrap();
    let up = base.join("up");
    Serve::start(
        &www,
        &["--quiet", "--upload", "--upload-dir", up.to_str().unwrap()],
    )
}

/// Writes `names` into `dir`, `len` deterministic bytes each; returns the contents.
fn files(dir: &Path, names: &[&str], len: u64) -> Vec<Vec<u8>> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let data = pattern_bytes(40 + i as u64, 0..len);
            std::fs::write(dir.join(name), &data).unwrap();
            data
        })
        .collect()
}

#[test]
fn several_files_go_up_and_a_rerun_sends_nothing() {
    let base = tempfile::tempdir().unwrap();
    let server = upload_server(base.path());
    let src = tempfile::tempdir().unwrap();
    let names = ["a.bin", "b b.bin", "c.bin"];
    let data = files(src.path(), &names, 300_000);
    let endpoint = server.url(".durl/uploads/");

    let mut args = vec!["put", "-j", "2"];
    args.extend(names);
    args.push(&endpoint);
    let out = durl(src.path()).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (name, data) in names.iter().zip(&data) {
        assert!(
            std::fs::read(base.path().join("www").join(name)).unwrap() == *data,
            "{name}"
        );
        assert!(!src.path().join(format!("{name}.durl-upload")).exists());
    }
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("3 files: 3 uploaded, 0 already complete, 0 failed"),
        "{stderr}"
    );

    // The same command: every file is known to be up, nothing is sent (no "a (1).bin").
    let out = durl(src.path()).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("3 files: 0 uploaded, 3 already complete, 0 failed"),
        "{stderr}"
    );
    let mut served: Vec<_> = std::fs::read_dir(base.path().join("www"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    served.sort();
    assert_eq!(served, ["a.bin", "b b.bin", "c.bin"]);
}

#[test]
fn a_list_with_to_lines_reports_each_file_and_exits_10_when_one_fails() {
    let base = tempfile::tempdir().unwrap();
    let server = upload_server(base.path());
    let ftp = Vsftpd::start_with(VsftpdOptions {
        upload: true,
        tls: false,
    });
    let src = tempfile::tempdir().unwrap();
    let data = files(src.path(), &["one.bin", "two.bin"], 200_000);
    let list = format!(
        "# uploads\none.bin\ntwo.bin\n  to={}\nmissing.bin\n",
        ftp.url("up/")
    );
    std::fs::write(src.path().join("list.txt"), list).unwrap();

    let out = durl(src.path())
        .args([
            "put",
            "--json",
            "-i",
            "list.txt",
            &server.url(".durl/uploads/"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stderr));
    assert!(std::fs::read(base.path().join("www/one.bin")).unwrap() == data[0]);
    assert!(ftp.read("up/two.bin").unwrap() == data[1]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("missing.bin")
            && stderr.contains("3 files: 2 uploaded, 0 already complete, 1 failed"),
        "{stderr}"
    );
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let status: Vec<_> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["done", "done", "failed"], "{rows:?}");
    assert_eq!(rows[1]["bytes"], 200_000);
    assert_eq!(rows[2]["local"], "missing.bin");
    assert_eq!(rows[2]["error"], "io");
}

#[test]
fn bad_lists_and_colliding_files_are_refused_before_anything_is_sent() {
    let base = tempfile::tempdir().unwrap();
    let server = upload_server(base.path());
    let src = tempfile::tempdir().unwrap();
    files(src.path(), &["a.bin"], 1000);
    let endpoint = server.url(".durl/uploads/");
    let run = |args: &[&str]| durl(src.path()).args(args).output().unwrap();

    let out = run(&["put", "a.bin"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("URL"), "{}", text(&out.stderr));

    let out = run(&["put", "a.bin", "./a.bin", &endpoint]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("both upload"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(src.path().join("bad.txt"), "a.bin\n  out=x\n").unwrap();
    let out = run(&["put", "-i", "bad.txt", &endpoint]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("bad.txt:2"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(src.path().join("nourl.txt"), "a.bin\n").unwrap();
    let out = run(&["put", "-i", "nourl.txt"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nourl.txt:1"),
        "{}",
        text(&out.stderr)
    );

    assert_eq!(
        std::fs::read_dir(base.path().join("www")).unwrap().count(),
        0
    );
}

#[test]
fn a_batch_killed_mid_way_completes_on_the_next_run_without_sending_twice() {
    let base = tempfile::tempdir().unwrap();
    let server = upload_server(base.path());
    let src = tempfile::tempdir().unwrap();
    // durl put sends checksummed chunks, each all or nothing, of about a second of sending
    // (1, 2, 4, … MiB): the big files are large enough to be killed mid-way with whole
    // chunks of them durable on the server.
    let chunk: u64 = 32 << 20;
    let held: u64 = 4 << 20;
    let small = files(src.path(), &["k1.bin"], 1 << 20).remove(0);
    let big: Vec<_> = ["k2.bin", "k3.bin"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let data = pattern_bytes(50 + i as u64, 0..chunk + (2 << 20));
            std::fs::write(src.path().join(name), &data).unwrap();
            data
        })
        .collect();
    std::fs::write(src.path().join("list.txt"), "k1.bin\nk2.bin\nk3.bin\n").unwrap();
    let endpoint = server.url(".durl/uploads/");
    let www = base.path().join("www");

    let mut child = durl(src.path())
        .args([
            "put",
            "-q",
            "-j",
            "2",
            "--limit-rate",
            "16M",
            "-i",
            "list.txt",
            &endpoint,
        ])
        .spawn()
        .unwrap();
    // Kill once k1 is up and the server holds whole chunks of a big file.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !www.join("k1.bin").exists() || !durable_partial_in(&base.path().join("up"), held) {
        assert!(Instant::now() < deadline, "no progress within 30 s");
        assert!(child.try_wait().unwrap().is_none(), "durl put ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        !www.join("k2.bin").exists() || !www.join("k3.bin").exists(),
        "killed too late"
    );

    let out = durl(src.path())
        .args(["put", "-i", "list.txt", &endpoint])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(www.join("k1.bin")).unwrap() == small);
    for (name, data) in ["k2.bin", "k3.bin"].iter().zip(&big) {
        assert!(std::fs::read(www.join(name)).unwrap() == *data, "{name}");
    }
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("k1.bin: already complete")
            && stderr
                .lines()
                .any(|l| (l.starts_with("k2.bin") || l.starts_with("k3.bin"))
                    && l.contains("resumed at")
                    && !l.contains("resumed at 0")),
        "{stderr}"
    );
    // No file went up twice.
    assert_eq!(std::fs::read_dir(&www).unwrap().count(), 3);
}

/// Whether an unfinished upload in `up` has at least `at_least` durable bytes: the
/// `offset N` line of an `.info` file without a `done` line.
fn durable_partial_in(up: &Path, at_least: u64) -> bool {
    let Ok(dir) = std::fs::read_dir(up) else {
        return false;
    };
    dir.filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "info"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .filter(|t| !t.lines().any(|l| l.starts_with("done ")))
        .any(|t| {
            t.lines()
                .filter_map(|l| l.strip_prefix("offset "))
                .any(|v| v.parse::<u64>().is_ok_and(|n| n >= at_least))
        })
}

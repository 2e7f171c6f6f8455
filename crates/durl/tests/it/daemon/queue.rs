//! `durl queue`: the command-line client of a running daemon, against the real `durl daemon`.

use std::path::Path;
use std::process::Output;

use durl_testkit::{FaultServer, Resource, pattern_bytes};
use serde_json::Value;

use super::{Daemon, Dirs};
use crate::durl;

/// `durl queue --rpc http://ADDR/jsonrpc ARGS…` with `DURL_SECRET` set to `secret`.
fn queue(cwd: &Path, daemon: &Daemon, secret: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = durl(cwd);
    cmd.env_remove("DURL_SECRET").env_remove("DURL_RPC");
    if let Some(s) = secret {
        cmd.env("DURL_SECRET", s);
    }
    cmd.args(["queue", "--rpc", &format!("http://{}/jsonrpc", daemon.addr)])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// `durl queue list --json`, one object per download.
fn list(cwd: &Path, daemon: &Daemon) -> Vec<Value> {
    stdout(&queue(cwd, daemon, Some("s3cret"), &["list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn status_of(entries: &[Value], gid: &str) -> String {
    let e = entries
        .iter()
        .find(|e| e["gid"] == gid)
        .unwrap_or_else(|| panic!("{gid} not listed: {entries:?}"));
    e["status"].as_str().unwrap().to_owned()
}

#[test]
fn add_list_pause_resume_remove_through_the_daemon() {
    let server = FaultServer::start();
    server.put("/a.bin", Resource::pattern(5, 300_000));
    // Slow enough to be paused while it runs.
    server.put(
        "/slow.bin",
        Resource::pattern(6, 3 << 20).with_rate_limit(256 << 10),
    );
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["--secret", "s3cret"]);
    let cwd = d.dl.as_path();

    let a = stdout(&queue(
        cwd,
        &daemon,
        Some("s3cret"),
        &["add", &server.url("/a.bin"), "-o", "named.bin", "-x", "2"],
    ))
    .trim()
    .to_owned();
    assert!(
        a.len() == 16 && a.bytes().all(|b| b.is_ascii_hexdigit()),
        "{a}"
    );
    daemon.wait_status(&a, "complete", 30);
    assert!(std::fs::read(d.dl.join("named.bin")).unwrap() == pattern_bytes(5, 0..300_000));

    let slow = stdout(&queue(
        cwd,
        &daemon,
        Some("s3cret"),
        &["add", &server.url("/slow.bin")],
    ))
    .trim()
    .to_owned();
    daemon.wait_status(&slow, "active", 30);
    stdout(&queue(cwd, &daemon, Some("s3cret"), &["pause", &slow]));
    assert_eq!(daemon.status(&slow)["status"], "paused");
    let entries = list(cwd, &daemon);
    assert_eq!(status_of(&entries, &a), "complete");
    assert_eq!(status_of(&entries, &slow), "paused");
    let done = entries.iter().find(|e| e["gid"] == a).unwrap();
    assert_eq!(done["total"], 300_000);
    assert_eq!(done["completed"], 300_000);
    assert_eq!(done["path"], d.dl.join("named.bin").display().to_string());

    // The table: one row per download with its GID and state.
    let table = stdout(&queue(cwd, &daemon, Some("s3cret"), &["list"]));
    let row = table.lines().find(|l| l.starts_with(&slow)).unwrap();
    assert!(row.contains("paused"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.starts_with(&a) && l.contains("(100%)")),
        "{table}"
    );

    stdout(&queue(cwd, &daemon, Some("s3cret"), &["resume", "--all"]));
    assert_ne!(daemon.status(&slow)["status"], "paused");
    stdout(&queue(cwd, &daemon, Some("s3cret"), &["remove", &slow]));
    assert_eq!(status_of(&list(cwd, &daemon), &slow), "removed");

    // Added paused: it waits until resumed, then completes.
    let later = stdout(&queue(
        cwd,
        &daemon,
        Some("s3cret"),
        &["add", "--paused", &server.url("/a.bin"), "-o", "later.bin"],
    ))
    .trim()
    .to_owned();
    assert_eq!(daemon.status(&later)["status"], "paused");
    stdout(&queue(cwd, &daemon, Some("s3cret"), &["resume", &later]));
    daemon.wait_status(&later, "complete", 30);
    assert!(std::fs::read(d.dl.join("later.bin")).unwrap() == pattern_bytes(5, 0..300_000));
}

#[test]
fn wrong_secret_unknown_gid_and_no_daemon_are_one_line_errors_with_their_exit_codes() {
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["--secret", "s3cret"]);
    let cwd = d.dl.as_path();

    let o = queue(cwd, &daemon, Some("wrong"), &["list"]);
    assert_eq!(o.status.code(), Some(4), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refused the secret") && err.contains(&daemon.addr),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");

    // The secret from a file (the daemon's own --secret-file habit).
    let secret_file = d.dl.join("secret");
    std::fs::write(&secret_file, "s3cret\n").unwrap();
    let mut cmd = durl(cwd);
    let o = cmd
        .env_remove("DURL_SECRET")
        .args([
            "queue",
            "--rpc",
            &format!("http://{}", daemon.addr),
            "--secret-file",
        ])
        .arg(&secret_file)
        .args(["pause", "0000000000000001"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("aria2.pause") && err.contains("not found"),
        "{err}"
    );

    let o = queue(cwd, &daemon, Some("s3cret"), &["pause"]);
    assert_eq!(o.status.code(), Some(2), "a GID or --all is needed: {o:?}");

    // No daemon at the address: exit 5 naming the URL and the OS error.
    let addr = daemon.addr.clone();
    daemon.kill();
    let o = durl(cwd)
        .args(["queue", "--rpc", &format!("http://{addr}/jsonrpc"), "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot reach the daemon") && err.contains(&addr) && err.contains("refused"),
        "{err}"
    );

    let o = durl(cwd)
        .args(["queue", "--rpc", "https://127.0.0.1:6800/jsonrpc", "list"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}

#[test]
fn the_config_file_names_the_daemon_and_its_secret() {
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["--secret", "s3cret"]);
    let cwd = d.dl.as_path();
    std::fs::write(cwd.join("secret"), "s3cret\n").unwrap();
    std::fs::create_dir_all(cwd.join("xdg/durl")).unwrap();
    std::fs::write(
        cwd.join("xdg/durl/config"),
        format!(
            "[queue]\nrpc = http://{}/jsonrpc\nsecret-file = {}\n",
            daemon.addr,
            cwd.join("secret").display()
        ),
    )
    .unwrap();
    let o = durl(cwd)
        .env_remove("DURL_SECRET")
        .env_remove("DURL_RPC")
        .args(["queue", "add", "--paused", "http://127.0.0.1:9/x.bin"])
        .output()
        .unwrap();
    let gid = stdout(&o).trim().to_owned();
    assert_eq!(daemon.status(&gid)["status"], "paused");
}

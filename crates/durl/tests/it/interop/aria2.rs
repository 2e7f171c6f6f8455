//! aria2 JSON-RPC clients nobody here wrote, against the real `durl daemon`: the aria2p
//! library (over HTTP, notifications over WebSocket) and its CLI (PyPI `aria2p`), and the
//! `aria2` npm package (aria2.js) with every call over WebSocket. Each adds, pauses, unpauses,
//! removes, uses multicall and global options and waits for notifications; every downloaded
//! file is compared byte for byte.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use durl_testkit::{FaultServer, Resource, pattern_bytes};

use super::script::Script;
use super::{interop_dir, node, python};
use crate::daemon::{Daemon, Dirs};

const SECRET: &str = "interop-secret";
const FAST: u64 = 700_001;
const SLOW: u64 = 3 << 20;

fn servers() -> FaultServer {
    let server = FaultServer::start();
    server.put("/fast.bin", Resource::pattern(61, FAST));
    server.put(
        "/slow.bin",
        Resource::pattern(62, SLOW).with_rate_limit(1 << 20),
    );
    server
}

fn port(daemon: &Daemon) -> String {
    daemon.addr.rsplit(':').next().unwrap().to_owned()
}

fn exact(path: &Path, seed: u64, len: u64) {
    assert!(
        std::fs::read(path).unwrap_or_default() == pattern_bytes(seed, 0..len),
        "{} is not exact",
        path.display()
    );
}

/// Runs `script` to its end; its stdout lines.
fn finish(script: Script) -> Vec<String> {
    let (status, lines, stderr) = script.finish(Duration::from_secs(240));
    assert!(status.success(), "{lines:?}\n{stderr}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("done"),
        "{lines:?}\n{stderr}"
    );
    lines
}

#[test]
fn aria2p_library_adds_pauses_resumes_removes_multicalls_and_hears_notifications() {
    let server = servers();
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["--secret", SECRET]);
    let mut cmd = python("aria2p_drive.py");
    cmd.args([
        port(&daemon),
        SECRET.to_owned(),
        server.url("/fast.bin"),
        server.url("/slow.bin"),
    ]);
    let lines = finish(Script::spawn(cmd));
    let complete = lines
        .iter()
        .find(|l| l.starts_with("ok complete "))
        .unwrap();
    let reported = complete.split(' ').nth(3).unwrap();
    assert_eq!(Path::new(reported), d.dl.join("one.bin"), "{complete}");
    exact(&d.dl.join("one.bin"), 61, FAST);
    exact(&d.dl.join("two.bin"), 61, FAST);
    for step in [
        "multicall",
        "listed",
        "notifications",
        "purged",
        "global-options",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("ok {step}"))),
            "{step}: {lines:?}"
        );
    }
}

#[test]
fn aria2p_cli_adds_paused_shows_resumes_and_purges() {
    let server = servers();
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["--secret", SECRET]);
    super::require(&interop_dir().join(".venv/bin/aria2p"), "the aria2p venv");
    let mut cmd = Command::new("bash");
    cmd.arg(interop_dir().join("aria2p_cli.sh")).args([
        port(&daemon),
        SECRET.to_owned(),
        server.url("/fast.bin"),
    ]);
    let (status, lines, stderr) = Script::spawn(cmd).finish(Duration::from_secs(120));
    assert!(status.success(), "{lines:?}\n{stderr}");
    for prefix in ["added ", "shown ", "complete ", "purged"] {
        assert!(
            lines.iter().any(|l| l.starts_with(prefix)),
            "{prefix}: {lines:?}\n{stderr}"
        );
    }
    exact(&d.dl.join("cli.bin"), 61, FAST);
}

#[test]
fn aria2_js_over_websocket_adds_pauses_resumes_removes_batches_and_hears_notifications() {
    let server = servers();
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["--secret", SECRET]);
    let mut cmd = node("aria2_js.mjs");
    cmd.args([
        port(&daemon),
        SECRET.to_owned(),
        server.url("/fast.bin"),
        server.url("/slow.bin"),
    ]);
    let lines = finish(Script::spawn(cmd));
    for step in [
        "lists",
        "global-options",
        "complete",
        "paused-resumed-complete",
        "multicall-remove",
        "batch",
        "notifications",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&format!("ok {step}"))),
            "{step}: {lines:?}"
        );
    }
    exact(&d.dl.join("js-one.bin"), 61, FAST);
    exact(&d.dl.join("js-two.bin"), 62, SLOW);
}

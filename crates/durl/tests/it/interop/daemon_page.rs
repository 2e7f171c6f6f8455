//! The web page of `durl daemon` in Debian's headless Chromium (`tests/interop/daemon_page.mjs`,
//! playwright-core): add two URLs, pause one while it runs, resume it, both complete and the
//! rows show each state; no CSP violation; a page of another origin can neither POST to the
//! RPC nor open its WebSocket.

use std::time::Duration;

use durl_testkit::{FaultServer, Resource, pattern_bytes};
use serde_json::json;

use super::script::Script;
use super::{chromium, node};
use crate::daemon::{Daemon, Dirs};

#[test]
fn the_page_adds_pauses_resumes_and_completes_and_other_origins_are_refused() {
    let server = FaultServer::start();
    server.put("/fast.bin", Resource::pattern(71, 400_000));
    server.put(
        "/slow.bin",
        Resource::pattern(72, 3 << 20).with_rate_limit(512 << 10),
    );
    server.put(
        "/other.html",
        Resource::bytes(b"<!doctype html><title>another site</title>".to_vec())
            .with_content_type("text/html"),
    );
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &[]);
    let mut cmd = node("daemon_page.mjs");
    cmd.env("DURL_URL", format!("http://{}/", daemon.addr))
        .env("DURL_FAST", server.url("/fast.bin"))
        .env("DURL_SLOW", server.url("/slow.bin"))
        .env("DURL_OTHER", server.url("/other.html"))
        .env("DURL_CHROMIUM", chromium());
    let (status, lines, stderr) = Script::spawn(cmd).finish(Duration::from_secs(300));
    assert!(status.success(), "{lines:?}\n{stderr}");
    for step in [
        "page",
        "paused",
        "resumed",
        "complete",
        "no-csp-violations",
        "other-origin-refused",
    ] {
        assert!(
            lines.iter().any(|l| l == &format!("ok {step}")),
            "{step}: {lines:?}\n{stderr}"
        );
    }
    assert!(std::fs::read(d.dl.join("fast.bin")).unwrap() == pattern_bytes(71, 0..400_000));
    assert!(std::fs::read(d.dl.join("slow.bin")).unwrap() == pattern_bytes(72, 0..3 << 20));
    // The other origin's addUri never reached the queue.
    let stopped = daemon.call("aria2.tellStopped", json!([0, 100, ["gid"]]));
    let waiting = daemon.call("aria2.tellWaiting", json!([0, 100, ["gid"]]));
    assert_eq!(stopped.as_array().unwrap().len(), 2, "{stopped}");
    assert_eq!(waiting, json!([]));
}

//! `kill -9` of the real `durl daemon`, then a restart on the same state directory: every
//! download continues from its checkpoint and ends exact, paused stays paused, complete is
//! listed and not fetched again, an answered `addUri` is never lost, and the database always
//! opens.

use std::time::{Duration, Instant};

use durl_testkit::{FaultServer, Resource, pattern_bytes};
use serde_json::{Value, json};

use super::{Daemon, Dirs};

const MIB: u64 = 1 << 20;

#[test]
fn kill_9_mid_downloads_then_restart_continues_each_from_its_checkpoint() {
    let len = 4 * MIB;
    let rate = MIB; // per download
    let interval = 0.2; // seconds between checkpoints
    let server = FaultServer::start();
    let names = ["a.bin", "b.bin", "c.bin", "d.bin"];
    for (i, name) in names.iter().enumerate() {
        server.put(
            &format!("/{name}"),
            Resource::pattern(20 + i as u64, len).with_rate_limit(rate),
        );
    }
    server.put("/done.bin", Resource::pattern(30, 300_000));
    server.put("/held.bin", Resource::pattern(31, 300_000));
    let d = Dirs::new();
    let args = ["-j", "4", "--checkpoint-interval", "0.2"];
    let daemon = Daemon::start(&d.state, &d.dl, &args);

    // One finished before the crash, one paused before it.
    let done = daemon.call("aria2.addUri", json!([[server.url("/done.bin")]]));
    let done = done.as_str().unwrap().to_owned();
    daemon.wait_status(&done, "complete", 30);
    let held = daemon.call(
        "aria2.addUri",
        json!([[server.url("/held.bin")], {"pause": "true"}]),
    );
    let held = held.as_str().unwrap().to_owned();
    let gids: Vec<String> = names
        .iter()
        .map(|n| {
            let g = daemon.call("aria2.addUri", json!([[server.url(&format!("/{n}"))]]));
            g.as_str().unwrap().to_owned()
        })
        .collect();

    // Kill once every download has fetched at least 1.5 MiB.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !names
        .iter()
        .all(|n| server.body_bytes_served(&format!("/{n}")) >= 3 * MIB / 2)
    {
        assert!(Instant::now() < deadline, "the downloads never got going");
        std::thread::sleep(Duration::from_millis(10));
    }
    daemon.kill();
    let done_requests = server.requests_for("/done.bin");

    let daemon = Daemon::start(&d.state, &d.dl, &args);
    // Paused stays paused, complete stays complete and listed.
    assert_eq!(daemon.status(&held)["status"], "paused");
    let s = daemon.status(&done);
    assert_eq!(s["status"], "complete", "{s}");
    assert_eq!(s["completedLength"], "300000");
    let stopped = daemon.call("aria2.tellStopped", json!([0, 10]));
    assert!(
        stopped
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["gid"] == done.as_str()),
        "{stopped}"
    );

    for (gid, name) in gids.iter().zip(names) {
        let s = daemon.wait_status(gid, "complete", 60);
        assert_eq!(s["totalLength"], len.to_string());
        let i = names.iter().position(|n| *n == name).unwrap() as u64;
        assert!(
            std::fs::read(d.dl.join(name)).unwrap() == pattern_bytes(20 + i, 0..len),
            "{name} is exact"
        );
        // At most one checkpoint interval (plus what sat in buffers and the fsync in
        // flight, as in tests/it/crash.rs) is fetched again.
        let refetched = server.body_bytes_served(&format!("/{name}")) - len;
        let bound = (rate as f64 * interval) as u64 + MIB;
        assert!(
            refetched <= bound,
            "{name}: re-fetched {refetched} > {bound}"
        );
        // The second run asked for the rest, not the whole file.
        let log = server.log();
        let ranges: Vec<_> = log
            .iter()
            .filter(|r| r.path == format!("/{name}"))
            .filter_map(|r| r.header("range").map(str::to_owned))
            .collect();
        assert!(
            !ranges.is_empty(),
            "{name} resumed with a Range: {ranges:?}"
        );
    }
    assert_eq!(
        server.requests_for("/done.bin"),
        done_requests,
        "not fetched again"
    );
    assert_eq!(server.body_bytes_served("/held.bin"), 0, "paused never ran");
    assert_eq!(daemon.status(&held)["status"], "paused");
    // And the paused one runs when asked.
    daemon.call("aria2.unpause", json!([held]));
    daemon.wait_status(&held, "complete", 30);
    assert!(std::fs::read(d.dl.join("held.bin")).unwrap() == pattern_bytes(31, 0..300_000));
}

#[test]
fn an_add_uri_answered_just_before_kill_9_is_not_lost() {
    let server = FaultServer::start();
    server.put("/late.bin", Resource::pattern(40, 500_000));
    let d = Dirs::new();
    for round in 0..5 {
        let daemon = Daemon::start(&d.state, &d.dl, &[]);
        let gid = daemon.call(
            "aria2.addUri",
            json!([[server.url("/late.bin")], {"out": format!("late{round}.bin"), "pause": "true"}]),
        );
        // SIGKILL right after the answer: nothing after the commit ran.
        daemon.kill();
        let daemon = Daemon::start(&d.state, &d.dl, &[]);
        let s = daemon.status(gid.as_str().unwrap());
        assert_eq!(s["status"], "paused", "round {round}: {s}");
        daemon.call("aria2.unpause", json!([gid]));
        daemon.wait_status(gid.as_str().unwrap(), "complete", 30);
        assert!(
            std::fs::read(d.dl.join(format!("late{round}.bin"))).unwrap()
                == pattern_bytes(40, 0..500_000)
        );
    }
}

#[test]
fn the_database_opens_after_kill_9_at_20_moments_under_a_stream_of_calls() {
    let server = FaultServer::start();
    server.put(
        "/x.bin",
        Resource::pattern(50, 2 * MIB).with_rate_limit(4 * MIB),
    );
    let d = Dirs::new();
    let mut acknowledged: Vec<String> = Vec::new();
    for round in 0..20u64 {
        let daemon = Daemon::start(&d.state, &d.dl, &["-j", "2"]);
        // Everything acknowledged in earlier rounds is still there.
        for gid in &acknowledged {
            let s = daemon.request(&json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.tellStatus", "params": [gid, ["status"]]}));
            assert!(s.get("result").is_some(), "round {round}: {gid} lost: {s}");
        }
        let addr = daemon.addr.clone();
        let url = server.url("/x.bin");
        let caller = std::thread::spawn(move || calls(&addr, &url, round));
        // Kill at a moment spread over 20..420 ms.
        std::thread::sleep(Duration::from_millis(20 + (round * 137) % 400));
        daemon.kill();
        acknowledged.extend(caller.join().unwrap());
    }
    let daemon = Daemon::start(&d.state, &d.dl, &[]);
    let waiting = daemon.call("aria2.tellWaiting", json!([0, 10000, ["gid"]]));
    let stopped = daemon.call("aria2.tellStopped", json!([0, 10000, ["gid"]]));
    let active = daemon.call("aria2.tellActive", json!([["gid"]]));
    let listed = [waiting, stopped, active]
        .iter()
        .flat_map(|l| l.as_array().unwrap().clone())
        .count();
    assert!(
        listed >= acknowledged.len(),
        "{listed} < {}",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() >= 20,
        "the stream made progress: {}",
        acknowledged.len()
    );
}

/// A stream of adds, pauses, unpauses, moves and removes until the daemon dies; returns the
/// GIDs whose `addUri` was answered.
fn calls(addr: &str, url: &str, round: u64) -> Vec<String> {
    let mut added = Vec::new();
    for i in 0..10_000u64 {
        let out = format!("r{round}-{i}.bin");
        let Ok(answer) = super::post(
            addr,
            &json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.addUri", "params": [[url], {"out": out}]}),
        ) else {
            break;
        };
        let Some(gid) = answer["result"].as_str().map(str::to_owned) else {
            panic!("{answer}");
        };
        added.push(gid.clone());
        let method = [
            "aria2.pause",
            "aria2.unpause",
            "aria2.remove",
            "aria2.changePosition",
        ][(i % 4) as usize];
        let params: Value = if method == "aria2.changePosition" {
            json!([gid, 0, "POS_SET"])
        } else {
            json!([gid])
        };
        if super::post(
            addr,
            &json!({"jsonrpc": "2.0", "id": 2, "method": method, "params": params}),
        )
        .is_err()
        {
            break;
        }
    }
    added
}

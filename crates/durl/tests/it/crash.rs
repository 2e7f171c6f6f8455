//! `kill -9` at many byte counts: every run after a kill continues from what the state file
//! says is durable, the state always parses and never claims more than the part file holds,
//! the final file is exact, and each kill costs at most about one checkpoint interval of
//! re-fetched bytes.
//!
//! `DURL_CRASH_POINTS=N` raises the number of kill points for a long local run.

use std::time::Duration;

use durl_fetch::fuzzing::State;
use durl_testkit::{FaultServer, Resource, pattern_bytes};

use crate::durl;

#[test]
fn kill_9_at_many_byte_counts_then_resume_exactly() {
    sweep(1);
}

#[test]
fn kill_9_during_a_split_download_then_resume_exactly() {
    sweep(4);
}

/// Kills `durl get -x connections` at many points, then lets it finish.
fn sweep(connections: u64) {
    let len: u64 = 8 << 20;
    let rate: u64 = (4 << 20) / connections; // bytes per second per connection
    let interval = 0.2; // seconds between checkpoints
    let points: u64 = std::env::var("DURL_CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let server = FaultServer::start();
    server.put("/big.bin", Resource::pattern(11, len).with_rate_limit(rate));
    let dir = tempfile::tempdir().unwrap();
    let part = dir.path().join("big.bin.durl-part");
    let state_path = dir.path().join("big.bin.durl-state");
    let args = [
        "get".to_owned(),
        "-q".to_owned(),
        "--checkpoint-interval".to_owned(),
        interval.to_string(),
        "-x".to_owned(),
        connections.to_string(),
        server.url("/big.bin"),
    ];

    let mut kills = 0;
    let mut durables = Vec::new();
    for i in 0..points {
        // Kill points spread over the file: the first before any checkpoint, the others
        // once the state claims i/points of the file, plus 0, 100 or 200 KB more so that
        // kills land at different distances from a checkpoint.
        let served = server.body_bytes_served("/big.bin");
        let extra = 1 + (i % 3) * 100_000;
        let target = len * i / points;
        let mut child = durl(dir.path()).args(&args).spawn().unwrap();
        let reached = wait_while_running(&mut child, || {
            server.body_bytes_served("/big.bin") >= served + extra && durable(&state_path) >= target
        });
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if dir.path().join("big.bin").exists() {
            break; // this run finished before its kill point
        }
        assert!(reached, "kill point {i} never reached");
        kills += 1;
        // A kill before the first answer was handled leaves no state: nothing was claimed.
        let Ok(text) = std::fs::read_to_string(&state_path) else {
            durables.push(0);
            continue;
        };
        let state = State::decode(&text).expect("state always parses");
        durables.push(state.durable());
        let on_disk = std::fs::metadata(&part).unwrap().len();
        assert!(
            state.have.end() <= on_disk,
            "state claims {} > part {}",
            state.have.end(),
            on_disk
        );
        let got = std::fs::read(&part).unwrap();
        for r in state.have.ranges() {
            assert!(
                got[r.start as usize..r.end as usize] == pattern_bytes(11, r.clone())[..],
                "durable bytes are the right bytes"
            );
        }
    }

    assert!(kills + 3 >= points, "killed only {kills} times");
    // A kill never loses bytes an earlier checkpoint made durable, and the runs progress.
    assert!(
        durables.windows(2).all(|w| w[1] >= w[0]),
        "durable went backwards: {durables:?}"
    );
    assert!(durables.last() > durables.first(), "{durables:?}");
    // Run to the end (with -c, which also accepts a file that a run finished before its kill).
    let mut last = args.to_vec();
    last.insert(1, "-c".to_owned());
    let out = durl(dir.path()).args(&last).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(dir.path().join("big.bin")).unwrap() == pattern_bytes(11, 0..len));
    assert!(!part.exists() && !state_path.exists());
    // Each kill may lose what arrived since the last checkpoint: the interval's worth at
    // `rate` on each connection, plus what sat in socket buffers and the fsync in flight.
    let refetched = server.body_bytes_served("/big.bin") - len;
    let per_kill = connections * ((rate as f64 * interval) as u64 + (1 << 20));
    assert!(
        refetched <= kills * per_kill,
        "re-fetched {refetched} bytes over {kills} kills (bound {per_kill} each)"
    );
}

/// Polls `done` until it holds (true) or `child` exits or 20 s pass (false).
fn wait_while_running(child: &mut std::process::Child, mut done: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

/// The bytes the state file on disk claims (0 without a readable one).
fn durable(path: &std::path::Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| State::decode(&text).ok())
        .map_or(0, |s| s.durable())
}

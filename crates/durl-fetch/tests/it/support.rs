//! Shared helpers: a fast-retrying request, a recording reporter, expected bytes.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use durl_fetch::{Event, GetRequest, Reporter, RestartReason};
use durl_testkit::{FaultServer, pattern_bytes};

pub const SEED: u64 = 7;

/// A request for `path` on `server` into `dir/out.bin`, with back-off in milliseconds so
/// that retry tests are quick.
pub fn request(server: &FaultServer, path: &str, dir: &Path) -> GetRequest {
    GetRequest::new(&server.url(path))
        .unwrap()
        .output(dir.join("out.bin"))
        .retry_delay(Duration::from_millis(10), Duration::from_millis(200))
        .stall_timeout(Duration::from_secs(5))
}

pub fn out(dir: &Path) -> PathBuf {
    dir.join("out.bin")
}

pub fn part(dir: &Path) -> PathBuf {
    dir.join("out.bin.durl-part")
}

pub fn state(dir: &Path) -> PathBuf {
    dir.join("out.bin.durl-state")
}

pub fn expected(len: u64) -> Vec<u8> {
    pattern_bytes(SEED, 0..len)
}

/// Asserts the download finished exactly and left no part or state file behind.
#[track_caller]
pub fn assert_complete(dir: &Path, want: &[u8]) {
    let got = std::fs::read(out(dir)).expect("output exists");
    assert_eq!(got.len(), want.len(), "length");
    assert!(got == want, "content differs");
    assert!(!part(dir).exists(), "part file left behind");
    assert!(!state(dir).exists(), "state file left behind");
}

/// A reporter that remembers restarts, retries and the other notices.
#[derive(Debug, Default)]
pub struct Recorder {
    pub restarts: Mutex<Vec<RestartReason>>,
    pub retries: Mutex<u32>,
    pub weak: Mutex<bool>,
    pub progress: Mutex<u64>,
    pub dropped: Mutex<Vec<durl_fetch::DropReason>>,
}

impl Reporter for Recorder {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Restarted { reason } => self.restarts.lock().unwrap().push(reason),
            Event::Retrying { .. } => *self.retries.lock().unwrap() += 1,
            Event::NoStrongValidator => *self.weak.lock().unwrap() = true,
            Event::Progress { bytes } => *self.progress.lock().unwrap() += bytes,
            Event::MirrorDropped { reason, .. } => self.dropped.lock().unwrap().push(reason),
            _ => {}
        }
    }
}

impl Recorder {
    pub fn restarts(&self) -> Vec<RestartReason> {
        self.restarts.lock().unwrap().clone()
    }
    pub fn retries(&self) -> u32 {
        *self.retries.lock().unwrap()
    }
}

/// The GET requests the server saw for `path`, as (Range, If-Range) pairs.
pub fn gets(server: &FaultServer, path: &str) -> Vec<(Option<String>, Option<String>)> {
    server
        .log()
        .into_iter()
        .filter(|s| s.method == "GET" && s.path == path)
        .map(|s| {
            (
                s.header("range").map(str::to_owned),
                s.header("if-range").map(str::to_owned),
            )
        })
        .collect()
}

/// Writes the state file a run against `/f` = `Resource::pattern(SEED, pattern_len)` would
/// have left: that resource's strong ETag, the given length and held ranges.
pub fn write_state(
    server: &FaultServer,
    dir: &Path,
    pattern_len: u64,
    length: Option<u64>,
    have: durl_fetch::fuzzing::RangeSet,
) {
    let etag = format!("\"s{SEED}-{pattern_len}\"");
    let st = durl_fetch::fuzzing::State {
        url: server.url("/f"),
        final_url: server.url("/f"),
        length,
        version: durl_fetch::Version::new()
            .with("etag", etag.clone())
            .with("if-range", etag),
        have,
    };
    std::fs::write(state(dir), st.encode()).unwrap();
}

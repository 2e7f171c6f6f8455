//! The two ways an earlier engine finished with a wrong file and exit 0, kept as regression
//! tests: a 206 whose body is longer than its `Content-Range` (RFC 9110 §14.4: the range
//! says which bytes the content is), and a single stream resuming over a state with holes
//! (each chunk must land at its own offset, never at "the end of the held prefix").

use std::path::Path;

use durl_fetch::ErrorKind;
use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::support::*;

const MIB: u64 = 1 << 20;

fn server(len: u64) -> FaultServer {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, len));
    server
}

/// The `have` ranges a state file claims (`have 0-100 200-300` -> [(0, 100), (200, 300)]).
fn held(dir: &Path) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(state(dir)).expect("a state file");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("have "))
        .expect("a have line");
    line.split_whitespace()
        .filter(|r| !r.is_empty())
        .map(|r| {
            let (a, b) = r.split_once('-').expect("start-end");
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect()
}

/// Every byte the state claims is the remote file's byte at that offset.
#[track_caller]
fn assert_held_bytes_are_right(dir: &Path) {
    let data = std::fs::read(part(dir)).expect("the part file is kept");
    for (start, end) in held(dir) {
        assert!(
            end as usize <= data.len(),
            "held {start}-{end} past the part file"
        );
        assert!(
            data[start as usize..end as usize] == pattern_bytes(SEED, start..end)[..],
            "held bytes {start}-{end} are not the remote file's"
        );
    }
}

/// A part file holding the remote bytes of `ranges` (zeros elsewhere, up to the last one).
fn seed_ranges(dir: &Path, ranges: &[(u64, u64)]) {
    let end = ranges.iter().map(|r| r.1).max().unwrap_or(0);
    let mut data = vec![0u8; end as usize];
    for &(a, b) in ranges {
        data[a as usize..b as usize].copy_from_slice(&pattern_bytes(SEED, a..b));
    }
    std::fs::write(part(dir), data).unwrap();
}

/// A version-2 state for `/f` with the given `length` line, validator lines and held ranges.
fn seed_state(server: &FaultServer, dir: &Path, length: &str, etag: Option<&str>, have: &str) {
    let url = server.url("/f");
    let mut text = format!("durl-state 2\nurl {url}\nfinal-url {url}\nlength {length}\n");
    if let Some(etag) = etag {
        text.push_str(&format!("etag {etag}\nif-range {etag}\n"));
    }
    text.push_str(&format!("have {have}\n"));
    std::fs::write(state(dir), text).unwrap();
}

#[tokio::test]
async fn a_206_longer_than_its_content_range_is_never_written_single_stream() {
    let len = 3 * MIB;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    seed_ranges(dir.path(), &[(0, MIB)]);
    let etag = format!("\"s{SEED}-{len}\"");
    seed_state(
        &server,
        dir.path(),
        &len.to_string(),
        Some(&etag),
        &format!("0-{MIB}"),
    );
    // `bytes 1048576-1048675/3145728` with a 2 MiB body.
    server.set_fault("/f", Some(Fault::OverlongRange(100)));
    let err = durl_fetch::get(&request(&server, "/f", dir.path()).retries(1), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(
        err.root().to_string().contains("Content-Range"),
        "{}",
        err.root()
    );
    assert!(!out(dir.path()).exists(), "no output from a bad answer");
    assert_held_bytes_are_right(dir.path());
    // A later run against an honest server completes exactly.
    server.set_fault("/f", None);
    durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
}

#[tokio::test]
async fn a_206_longer_than_its_content_range_is_never_written_split() {
    let len = 3 * MIB;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    server.set_fault("/f", Some(Fault::OverlongRange(100)));
    let err = durl_fetch::get(
        &request(&server, "/f", dir.path()).connections(3).retries(1),
        &(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert!(!out(dir.path()).exists(), "no output from a bad answer");
    assert_held_bytes_are_right(dir.path());
    server.set_fault("/f", None);
    durl_fetch::get(&request(&server, "/f", dir.path()).connections(3), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
}

#[tokio::test]
async fn a_single_stream_over_a_state_with_holes_and_no_length_writes_each_byte_at_its_offset() {
    let len = 3 * MIB;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    // A split run's state whose length line says `unknown`: no split, one stream.
    let held = [(0, MIB), (MIB + 100_000, 2 * MIB)];
    seed_ranges(dir.path(), &held);
    let etag = format!("\"s{SEED}-{len}\"");
    let have = format!("0-{MIB} {}-{}", MIB + 100_000, 2 * MIB);
    seed_state(&server, dir.path(), "unknown", Some(&etag), &have);
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
    // Exactly the holes were fetched.
    let holes = len - MIB - (MIB - 100_000);
    assert_eq!(outcome.fetched, holes);
    assert_eq!(server.body_bytes_served("/f"), holes);
}

#[tokio::test]
async fn a_single_stream_over_a_state_with_holes_and_no_validator_writes_each_byte_at_its_offset() {
    let len = 3 * MIB;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    // A split run's state whose etag and if-range lines are gone: no If-Range, no split.
    let held = [(0, MIB), (MIB + 100_000, 2 * MIB)];
    seed_ranges(dir.path(), &held);
    let have = format!("0-{MIB} {}-{}", MIB + 100_000, 2 * MIB);
    seed_state(&server, dir.path(), &len.to_string(), None, &have);
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
    let holes = len - MIB - (MIB - 100_000);
    assert_eq!(outcome.fetched, holes);
    // Without a validator each hole's request also repeats the 64 KiB held before it, which
    // are compared, not written (validatorless.rs).
    assert_eq!(server.body_bytes_served("/f"), holes + 2 * (64 << 10));
    let ranges: Vec<_> = gets(&server, "/f").into_iter().map(|(r, _)| r).collect();
    let first = MIB - (64 << 10);
    let second = 2 * MIB - (64 << 10);
    assert_eq!(
        ranges,
        [
            Some(format!("bytes={first}-{}", MIB + 100_000 - 1)),
            Some(format!("bytes={second}-")),
        ]
    );
}

//! State files written by earlier releases (formats 1 and 2, kept in `tests/fixtures/`) are
//! resumed: held bytes are kept and only the rest is fetched, proven to be of the same version
//! (HTTP `If-Range`; FTP `SIZE` and `MDTM`). The state then written is format 3.

use std::path::Path;

use durl_fetch::GetRequest;
use durl_fetch::fuzzing::State;
use durl_testkit::{FaultServer, FtpServer, Resource, pattern_bytes};

use crate::support::{Recorder, SEED, assert_complete, expected, gets, out, part, state};

const LEN: u64 = 3_000_000;

/// Puts `fixture` (with the server's port) beside a part file holding `held` of the pattern.
fn plant(dir: &Path, fixture: &str, port: u16, held: &[std::ops::Range<u64>]) {
    std::fs::write(state(dir), fixture.replace("PORT", &port.to_string())).unwrap();
    let mut bytes = vec![0u8; held.iter().map(|r| r.end).max().unwrap_or(0) as usize];
    for r in held {
        bytes[r.start as usize..r.end as usize]
            .copy_from_slice(&pattern_bytes(SEED, r.start..r.end));
    }
    std::fs::write(part(dir), bytes).unwrap();
    // What the fixture says is what a run of today reads from it.
    let text = std::fs::read_to_string(state(dir)).unwrap();
    let decoded = State::decode(&text).unwrap();
    assert_eq!(decoded.have.ranges(), held);
}

#[tokio::test]
async fn a_format_1_http_state_is_resumed_from_its_durable_prefix() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    let fixture = include_str!("../fixtures/v1-http.durl-state");
    let prefix = 0..1_000_000;
    plant(
        dir.path(),
        fixture,
        server.addr().port(),
        std::slice::from_ref(&prefix),
    );
    let rec = Recorder::default();
    let req = GetRequest::new(&server.url("/f"))
        .unwrap()
        .output(out(dir.path()));
    let outcome = durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(rec.restarts().is_empty(), "{:?}", rec.restarts());
    assert_eq!(
        (outcome.resumed_from, outcome.fetched),
        (1_000_000, LEN - 1_000_000)
    );
    let etag = format!("\"s{SEED}-{LEN}\"");
    assert_eq!(
        gets(&server, "/f"),
        [(Some("bytes=1000000-".into()), Some(etag))]
    );
}

#[tokio::test]
async fn a_format_2_http_state_with_a_hole_fetches_exactly_the_missing_bytes() {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, LEN));
    let dir = tempfile::tempdir().unwrap();
    let fixture = include_str!("../fixtures/v2-http.durl-state");
    let held = [0..1_000_000, 2_000_000..2_500_000];
    plant(dir.path(), fixture, server.addr().port(), &held);
    let rec = Recorder::default();
    let req = GetRequest::new(&server.url("/f"))
        .unwrap()
        .output(out(dir.path()));
    let outcome = durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(rec.restarts().is_empty(), "{:?}", rec.restarts());
    assert_eq!(outcome.fetched, LEN - 1_500_000);
    assert_eq!(server.body_bytes_served("/f"), LEN - 1_500_000);
}

#[tokio::test]
async fn a_format_2_ftp_state_is_resumed_with_its_mdtm() {
    let server = FtpServer::start();
    server.put("f.bin", pattern_bytes(SEED, 0..LEN));
    let dir = tempfile::tempdir().unwrap();
    let fixture = include_str!("../fixtures/v2-ftp.durl-state");
    let held = [0..1_000_000, 2_000_000..2_500_000];
    plant(dir.path(), fixture, server.addr().port(), &held);
    let rec = Recorder::default();
    let req = GetRequest::new(&server.url("f.bin"))
        .unwrap()
        .output(out(dir.path()));
    let outcome = durl_fetch::get(&req, &rec).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(rec.restarts().is_empty(), "{:?}", rec.restarts());
    assert_eq!(outcome.fetched, LEN - 1_500_000);
    let offsets: Vec<u64> = server.retrs().iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [1_000_000, 2_500_000]);
}

#[tokio::test]
async fn a_state_of_today_is_format_3_with_the_transports_version() {
    let server = FtpServer::start();
    server.put("f.bin", pattern_bytes(SEED, 0..LEN));
    server.push_fault("f.bin", durl_testkit::FtpFault::CutAfter(1_000_000));
    let dir = tempfile::tempdir().unwrap();
    let req = GetRequest::new(&server.url("f.bin"))
        .unwrap()
        .output(out(dir.path()))
        .retries(0);
    durl_fetch::get(&req, &()).await.unwrap_err();
    let text = std::fs::read_to_string(state(dir.path())).unwrap();
    assert!(text.starts_with("durl-state 3\n"), "{text}");
    assert!(
        text.contains("\nversion mdtm 2024-01-01 12:00:00\n"),
        "{text}"
    );
    assert!(!text.contains("last-modified"), "{text}");
}

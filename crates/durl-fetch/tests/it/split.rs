//! Split downloads over several connections.

use std::fs::File;
use std::time::{Duration, Instant};

use durl_fetch::fuzzing::RangeSet;
use durl_fetch::{ErrorKind, RestartReason, fuzzing::State};
use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::support::*;

const MIB: u64 = 1 << 20;

fn server(len: u64) -> FaultServer {
    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, len));
    server
}

/// The `Range` headers the server saw, in arrival order.
fn ranges(server: &FaultServer) -> Vec<Option<String>> {
    gets(server, "/f").into_iter().map(|(r, _)| r).collect()
}

#[tokio::test]
async fn a_split_download_is_exact_and_uses_the_connections() {
    let len = 8 * MIB;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).connections(4), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
    let log = ranges(&server);
    // The first request learns the length; three more ask for the other quarters, each
    // with If-Range.
    assert_eq!(log[0], None);
    let mut asked: Vec<_> = log[1..4].iter().map(|r| r.clone().unwrap()).collect();
    asked.sort();
    assert_eq!(
        asked,
        [
            "bytes=2097152-4194303",
            "bytes=4194304-6291455",
            "bytes=6291456-8388607"
        ]
    );
    // Any later request is a connection that finished early taking over the second half of
    // a running segment: it ends where a quarter ends.
    for r in log[4..].iter().flatten() {
        assert!(
            ["-2097151", "-4194303", "-6291455", "-8388607"]
                .iter()
                .any(|end| r.ends_with(end)),
            "{r}"
        );
    }
    let etag = format!("\"s{SEED}-{len}\"");
    assert!(
        gets(&server, "/f")[1..]
            .iter()
            .all(|(_, ir)| ir.as_deref() == Some(etag.as_str()))
    );
    // The first connection is dropped at the end of its quarter: what the server had already
    // pushed into the socket buffers (a few MiB on loopback, whatever the file size) is the
    // only waste.
    let served = server.body_bytes_served("/f");
    assert!(served < len + 12 * MIB, "{served}");
}

#[tokio::test]
async fn more_connections_than_megabytes_still_splits_sensibly() {
    let len = 3 * MIB;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).connections(32), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
    assert_eq!(server.requests_for("/f"), 2, "1.5 MiB halves, no smaller");
}

#[tokio::test]
async fn small_files_and_servers_without_ranges_use_one_connection() {
    let server = server(MIB);
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).connections(8), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(MIB));
    assert_eq!(server.requests_for("/f"), 1);

    let server = FaultServer::start();
    server.put("/f", Resource::pattern(SEED, 8 * MIB).without_ranges());
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).connections(8), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(8 * MIB));
    assert_eq!(server.requests_for("/f"), 1);
}

#[tokio::test]
async fn a_cut_segment_resumes_from_its_own_offset() {
    let len = 8 * MIB;
    let server = server(len);
    server.push_fault("/f", Fault::CutAfter(100_000)); // the first connection
    server.push_fault("/f", Fault::CutAfter(300_000)); // one of the segments
    let dir = tempfile::tempdir().unwrap();
    durl_fetch::get(&request(&server, "/f", dir.path()).connections(4), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
    let log = ranges(&server);
    assert!(
        log.contains(&Some("bytes=100000-2097151".into())),
        "{log:?}"
    );
    assert!(
        log.iter().flatten().any(|r| r.starts_with("bytes=")
            && r.contains(&format!("{}-", 2 * MIB + 300_000))
            || r.contains(&format!("{}-", 4 * MIB + 300_000))
            || r.contains(&format!("{}-", 6 * MIB + 300_000))),
        "a cut segment continues past offset 0: {log:?}"
    );
}

#[tokio::test]
async fn a_200_on_a_segment_stops_the_split_and_restarts_cleanly() {
    let len = 8 * MIB;
    let server = server(len);
    // The first connection is served normally (a pause changes nothing), then every segment
    // request gets the whole file (also when asked again without If-Range, see cdn.rs).
    server.push_fault("/f", Fault::StallAfter(0, Duration::from_millis(1)));
    server.set_fault("/f", Some(Fault::IgnoreRange));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()).connections(4), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
    assert_eq!(rec.restarts(), [RestartReason::RangeIgnored]);
}

#[tokio::test]
async fn a_changed_etag_mid_download_restarts_without_mixing() {
    let len = 8 * MIB;
    let server = server(len);
    server.push_fault("/f", Fault::StallAfter(MIB, Duration::from_millis(300)));
    server.push_fault("/f", Fault::ChangeEtag("\"other\"".into()));
    let dir = tempfile::tempdir().unwrap();
    let rec = Recorder::default();
    durl_fetch::get(&request(&server, "/f", dir.path()).connections(4), &rec)
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
    assert_eq!(rec.restarts(), [RestartReason::RemoteChanged]);
}

#[tokio::test]
async fn a_stalled_segment_is_split_and_the_download_does_not_wait_for_it() {
    let len = 32 * MIB;
    let server = server(len);
    // The first connection delivers 100 KB and then stalls for a long time.
    server.push_fault("/f", Fault::StallAfter(100_000, Duration::from_secs(30)));
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f", dir.path())
        .connections(4)
        .stall_timeout(Duration::from_secs(3));
    let start = Instant::now();
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(len));
    // Without stealing, 7.9 MiB of the first quarter would wait for the stall timeout and
    // then go over one connection; with it, the other connections took most of it.
    let stolen = ranges(&server)
        .into_iter()
        .flatten()
        .filter(|r| {
            let start: u64 = r["bytes=".len()..r.find('-').unwrap()].parse().unwrap();
            start > 100_000 && start < 8 * MIB
        })
        .count();
    assert!(
        stolen >= 2,
        "the stalled quarter was split: {:?}",
        ranges(&server)
    );
    assert!(start.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn a_split_run_resumes_with_another_connection_count() {
    let len = 8 * MIB;
    let server = server(len);
    server.push_fault("/f", Fault::CutAfter(500_000));
    server.set_fault("/f", Some(Fault::CutAfter(700_000)));
    let dir = tempfile::tempdir().unwrap();
    let err = durl_fetch::get(
        &request(&server, "/f", dir.path()).connections(4).retries(0),
        &(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    let state = State::decode(&std::fs::read_to_string(state(dir.path())).unwrap()).unwrap();
    assert!(state.have.ranges().len() > 1, "holes: {}", state.have);
    // Every recorded byte is right.
    let part_bytes = std::fs::read(part(dir.path())).unwrap();
    for r in state.have.ranges() {
        assert!(part_bytes[r.start as usize..r.end as usize] == pattern_bytes(SEED, r.clone())[..]);
    }

    server.set_fault("/f", None);
    let before = server.log().len();
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()).connections(1), &())
        .await
        .unwrap();
    assert_complete(dir.path(), &expected(len));
    let second: u64 = server.log()[before..].iter().map(|s| s.body_bytes).sum();
    assert_eq!(second, len - state.durable(), "only the holes were fetched");
    assert_eq!(outcome.fetched, len - state.durable());
}

#[tokio::test]
async fn holes_past_4_gib_are_filled() {
    let len: u64 = 5 << 30;
    let server = server(len);
    let dir = tempfile::tempdir().unwrap();
    File::create(part(dir.path()))
        .unwrap()
        .set_len(len - MIB)
        .unwrap();
    let mut have = RangeSet::prefix(4_500_000_000);
    have.insert(4_500_000_000 + MIB..len - MIB);
    write_state(&server, dir.path(), len, Some(len), have);
    let outcome = durl_fetch::get(&request(&server, "/f", dir.path()).connections(4), &())
        .await
        .unwrap();
    assert_eq!(outcome.fetched, 2 * MIB);
    assert_eq!(server.body_bytes_served("/f"), 2 * MIB);
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(out(dir.path())).unwrap();
    assert_eq!(f.metadata().unwrap().len(), len);
    for start in [4_500_000_000, len - MIB] {
        f.seek(SeekFrom::Start(start)).unwrap();
        let mut got = vec![0; MIB as usize];
        f.read_exact(&mut got).unwrap();
        assert!(got == pattern_bytes(SEED, start..start + MIB));
    }
}

#[tokio::test]
async fn checksum_pass_and_fail() {
    use sha2::Digest;
    let len = 4 * MIB;
    let server = server(len);
    let good = format!(
        "sha256={}",
        durl_fetch::fuzzing::hex(&sha2::Sha256::digest(expected(len)))
    );
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f", dir.path())
        .connections(4)
        .checksum(Some(good.parse().unwrap()));
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(len));

    let bad = format!("sha256={}", "00".repeat(32));
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f", dir.path()).checksum(Some(bad.parse().unwrap()));
    let err = durl_fetch::get(&req, &()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Checksum, "{err}");
    assert!(
        err.to_string().contains(&good),
        "names the actual digest: {err}"
    );
    assert!(
        !out(dir.path()).exists(),
        "a wrong file never gets the final name"
    );
    assert_eq!(
        std::fs::read(part(dir.path())).unwrap(),
        expected(len),
        "the data is kept"
    );
}

#[tokio::test]
async fn limit_rate_holds_within_15_percent_over_all_connections() {
    let len = 3 * MIB;
    let rate = 1 << 20; // 1 MiB/s: three seconds
    let server = server(len);
    for connections in [1, 4] {
        let dir = tempfile::tempdir().unwrap();
        let req = request(&server, "/f", dir.path())
            .connections(connections)
            .limit_rate(Some(rate));
        let clock = Clock::default();
        let start = Instant::now();
        durl_fetch::get(&req, &clock).await.unwrap();
        let secs = start.elapsed().as_secs_f64();
        let want = len as f64 / rate as f64;
        // Never faster than the limit, whatever the scheduling.
        assert!(
            secs >= want * 0.85,
            "{connections} connections: {secs:.2} s"
        );
        // The rate while bytes flow (connection set-up excluded) is the limit ± 15 %.
        let measured = clock.rate();
        assert!(
            (rate as f64 * 0.85..=rate as f64 * 1.15).contains(&measured),
            "{connections} connections: {measured:.0} B/s, want {rate} ± 15 %"
        );
        assert_complete(dir.path(), &expected(len));
    }
}

#[tokio::test]
async fn one_limiter_is_shared_by_every_file_of_a_run() {
    // `-j 3 --limit-rate 1M`: three files at once, 1 MiB/s in all (not 1 MiB/s each).
    let len = MIB;
    let rate = 1 << 20;
    let server = FaultServer::start();
    let dir = tempfile::tempdir().unwrap();
    let requests: Vec<_> = (0..3)
        .map(|i| {
            let path = format!("/f{i}");
            server.put(&path, Resource::pattern(SEED, len));
            request(&server, &path, dir.path())
                .output(dir.path().join(format!("out{i}.bin")))
                .limit_rate(Some(rate))
        })
        .collect();
    let clock = std::sync::Arc::new(Clock::default());
    let batch = Batch(clock.clone());
    let options = durl_fetch::BatchOptions {
        jobs: 3,
        ..durl_fetch::BatchOptions::default()
    };
    let start = Instant::now();
    let results = durl_fetch::get_all(&requests, options, &batch)
        .await
        .unwrap();
    let secs = start.elapsed().as_secs_f64();
    for result in &results {
        assert!(result.is_ok(), "{result:?}");
    }
    for i in 0..3 {
        let got = std::fs::read(dir.path().join(format!("out{i}.bin"))).unwrap();
        assert!(got == expected(len), "file {i}");
    }
    let want = (3 * len) as f64 / rate as f64;
    assert!(
        secs >= want * 0.85,
        "3 files in {secs:.2} s, want about {want} s"
    );
    let measured = clock.rate();
    assert!(
        (rate as f64 * 0.85..=rate as f64 * 1.15).contains(&measured),
        "{measured:.0} B/s over all files, want {rate} ± 15 %"
    );
}

/// Hands every file of a batch the same [`Clock`].
struct Batch(std::sync::Arc<Clock>);

impl durl_fetch::BatchReporter for Batch {
    fn file(&self, _index: usize) -> std::sync::Arc<dyn durl_fetch::Reporter> {
        self.0.clone()
    }
    fn finished(&self, _index: usize, _result: &Result<durl_fetch::Outcome, durl_fetch::Error>) {}
}

/// Times the progress events: the rate between the first and the last written chunk.
#[derive(Default)]
struct Clock(std::sync::Mutex<Option<(Instant, Instant, u64, u64)>>);

impl durl_fetch::Reporter for Clock {
    fn report(&self, event: durl_fetch::Event<'_>) {
        if let durl_fetch::Event::Progress { bytes } = event {
            let now = Instant::now();
            let mut guard = self.0.lock().unwrap();
            match &mut *guard {
                None => *guard = Some((now, now, bytes, bytes)),
                Some((_, last, _, total)) => {
                    *last = now;
                    *total += bytes;
                }
            }
        }
    }
}

impl Clock {
    fn rate(&self) -> f64 {
        let (first, last, first_bytes, total) = self.0.lock().unwrap().expect("progress");
        (total - first_bytes) as f64 / last.duration_since(first).as_secs_f64()
    }
}

//! tus-js-client (npm) under Node uploading to the real `durl serve --upload`: a run killed
//! with SIGKILL mid-way that began with creation-with-upload, continued by a second run
//! through tus-js-client's own URL storage (`findPreviousUploads` +
//! `resumeFromPreviousUpload`, then HEAD: tus 1.0 Core Protocol › HEAD); and a one-shot
//! upload whose metadata name is not ASCII; and one whole-file PATCH cut by SIGKILL, of
//! which the server keeps what arrived.

use std::path::Path;
use std::time::{Duration, Instant};

use super::node;
use super::script::{Script, number};
use super::serve_upload::{ServeUpload, data_files};
use crate::durl;
use crate::serve::Serve;

const MIB: u64 = 1 << 20;

/// `node tus_js_upload.mjs ENDPOINT FILE --chunk-size N --store JSON --filename NAME ARGS…`.
fn tus_js(s: &ServeUpload, store: &Path, chunk: u64, name: &str, args: &[&str]) -> Script {
    let mut cmd = node("tus_js_upload.mjs");
    cmd.arg(s.endpoint())
        .arg(s.source())
        .args(["--chunk-size", &chunk.to_string(), "--filename", name])
        .arg("--store")
        .arg(store)
        .args(args);
    Script::spawn(cmd)
}

/// The first line `WORD …` of a run's output.
fn line<'a>(lines: &'a [String], word: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l.split(' ').next() == Some(word))
        .unwrap_or_else(|| panic!("no {word} line: {lines:?}"))
}

/// The URL of every `url URL` line: the upload the run worked on, each time it (re)found it.
fn urls(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix("url "))
        .collect()
}

/// `(size, accepted)` of a `chunk SIZE ACCEPTED` line.
fn chunk(line: &str) -> Option<(u64, u64)> {
    let size = number(line, "chunk")?;
    Some((size, line.rsplit(' ').next()?.parse().ok()?))
}

#[test]
fn tus_js_client_killed_mid_upload_continues_from_its_stored_url_on_a_second_run() {
    let len = 20 * MIB + 4_321;
    let s = ServeUpload::new(len, 51);
    let store = s.dir.path().join("tus-js-urls.json");

    // tus 1.0 › Creation With Upload: the POST that creates the upload carries the first
    // chunk, so the first answer already acknowledges a whole chunk.
    let mut first = tus_js(
        &s,
        &store,
        MIB,
        "js.bin",
        &["--with-creation", "--pause-ms", "50"],
    );
    first.wait_for(Duration::from_secs(30), |l| {
        (l == "previous 0").then_some(())
    });
    let url = first.wait_for(Duration::from_secs(30), |l| {
        l.strip_prefix("url ").map(str::to_owned)
    });
    first.wait_for(Duration::from_secs(30), |l| (l == "start 0").then_some(()));
    let created = first.wait_for(Duration::from_secs(30), chunk);
    assert_eq!(
        created,
        (MIB, MIB),
        "the POST's body was taken: {:?}",
        first.seen
    );
    let acked = first.wait_for(Duration::from_secs(60), |l| {
        chunk(l).map(|(_, at)| at).filter(|&at| at >= 8 * MIB)
    });
    first.kill();
    let held = data_files(&s.uploads());
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].1 >= acked && held[0].1 < len, "{held:?}");
    assert!(s.served("js.bin").is_none(), "not complete yet");

    let second = tus_js(&s, &store, MIB, "js.bin", &[]);
    let (status, lines, stderr) = second.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {stderr}");
    assert_eq!(line(&lines, "previous"), "previous 1", "{lines:?}");
    assert_eq!(urls(&lines), [url], "the same upload");
    let start = number(line(&lines, "start"), "start").unwrap();
    assert!(
        start >= acked && start < len,
        "resumed at {start}: {lines:?}"
    );
    let done = lines.last().unwrap();
    let sent = number(done, "done").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(sent, len - start, "only the rest was sent: {lines:?}");
    assert!(s.served("js.bin") == Some(s.data.clone()), "exact bytes");
    let left = data_files(&s.uploads());
    assert!(left.is_empty(), "nothing left unfinished: {left:?}");
}

#[test]
fn tus_js_client_uploads_in_one_go_under_a_non_ascii_metadata_name() {
    let s = ServeUpload::new(3 * MIB + 99, 52);
    let store = s.dir.path().join("tus-js-urls.json");
    // Upload-Metadata values are base64 (tus 1.0 › Creation › Upload-Metadata): UTF-8 here.
    let run = tus_js(&s, &store, MIB, "Grüße 2026.bin", &[]);
    let (status, lines, stderr) = run.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {stderr}");
    assert_eq!(line(&lines, "previous"), "previous 0", "{lines:?}");
    assert_eq!(line(&lines, "start"), "start 0", "{lines:?}");
    let done = lines.last().unwrap();
    assert_eq!(number(done, "done"), Some(3 * MIB + 99), "{lines:?}");
    assert!(
        s.served("Grüße 2026.bin") == Some(s.data.clone()),
        "exact bytes"
    );
}

#[test]
fn a_single_patch_cut_by_sigkill_keeps_what_arrived_and_the_next_run_sends_the_rest() {
    let len = 48 * MIB + 3;
    let s = ServeUpload::new(len, 53);
    let store = s.dir.path().join("tus-js-urls.json");
    // tus-js-client's default chunk size is unlimited: the whole file in one PATCH.
    let whole = 1 << 40;
    let mut first = tus_js(&s, &store, whole, "cut.bin", &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "no 4 MiB on the server in time");
        assert!(first.running(), "the upload ended first: {:?}", first.seen);
        let held = data_files(&s.uploads());
        if held.first().is_some_and(|(_, n)| *n >= 4 * MIB) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    first.kill(); // in the middle of the PATCH body
    assert!(s.served("cut.bin").is_none(), "not complete yet");

    let second = tus_js(&s, &store, whole, "cut.bin", &[]);
    let (status, lines, stderr) = second.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {stderr}");
    assert_eq!(line(&lines, "previous"), "previous 1", "{lines:?}");
    // tus 1.0 Core Protocol › PATCH: "The Server SHOULD always attempt to store as much of
    // the received data as possible". durl serve keeps (fsyncs, then records) all that
    // arrived of the cut PATCH, so HEAD reports at least the 4 MiB seen on disk.
    let start = number(line(&lines, "start"), "start").unwrap();
    assert!(
        start >= 4 * MIB && start < len,
        "resumed at {start}: {lines:?}"
    );
    let sent = number(lines.last().unwrap(), "done").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(sent, len - start, "{lines:?}");
    assert!(s.served("cut.bin") == Some(s.data.clone()), "exact bytes");
}

#[test]
fn tus_js_client_rides_out_durl_serve_killed_with_9_and_restarted_without_losing_a_byte() {
    let len = 16 * MIB + 11;
    let mut s = ServeUpload::new(len, 54);
    let store = s.dir.path().join("tus-js-urls.json");
    let port: u16 = s.server.addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut run = tus_js(&s, &store, MIB, "restart.bin", &["--pause-ms", "50"]);
    run.wait_for(Duration::from_secs(30), |l| {
        chunk(l).filter(|&(_, at)| at >= 6 * MIB)
    });
    s.server.child.kill().unwrap(); // SIGKILL: no shutdown, no last checkpoint
    s.server.child.wait().unwrap();
    // Down for longer than the client's pause, so that its next request fails and it
    // retries (HEAD, then PATCH); then back where it was, so the upload URL is still right.
    std::thread::sleep(Duration::from_millis(500));
    s.server = Serve::start_on(durl(&s.www()), &s.www(), port, &["--upload", "-q"]);

    let (status, lines, stderr) = run.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {stderr}");
    let seen = urls(&lines);
    assert!(seen.len() >= 2, "it found the upload again: {lines:?}");
    assert!(seen.iter().all(|u| *u == seen[0]), "one upload: {lines:?}");
    // Every chunk the server acknowledged survived its kill -9 (tus 1.0 Core › PATCH: the
    // answer's Upload-Offset is what the server holds): the chunks that succeeded add up to
    // the file, none sent twice.
    let sent = number(lines.last().unwrap(), "done").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(sent, len, "{lines:?}");
    assert!(
        s.served("restart.bin") == Some(s.data.clone()),
        "exact bytes"
    );
}

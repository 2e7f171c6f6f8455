//! tuspy, the Python tus client (PyPI `tuspy`), uploading to the real `durl serve --upload`:
//! one upload in one go, and one killed with SIGKILL mid-way that a second run continues
//! from the server's offset (tuspy's stored URL + HEAD, tus 1.0 Core Protocol › HEAD); and
//! `durl serve --auth`, which takes tuspy's Basic credentials and refuses it without them.

use std::path::Path;
use std::time::Duration;

use super::python;
use super::script::{Script, number};
use super::serve_upload::{ServeUpload, data_files};

const MIB: u64 = 1 << 20;

/// `python tuspy_upload.py ENDPOINT FILE --chunk-size N --filename NAME ARGS…`.
fn tuspy(endpoint: &str, file: &Path, chunk: u64, name: &str, args: &[&str]) -> Script {
    let mut cmd = python("tuspy_upload.py");
    cmd.arg(endpoint)
        .arg(file)
        .args(["--chunk-size", &chunk.to_string(), "--filename", name])
        .args(args);
    Script::spawn(cmd)
}

#[test]
fn tuspy_uploads_a_file_in_chunks_with_checksums_under_its_metadata_name() {
    let s = ServeUpload::new(5 * MIB + 12_345, 41);
    let run = tuspy(
        &s.endpoint(),
        &s.source(),
        MIB,
        "tuspy once.bin",
        // tuspy's upload_checksum: every PATCH has Upload-Checksum: sha1 (tus 1.0 › Checksum).
        &["--checksum"],
    );
    let (status, lines, stderr) = run.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {stderr}");
    assert!(lines[0].starts_with("start 0 "), "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("offset ")).count(),
        6,
        "five whole chunks and a short one: {lines:?}"
    );
    assert!(lines.last().unwrap().starts_with("done "), "{lines:?}");
    assert!(
        s.served("tuspy once.bin") == Some(s.data.clone()),
        "exact bytes"
    );
    let left = data_files(&s.uploads());
    assert!(left.is_empty(), "nothing left unfinished: {left:?}");
}

#[test]
fn tuspy_killed_mid_upload_continues_from_the_server_offset_on_a_second_run() {
    let len = 24 * MIB + 777;
    let s = ServeUpload::new(len, 42);
    let store = s.dir.path().join("tuspy-urls.json");
    let store_args = ["--store", store.to_str().unwrap()];

    let mut first = tuspy(
        &s.endpoint(),
        &s.source(),
        MIB,
        "resumed.bin",
        &[store_args[0], store_args[1], "--pause", "0.05"],
    );
    let url = first.wait_for(Duration::from_secs(30), |l| {
        l.strip_prefix("start 0 ").map(str::to_owned)
    });
    // Kill once the server has acknowledged 8 MiB (each `offset` line is its answer).
    let acked = first.wait_for(Duration::from_secs(60), |l| {
        number(l, "offset").filter(|&n| n >= 8 * MIB)
    });
    first.kill();
    let held = data_files(&s.uploads());
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(
        held[0].1 >= acked,
        "the server holds what it acknowledged: {held:?}"
    );
    assert!(held[0].1 < len, "{held:?}");
    assert!(s.served("resumed.bin").is_none(), "not complete yet");

    let second = tuspy(&s.endpoint(), &s.source(), MIB, "resumed.bin", &store_args);
    let (status, lines, stderr) = second.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {stderr}");
    let start = number(&lines[0], "start").unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(lines[0], format!("start {start} {url}"), "the same upload");
    assert!(
        start >= acked && start < len,
        "resumed at {start}: {lines:?}"
    );
    // Only the rest was sent: whole chunks from `start` on.
    let chunks = lines.iter().filter(|l| l.starts_with("offset ")).count() as u64;
    assert_eq!(chunks, (len - start).div_ceil(MIB), "{lines:?}");
    assert!(
        s.served("resumed.bin") == Some(s.data.clone()),
        "exact bytes"
    );
    let left = data_files(&s.uploads());
    assert!(left.is_empty(), "nothing left unfinished: {left:?}");
}

#[test]
fn tuspy_with_basic_credentials_uploads_to_durl_serve_with_auth_and_without_is_refused() {
    let s = ServeUpload::with(300_001, 43, &["--auth", "me:secret"]);
    // RFC 7617 §2: base64("me:secret").
    let auth = "Authorization: Basic bWU6c2VjcmV0";
    let run = tuspy(
        &s.endpoint(),
        &s.source(),
        100_000,
        "in.bin",
        &["--header", auth],
    );
    let (status, lines, stderr) = run.finish(Duration::from_secs(60));
    assert!(status.success(), "{lines:?} {stderr}");
    assert!(s.served("in.bin") == Some(s.data.clone()), "exact bytes");

    for header in [&[][..], &["--header", "Authorization: Basic bWU6d3Jvbmc="]] {
        let run = tuspy(&s.endpoint(), &s.source(), 100_000, "out.bin", header);
        let (status, lines, stderr) = run.finish(Duration::from_secs(60));
        assert!(!status.success(), "{lines:?}");
        // RFC 9110 §11.6.1 / §15.5.2: 401 to a request without valid credentials.
        assert!(stderr.contains("status 401"), "{stderr}");
        assert!(lines.is_empty(), "no upload was created: {lines:?}");
    }
    assert!(s.served("out.bin").is_none());
    let left = data_files(&s.uploads());
    assert!(left.is_empty(), "nothing created: {left:?}");
}

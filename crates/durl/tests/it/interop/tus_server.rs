//! `durl put` (the real binary) against the tus reference server, `@tus/server` with
//! `@tus/file-store` under Node: killed with SIGKILL mid-upload, the same command continues
//! the same upload from the server's offset (HEAD, tus 1.0 Core Protocol › HEAD) and the
//! server's file is the source byte for byte; and the server killed and restarted under a
//! running `durl put`, which retries and finishes the same upload; and an upload the
//! server expired (410), which `durl put` replaces with a new one.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use durl_testkit::pattern_bytes;

use super::node;
use super::script::{KillOnDrop, Script, number};
use crate::durl;
use crate::serve::{text, wait_within};

const MIB: u64 = 1 << 20;

/// `node tus_server.mjs STORE`: the endpoint is `/files/`; killed on drop (and it exits by
/// itself when its stdin, held by this process, closes).
struct TusServer {
    script: Script,
    port: u64,
    endpoint: String,
    store: PathBuf,
}

impl TusServer {
    /// On `port` (0: one the system picks), with uploads that expire `expire_ms` after their
    /// creation (0: never).
    fn start(store: &Path, port: u64, expire_ms: u64) -> Self {
        let mut cmd = node("tus_server.mjs");
        cmd.arg(store)
            .arg(port.to_string())
            .arg(expire_ms.to_string());
        let mut script = Script::spawn(cmd);
        let port = script.wait_for(Duration::from_secs(30), |l| number(l, "listening"));
        Self {
            script,
            port,
            endpoint: format!("http://127.0.0.1:{port}/files/"),
            store: store.to_owned(),
        }
    }

    /// The bytes @tus/file-store holds for the upload at `url` (its id is the last segment).
    fn held(&self, url: &str) -> Option<Vec<u8>> {
        let id = url.rsplit('/').next()?;
        std::fs::read(self.store.join(id)).ok()
    }

    /// Every file in the store: one data file and one `.json` record per upload.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.store)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// The upload URL `durl put` remembers in `LOCAL.durl-upload`, once it is written.
fn remembered(state: &Path) -> Option<String> {
    let state = std::fs::read_to_string(state).ok()?;
    state
        .lines()
        .find_map(|l| l.strip_prefix("upload ").map(str::to_owned))
}

/// Waits until the server's file for the upload `durl put` remembers holds `at_least`
/// bytes (@tus/file-store writes PATCH bodies as they arrive); the upload's URL.
fn wait_until_held(server: &TusServer, put: &mut Child, state: &Path, at_least: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if Instant::now() > deadline {
            let _ = put.kill();
            panic!("the upload never reached {at_least}: {:?}", server.files());
        }
        assert!(put.try_wait().unwrap().is_none(), "durl put ended early");
        if let Some(url) = remembered(state)
            && server
                .held(&url)
                .is_some_and(|b| b.len() as u64 >= at_least)
        {
            return url;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn durl_put_killed_with_9_continues_on_the_tus_reference_server() {
    let len = 20 * MIB + 5;
    let dir = tempfile::tempdir().unwrap();
    let data = pattern_bytes(61, 0..len);
    std::fs::write(dir.path().join("Grüße.bin"), &data).unwrap();
    let server = TusServer::start(&dir.path().join("store"), 0, 0);
    let state = dir.path().join("Grüße.bin.durl-upload");

    let put = ["put", "-q", "--limit-rate", "4M", "Grüße.bin"];
    let mut put = KillOnDrop(
        durl(dir.path())
            .args(put)
            .arg(&server.endpoint)
            .spawn()
            .unwrap(),
    );
    let url = wait_until_held(&server, &mut put.0, &state, 6 * MIB);
    put.0.kill().unwrap(); // SIGKILL
    put.0.wait().unwrap();
    let partial = server.held(&url).unwrap();
    assert!((partial.len() as u64) < len, "killed before the end");
    assert!(
        partial[..] == data[..partial.len()],
        "a prefix of the source"
    );

    let out = durl(dir.path())
        .args(["put", "Grüße.bin", &server.endpoint])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resumed at"), "{stderr}");
    assert!(
        server.held(&url) == Some(data),
        "exact bytes, in the same upload"
    );
    let id = url.rsplit('/').next().unwrap();
    assert_eq!(server.files(), [id.to_owned(), format!("{id}.json")]);
    // tus 1.0 › Creation › Upload-Metadata: the name, base64 of its UTF-8, as the server read it.
    let record = std::fs::read_to_string(server.store.join(format!("{id}.json"))).unwrap();
    assert!(
        record.contains(r#""metadata":{"filename":"Grüße.bin"}"#),
        "{record}"
    );
    assert!(!state.exists(), "the state is removed at the end");
}

#[test]
fn durl_put_retries_while_the_tus_reference_server_restarts_and_finishes_the_upload() {
    let len = 20 * MIB + 9;
    let dir = tempfile::tempdir().unwrap();
    let data = pattern_bytes(62, 0..len);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let store = dir.path().join("store");
    let server = TusServer::start(&store, 0, 0);
    let state = dir.path().join("big.bin.durl-upload");

    let mut put = KillOnDrop(
        durl(dir.path())
            .args(["put", "--progress=json", "--limit-rate", "4M", "big.bin"])
            .arg(&server.endpoint)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let url = wait_until_held(&server, &mut put.0, &state, 6 * MIB);
    let (port, endpoint) = (server.port, server.endpoint.clone());
    server.script.kill(); // SIGKILL, in the middle of a PATCH
    std::thread::sleep(Duration::from_millis(300));
    let server = TusServer::start(&store, port, 0);
    assert_eq!(server.endpoint, endpoint);

    let status = wait_within(&mut put.0, Duration::from_secs(60));
    let mut stderr = String::new();
    put.0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("retry 1"), "it saw the server go: {stderr}");
    // The attempt after the retry starts at the server's offset (at least the 6 MiB it held
    // before the kill), not at 0.
    let objects: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let retry = objects
        .iter()
        .position(|o| o["message"].as_str().is_some_and(|m| m.contains("retry 1")))
        .expect("the retry notice");
    let next = objects[retry..]
        .iter()
        .find(|o| o["state"] == "transferring")
        .expect("a transfer after the retry");
    assert!(next["bytes"].as_u64().unwrap() >= 6 * MIB, "{next}");
    assert_eq!(objects.last().unwrap()["state"], "done", "{stderr}");
    assert!(
        server.held(&url) == Some(data),
        "exact bytes, in the same upload"
    );
    let id = url.rsplit('/').next().unwrap();
    assert_eq!(server.files(), [id.to_owned(), format!("{id}.json")]);
}

#[test]
fn an_upload_the_tus_reference_server_expired_is_replaced_by_a_new_one() {
    let len = 4 * MIB + 1;
    let dir = tempfile::tempdir().unwrap();
    let data = pattern_bytes(63, 0..len);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let expiry = Duration::from_secs(2);
    let server = TusServer::start(&dir.path().join("store"), 0, expiry.as_millis() as u64);
    let state = dir.path().join("big.bin.durl-upload");

    let put = ["put", "-q", "--limit-rate", "1M", "big.bin"];
    let mut put = KillOnDrop(
        durl(dir.path())
            .args(put)
            .arg(&server.endpoint)
            .spawn()
            .unwrap(),
    );
    let old = wait_until_held(&server, &mut put.0, &state, MIB / 2);
    let created = Instant::now(); // the upload was created (POST) before this
    put.0.kill().unwrap(); // SIGKILL
    put.0.wait().unwrap();
    // tus 1.0 › Expiration: past Upload-Expires the server answers 410 Gone.
    std::thread::sleep(
        (created + expiry + Duration::from_millis(500)).saturating_duration_since(Instant::now()),
    );

    let out = durl(dir.path())
        .args(["put", "big.bin", &server.endpoint])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("no longer has the earlier upload"),
        "{stderr}"
    );
    assert!(!stderr.contains("resumed at"), "{stderr}");
    let mut uploads: Vec<_> = server
        .files()
        .into_iter()
        .filter(|f| !f.ends_with(".json"))
        .collect();
    let old_id = old.rsplit('/').next().unwrap();
    uploads.retain(|id| id != old_id);
    assert_eq!(uploads.len(), 1, "one new upload: {:?}", server.files());
    let new = std::fs::read(server.store.join(&uploads[0])).unwrap();
    assert!(new == data, "exact bytes in the new upload");
    assert!(!state.exists(), "the state is removed at the end");
}

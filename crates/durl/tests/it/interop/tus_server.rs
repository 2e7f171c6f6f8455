//! `durl put` (the real binary) against the tus reference server, `@tus/server` with
//! `@tus/file-store` under Node: killed with SIGKILL mid-upload, the same command continues
//! the same upload from the server's offset (HEAD, tus 1.0 Core Protocol › HEAD) and the
//! server's file is the source byte for byte.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use durl_testkit::pattern_bytes;

use super::node;
use super::script::{Script, number};
use crate::durl;
use crate::serve::text;

const MIB: u64 = 1 << 20;

/// `node tus_server.mjs STORE`: the endpoint is `/files/`; killed on drop (and it exits by
/// itself when its stdin, held by this process, closes).
struct TusServer {
    _script: Script,
    endpoint: String,
    store: PathBuf,
}

impl TusServer {
    fn start(store: &Path) -> Self {
        let mut cmd = node("tus_server.mjs");
        cmd.arg(store);
        let mut script = Script::spawn(cmd);
        let port = script.wait_for(Duration::from_secs(30), |l| number(l, "listening"));
        Self {
            _script: script,
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

#[test]
fn durl_put_killed_with_9_continues_on_the_tus_reference_server() {
    let len = 20 * MIB + 5;
    let dir = tempfile::tempdir().unwrap();
    let data = pattern_bytes(61, 0..len);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let server = TusServer::start(&dir.path().join("store"));
    let state = dir.path().join("big.bin.durl-upload");

    let mut child = durl(dir.path())
        .args([
            "put",
            "-q",
            "--limit-rate",
            "4M",
            "big.bin",
            &server.endpoint,
        ])
        .spawn()
        .unwrap();
    // Kill once the server's file holds 6 MiB (it writes PATCH bodies as they arrive).
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = loop {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the upload never reached 6 MiB: {:?}", server.files());
        }
        assert!(child.try_wait().unwrap().is_none(), "durl put ended early");
        if let Some(url) = remembered(&state)
            && server.held(&url).is_some_and(|b| b.len() as u64 >= 6 * MIB)
        {
            break url;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = server.held(&url).unwrap();
    assert!((partial.len() as u64) < len, "killed before the end");
    assert!(
        partial[..] == data[..partial.len()],
        "a prefix of the source"
    );

    let out = durl(dir.path())
        .args(["put", "big.bin", &server.endpoint])
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
    assert!(!state.exists(), "the state is removed at the end");
}

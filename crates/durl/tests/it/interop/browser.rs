//! The browser upload page of `durl serve --upload` in Debian's headless Chromium
//! (`tests/interop/browser.mjs`, playwright-core): choose a file, SIGKILL the server in the
//! middle of the upload, restart it on the same port, reload the page and choose the file
//! again; the upload must continue at the server's offset and the file must arrive byte for
//! byte. And without `--upload`, neither the script nor the upload area exist.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use durl_testkit::pattern_bytes;

use super::{chromium, node};
use crate::serve::{Serve, raw_get, wait_within};
use crate::{durl, signal};

const SEED: u64 = 23;
/// The page's chunk size (upload.js).
const CHUNK: u64 = 8 << 20;

/// A port that was free a moment ago: bound on 127.0.0.1:0 and released. The server is
/// started on it twice, so that the page's origin (and its localStorage) stays the same.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The node script, killed (with the Chromium it drives) on drop.
struct Script {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    deadline: Instant,
}

impl Script {
    fn start(listing: &str, file: &Path, limit: Duration) -> Self {
        let mut child = node("browser.mjs")
            .env("DURL_URL", listing)
            .env("DURL_FILE", file)
            .env("DURL_CHROMIUM", chromium())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            deadline: Instant::now() + limit,
        }
    }

    /// The script's next line, which must start with `word`; the rest of it.
    fn expect(&mut self, word: &str) -> String {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let line = self.lines.recv_timeout(left).unwrap_or_else(|e| {
            panic!("no `{word}` line from browser.mjs ({e}); its log is above")
        });
        match line.strip_prefix(word) {
            Some(rest) => rest.trim().to_owned(),
            None => panic!("expected `{word} …` from browser.mjs, got {line:?}"),
        }
    }

    fn tell(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        // EOF on stdin ends a script that is waiting for us; it closes its browser.
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_page_survives_a_server_kill_and_a_reload_and_continues_at_the_servers_offset() {
    let base = tempfile::tempdir().unwrap();
    let www = base.path().join("www");
    let up = base.path().join("up");
    let src = base.path().join("src");
    for dir in [&www, &src] {
        std::fs::create_dir(dir).unwrap();
    }
    let len: u64 = 48 << 20;
    let content = pattern_bytes(SEED, 0..len);
    let file = src.join("big file ü.bin");
    std::fs::write(&file, &content).unwrap();
    let port = free_port();
    let args = ["--upload", "--upload-dir", up.to_str().unwrap()];
    let mut server = Serve::start_on(durl(&www), &www, port, &args);
    let listing = server.url("/");

    let mut script = Script::start(&listing, &file, Duration::from_secs(150));
    let partial: u64 = script.expect("uploading").parse().unwrap();
    assert!(
        (CHUNK..len).contains(&partial),
        "a part confirmed: {partial}"
    );

    // The server dies mid-upload (SIGKILL: nothing is flushed, connections are reset).
    signal(server.child.id(), "KILL");
    wait_within(&mut server.child, Duration::from_secs(10));
    drop(server);
    script.tell("killed");
    let retrying = script.expect("retrying");
    assert!(
        retrying.contains("retrying in") || retrying.contains("gave up"),
        "{retrying}"
    );

    // Back on the same port: tokio binds with SO_REUSEADDR, so the old connections in
    // TIME_WAIT do not keep it from listening again.
    let server = Serve::start_on(durl(&www), &www, port, &args);
    assert_eq!(server.url("/"), listing);
    script.tell("restarted");
    let done: serde_json::Value = serde_json::from_str(&script.expect("done")).unwrap();
    drop(script);

    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["button"], serde_json::Value::Null, "{done}");
    let unfinished = done["unfinished"].as_str().unwrap();
    assert!(
        unfinished.contains("big file ü.bin") && unfinished.contains("choose it again"),
        "after the reload the page lists the unfinished upload: {unfinished}"
    );
    // It continued where the server was, not at 0, and created no new upload.
    let resumed = done["resumed"]
        .as_u64()
        .expect("the page says where it resumed");
    assert!(
        resumed >= CHUNK && resumed >= partial && resumed < len,
        "resumed at {resumed} (the page saw {partial} before the kill): {done}"
    );
    let patches: Vec<u64> = done["patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(patches.first(), Some(&resumed), "{done}");
    // Every remaining chunk was sent (a retry may send one again), none before `resumed`.
    assert!(patches.iter().all(|&o| o >= resumed), "{done}");
    for chunk in (resumed..len).step_by(usize::try_from(CHUNK).unwrap()) {
        assert!(patches.contains(&chunk), "no PATCH at {chunk}: {done}");
    }
    assert_eq!(done["posts"], 0, "{done}");
    assert_eq!(
        done["stored"], 0,
        "the upload URL is forgotten when complete"
    );
    assert_eq!(
        done["listed"], true,
        "the listing shows the new file: {done}"
    );
    assert!(
        done["amount"].as_str().unwrap().ends_with("(100%)"),
        "{done}"
    );

    let arrived = std::fs::read(www.join("big file ü.bin")).unwrap();
    assert!(arrived == content, "the file arrived byte for byte");

    // The restarted server's log: the page asked HEAD for the offset, created nothing.
    let (status, log, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("\"HEAD /.durl/uploads/"), "{log}");
    assert!(!log.contains("\"POST /.durl/uploads/"), "{log}");
}

#[test]
fn the_page_and_its_script_exist_only_with_upload() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();

    let server = Serve::start(dir.path(), &["--quiet"]);
    let page = raw_get(&server.addr, "/", &[]);
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("a.txt"), "{html}");
    assert!(
        !html.contains("durl-upload") && !html.contains("<script"),
        "{html}"
    );
    for asset in ["/.durl/upload.js", "/.durl/upload.css"] {
        assert_eq!(raw_get(&server.addr, asset, &[]).status, 404, "{asset}");
    }
    drop(server);

    let server = Serve::start(dir.path(), &["--quiet", "--upload"]);
    let page = raw_get(&server.addr, "/", &[]);
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = String::from_utf8(page.body).unwrap();
    assert!(html.contains("<section id=\"durl-upload\""), "{html}");
    assert!(html.contains("<script src=\"/.durl/upload.js\" defer></script>"));
    let script = raw_get(&server.addr, "/.durl/upload.js", &[]);
    assert_eq!(script.status, 200, "{}", script.head);
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(script.header("cache-control"), Some("no-cache"));
    let etag = script.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    assert!(String::from_utf8_lossy(&script.body).contains("Tus-Resumable"));
    let again = raw_get(
        &server.addr,
        "/.durl/upload.js",
        &[&format!("If-None-Match: {etag}")],
    );
    assert_eq!(again.status, 304, "{}", again.head);
    assert!(again.body.is_empty());
    let style = raw_get(&server.addr, "/.durl/upload.css", &[]);
    assert_eq!(style.status, 200);
    assert_eq!(
        style.header("content-type"),
        Some("text/css; charset=utf-8")
    );
}

/// The file that browser_drop.mjs pauses and resumes: two chunks.
const PAUSED_LEN: usize = 12 << 20;

/// Files dropped on a subdirectory's page land in it; a taken name offers "Keep both" (no
/// Retry, no Replace without --overwrite) and gets a numbered name; the rate and time left
/// show; pause and resume work; no CSP violation. `DURL_SHOTS=DIR` keeps screenshots there.
#[test]
fn dropped_files_go_to_the_viewed_directory_a_conflict_keeps_both_and_pause_and_resume_work() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("sub dir")).unwrap();
    std::fs::write(www.join("sub dir/taken.txt"), "already here").unwrap();
    let server = Serve::start(&www, &["--quiet", "--upload"]);
    let text = "dropped on the page, ünïcødé\n";

    let mut cmd = node("browser_drop.mjs");
    cmd.env("DURL_URL", server.url("/sub%20dir/"))
        .env("DURL_TEXT", text)
        .env("DURL_TAKEN", "taken.txt")
        .env("DURL_PAUSED_LEN", PAUSED_LEN.to_string())
        .env("DURL_CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(shots) = std::env::var_os("DURL_SHOTS") {
        cmd.env("DURL_SHOTS", shots);
    }
    let mut script = cmd.spawn().expect("node runs");
    let status = wait_within(&mut script, Duration::from_secs(120));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut script.stdout.take().unwrap(), &mut out).unwrap();
    assert!(
        status.success(),
        "browser_drop.mjs failed (its log is above): {out}"
    );
    let result: serde_json::Value =
        serde_json::from_str(out.trim().strip_prefix("result").unwrap()).unwrap();

    assert_eq!(result["note"], "Upload to /sub dir/", "{result}");
    assert_eq!(
        result["lit"], true,
        "the area lights up under a drag: {result}"
    );
    assert_eq!(result["dropped"]["state"], "done", "{result}");
    assert!(
        result["dropped"]["amount"]
            .as_str()
            .unwrap()
            .ends_with("(100%)")
    );
    assert_eq!(
        std::fs::read_to_string(www.join("sub dir/dropped.txt")).unwrap(),
        text
    );
    assert!(!www.join("dropped.txt").exists());

    let conflict = &result["conflict"];
    assert_eq!(conflict["state"], "conflict", "{result}");
    assert!(
        conflict["status"]
            .as_str()
            .unwrap()
            .contains("\"taken.txt\" is already here"),
        "{result}"
    );
    assert_eq!(
        conflict["buttons"],
        serde_json::json!(["Keep both"]),
        "no Retry that cannot succeed, no Replace without --overwrite: {result}"
    );
    assert_eq!(result["kept"]["state"], "done", "{result}");
    assert_eq!(
        std::fs::read_to_string(www.join("sub dir/taken.txt")).unwrap(),
        "already here"
    );
    assert_eq!(
        std::fs::read_to_string(www.join("sub dir/taken (1).txt")).unwrap(),
        "other bytes"
    );
    let rate = result["measured"]["rate"].as_str().unwrap();
    let (speed, left) = rate.split_once(", ").expect("rate, time left");
    assert!(speed.ends_with("/s"), "{rate}");
    let left = left.strip_suffix(" left").expect("time left");
    assert!(
        left.split(':').all(|p| p.parse::<u32>().is_ok()) && left.contains(':'),
        "{rate}"
    );
    assert_eq!(result["paused"]["state"], "paused", "{result}");
    assert_eq!(result["resumed"]["state"], "done", "{result}");
    let paused = std::fs::read(www.join("sub dir/paused.bin")).unwrap();
    assert_eq!(paused.len(), PAUSED_LEN);
    assert!(
        paused
            .iter()
            .enumerate()
            .all(|(i, &b)| usize::from(b) == i * 7 % 251),
        "paused.bin arrived byte for byte"
    );
    assert_eq!(
        result["stored"], 0,
        "nothing left in localStorage: {result}"
    );
    assert_eq!(result["violations"], serde_json::json!([]), "{result}");
}

/// The listing page in Chromium: sort links, breadcrumbs, dark mode, 400 px, no CSP
/// violation (browser_listing.mjs). `DURL_SHOTS=DIR` keeps screenshots there.
#[test]
fn the_listing_sorts_by_links_has_breadcrumbs_and_fits_dark_and_narrow_screens() {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    let api = www.join("docs/api");
    std::fs::create_dir_all(api.join("guides")).unwrap();
    std::fs::write(api.join("alpha.txt"), vec![b'a'; 10]).unwrap();
    std::fs::write(api.join("Beta.bin"), vec![b'b'; 300_000]).unwrap();
    std::fs::write(
        api.join("a-rather-long-file-name-that-must-wrap-on-a-phone-screen.tar.gz"),
        vec![b'c'; 5000],
    )
    .unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    std::fs::File::options()
        .write(true)
        .open(api.join("alpha.txt"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let server = Serve::start(&www, &["--quiet"]);
    let mut cmd = node("browser_listing.mjs");
    cmd.env("DURL_URL", server.url("/docs/api/"))
        .env("DURL_CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(shots) = std::env::var_os("DURL_SHOTS") {
        cmd.env("DURL_SHOTS", shots);
    }
    let mut script = cmd.spawn().expect("node runs");
    let status = wait_within(&mut script, Duration::from_secs(150));
    let mut out = String::new();
    std::io::Read::read_to_string(&mut script.stdout.take().unwrap(), &mut out).unwrap();
    assert!(
        status.success(),
        "browser_listing.mjs failed (its log is above): {out}"
    );
    let result: serde_json::Value =
        serde_json::from_str(out.trim().strip_prefix("result").unwrap()).unwrap();
    let long = "a-rather-long-file-name-that-must-wrap-on-a-phone-screen.tar.gz";
    let names = |v: &serde_json::Value| -> Vec<String> {
        v["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_owned())
            .collect()
    };
    for scheme in ["light", "dark"] {
        let r = &result[scheme];
        assert_eq!(
            names(&r["first"]),
            ["Parent directory", "guides/", long, "alpha.txt", "Beta.bin"],
            "{scheme}: directories first, then by name: {r}"
        );
        assert_eq!(
            r["first"]["sorted"],
            serde_json::json!(["name", "ascending"])
        );
        assert_eq!(
            r["first"]["crumbs"],
            serde_json::json!(["Root", "docs", "api"]),
            "{r}"
        );
        assert_eq!(r["first"]["current"], "api");
        assert_eq!(r["first"]["headers"], 3);
        assert!(
            r["sizeUrl"]
                .as_str()
                .unwrap()
                .ends_with("?sort=size&order=desc")
        );
        assert_eq!(
            names(&r["bySize"])[2..],
            ["Beta.bin", long, "alpha.txt"],
            "{r}"
        );
        assert_eq!(
            r["bySize"]["sorted"],
            serde_json::json!(["size", "descending"])
        );
        assert_eq!(names(&r["bySizeAsc"])[2..], ["alpha.txt", long, "Beta.bin"]);
        assert_eq!(names(&r["byTime"])[2], "Beta.bin", "newest first: {r}");
        assert!(r["up"]["url"].as_str().unwrap().ends_with("/docs/"), "{r}");
        assert_eq!(r["up"]["current"], "docs");
        assert_eq!(
            r["narrow"]["overflow"], false,
            "no sideways scrolling at 400 px: {r}"
        );
        assert_eq!(
            r["narrow"]["timeShown"], false,
            "the exact time gives way: {r}"
        );
        assert!(
            r["narrow"]["ago"].as_str().unwrap().ends_with("ago")
                || r["narrow"]["ago"] == "just now"
        );
        assert_eq!(r["first"]["timeShown"], true);
        assert!(
            r["first"]["font"]
                .as_str()
                .unwrap()
                .starts_with("system-ui"),
            "the system font, not the browser's serif default: {r}"
        );
        assert_eq!(r["violations"], serde_json::json!([]), "{r}");
    }
    assert_eq!(result["light"]["first"]["background"], "rgb(255, 255, 255)");
    assert_eq!(result["dark"]["first"]["background"], "rgb(22, 23, 26)");
    assert_ne!(
        result["light"]["first"]["color"],
        result["dark"]["first"]["color"]
    );
}

//! `http://` uploads (tus 1.0) against the real `durl serve --upload` started in-process on
//! 127.0.0.1:0 with a temporary directory, and against a small scripted tus server for the
//! headers and refusals durl-serve does not produce on demand.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use durl_fetch::{CancellationToken, ErrorKind, Event, PutRequest, Reporter, RestartReason};
use durl_testkit::pattern_bytes;
use sha2::Digest as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::support::Recorder;

const LEN: u64 = 5 << 20;
const CHUNK: u64 = 1 << 20;

/// `durl_serve::run` with uploads on, serving `base/www`, unfinished uploads in `base/up`.
struct Serve {
    addr: SocketAddr,
    base: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), durl_serve::ServeError>>,
}

impl Serve {
    async fn start() -> Serve {
        Serve::start_with(|c| c).await
    }

    async fn start_with(configure: impl FnOnce(durl_serve::Config) -> durl_serve::Config) -> Serve {
        let base = tempfile::tempdir().unwrap();
        std::fs::create_dir(base.path().join("www")).unwrap();
        let config = configure(
            durl_serve::Config::new(base.path().join("www"))
                .uploads(true)
                .upload_dir(base.path().join("up")),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(durl_serve::run(listener, config, async move {
            let _ = stopped.await;
        }));
        Serve {
            addr,
            base,
            stop: Some(stop),
            task,
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}/.durl/uploads/", self.addr)
    }

    fn served(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.base.path().join("www").join(name)).ok()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

fn request(local: &Path, url: &str) -> PutRequest {
    PutRequest::new(local, url)
        .unwrap()
        .chunk_size(CHUNK)
        .retries(3)
        .retry_delay(Duration::from_millis(20), Duration::from_millis(100))
        .stall_timeout(Duration::from_secs(10))
}

fn local_file(dir: &Path, seed: u64, len: u64) -> (PathBuf, Vec<u8>) {
    let data = pattern_bytes(seed, 0..len);
    let path = dir.join(format!("local-{seed}.bin"));
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

fn state_of(local: &Path) -> PathBuf {
    let mut name = local.as_os_str().to_owned();
    name.push(".durl-upload");
    PathBuf::from(name)
}

/// Cancels the upload once `at` bytes were sent.
struct CancelAt(u64, CancellationToken, AtomicU64);

impl Reporter for CancelAt {
    fn report(&self, event: Event<'_>) {
        if let Event::Progress { bytes } = event
            && self.2.fetch_add(bytes, Ordering::Relaxed) + bytes >= self.0
        {
            self.1.cancel();
        }
    }
}

/// Runs an upload of `local` that is cancelled after about `at` bytes.
async fn cut_at(local: &Path, url: &str, at: u64) {
    let token = CancellationToken::new();
    let cut = CancelAt(at, token.clone(), AtomicU64::new(0));
    let req = request(local, url).cancel_token(token);
    let e = durl_fetch::put(&req, &cut).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
    assert!(state_of(local).exists(), "the state file stays");
    wait_idle(&upload_of(local)).await;
}

/// The upload URL in `local`'s state file.
fn upload_of(local: &Path) -> String {
    let state = std::fs::read_to_string(state_of(local)).unwrap();
    let upload = state.lines().find_map(|l| l.strip_prefix("upload "));
    upload.unwrap().to_owned()
}

/// Waits until the server has finished with the cut PATCH: an empty PATCH gets 423 until
/// then (and 409 or 204 after, changing nothing).
async fn wait_idle(upload: &str) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let r = client
            .patch(upload)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "0")
            .body(Vec::new());
        if r.send().await.unwrap().status() != 423 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{upload} stays busy");
}

#[tokio::test]
async fn uploads_exactly_and_removes_the_state() {
    let server = Serve::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 1, LEN + 123);
    let rec = Recorder::default();
    let outcome = durl_fetch::put(&request(&local, &server.endpoint()), &rec)
        .await
        .unwrap();
    assert_eq!(server.served("local-1.bin").unwrap(), data);
    assert_eq!(
        (outcome.bytes, outcome.sent, outcome.resumed_from),
        (LEN + 123, LEN + 123, 0)
    );
    assert!(
        outcome.url.path().starts_with("/.durl/uploads/"),
        "{}",
        outcome.url
    );
    assert_eq!(*rec.progress.lock().unwrap(), LEN + 123);
    assert!(!state_of(&local).exists());
    server.stop().await;
}

#[tokio::test]
async fn a_login_from_user_or_netrc_reaches_a_server_that_requires_one() {
    let server = Serve::start_with(|c| c.basic_auth("ann", "s3cret")).await;
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 2, 3 * CHUNK + 5);
    // Without a login: 401, a refused login, nothing retried in vain.
    let err = durl_fetch::put(&request(&local, &server.endpoint()), &())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused, "{err:?}");
    assert!(err.to_string().contains("401"), "{err}");
    // A wrong password is refused and never shown.
    let req = request(&local, &server.endpoint()).login(Some("ann".into()), Some("guess".into()));
    let err = durl_fetch::put(&req, &()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LoginRefused);
    assert!(!format!("{err} {err:?}").contains("guess"));
    // With -u.
    let req = request(&local, &server.endpoint()).login(Some("ann".into()), Some("s3cret".into()));
    durl_fetch::put(&req, &()).await.unwrap();
    assert_eq!(server.served("local-2.bin").unwrap(), data);
    // With .netrc (another file, another name).
    let (other, data) = local_file(dir.path(), 3, CHUNK + 1);
    let netrc = dir.path().join("netrc");
    std::fs::write(&netrc, "machine 127.0.0.1 login ann password s3cret\n").unwrap();
    let req = request(&other, &server.endpoint()).netrc(Some(netrc));
    durl_fetch::put(&req, &()).await.unwrap();
    assert_eq!(server.served("local-3.bin").unwrap(), data);
    server.stop().await;
}

#[tokio::test]
async fn a_rerun_after_success_is_already_complete_until_the_file_changes() {
    let server = Serve::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 8, LEN);
    let req = request(&local, &server.endpoint());
    let first = durl_fetch::put(&req, &()).await.unwrap();
    assert!(!first.already_complete);

    // The same command again: nothing sent, no second file on the server.
    let rec = Recorder::default();
    let again = durl_fetch::put(&req, &rec).await.unwrap();
    assert!(again.already_complete, "{again:?}");
    assert_eq!((again.sent, again.bytes, again.url), (0, LEN, first.url));
    assert_eq!(*rec.progress.lock().unwrap(), 0);
    assert_eq!(server.served("local-8 (1).bin"), None);
    assert_eq!(
        std::fs::read(&local).unwrap(),
        data,
        "the local file is untouched"
    );

    // Asked to (--force), it is sent again; the server refuses to replace its file.
    let forced = durl_fetch::put(&req.clone().overwrite(true), &()).await;
    match forced {
        Err(
            e @ durl_fetch::Error::Tus {
                problem: durl_fetch::TusProblem::NameTaken(_),
                ..
            },
        ) => {
            assert_eq!(e.kind(), ErrorKind::Exists);
            assert!(e.to_string().contains("local-8.bin"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    server.stop().await;

    // A changed file is a new upload (to a server that may replace the old one).
    let server = Serve::start_with(|c| c.overwrite(true)).await;
    let req = request(&local, &server.endpoint());
    durl_fetch::put(&req, &()).await.unwrap();
    let data = pattern_bytes(88, 0..LEN);
    std::fs::write(&local, &data).unwrap();
    let changed = durl_fetch::put(&req, &()).await.unwrap();
    assert_eq!((changed.already_complete, changed.sent), (false, LEN));
    assert_eq!(server.served("local-8.bin").unwrap(), data);
    server.stop().await;
}

#[tokio::test]
async fn an_empty_file_is_uploaded_not_already_complete() {
    let server = Serve::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (local, _) = local_file(dir.path(), 7, 0);
    let outcome = durl_fetch::put(&request(&local, &server.endpoint()), &())
        .await
        .unwrap();
    assert!(!outcome.already_complete, "{outcome:?}");
    assert_eq!(server.served("local-7.bin").unwrap(), b"");
    assert!(!state_of(&local).exists());
    server.stop().await;
}

#[tokio::test]
async fn an_interrupted_upload_continues_with_only_the_rest() {
    let server = Serve::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 2, LEN);
    cut_at(&local, &server.endpoint(), 2 * CHUNK + CHUNK / 2).await;
    assert_eq!(server.served("local-2.bin"), None);

    let rec = Recorder::default();
    let outcome = durl_fetch::put(&request(&local, &server.endpoint()), &rec)
        .await
        .unwrap();
    assert_eq!(server.served("local-2.bin").unwrap(), data);
    // Whole chunks survive the cut (they are checksummed, so all or nothing).
    let from = outcome.resumed_from;
    assert!(
        (CHUNK..LEN).contains(&from) && from % CHUNK == 0,
        "{outcome:?}"
    );
    assert_eq!(outcome.sent, LEN - from, "only the rest is sent");
    assert_eq!((rec.restarts(), rec.retries()), (vec![], 0));
    assert!(!state_of(&local).exists());
    server.stop().await;
}

/// The offset the server holds for `upload` (`HEAD`), once it is done with a cut PATCH.
async fn server_offset(upload: &str) -> u64 {
    wait_idle(upload).await;
    let r = reqwest::Client::new()
        .head(upload)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    r.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Regression (issue 14.1): every PATCH was one 32 MiB checksummed chunk, all or nothing, so a
/// link cut every second or so never got a byte kept. Chunks are now sized for about a second
/// of sending: each short run leaves the server holding more, and the last one finishes.
#[tokio::test]
async fn short_runs_cut_every_second_each_leave_the_server_holding_more() {
    let server = Serve::start().await;
    let dir = tempfile::tempdir().unwrap();
    let len = 24 << 20;
    let (local, data) = local_file(dir.path(), 11, len);
    // The default chunk size (32 MiB, larger than the file), at 8 MiB/s.
    let req = |token: CancellationToken| {
        PutRequest::new(&local, &server.endpoint())
            .unwrap()
            .limit_rate(Some(8 << 20))
            .retries(3)
            .retry_delay(Duration::from_millis(20), Duration::from_millis(100))
            .cancel_token(token)
    };
    let mut held = Vec::new();
    for _ in 0..3 {
        let token = CancellationToken::new();
        let cut = token.clone();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1200)).await;
            cut.cancel();
        });
        let e = durl_fetch::put(&req(token), &()).await.unwrap_err();
        timer.await.unwrap();
        assert_eq!(e.kind(), ErrorKind::Interrupted, "{e}");
        let offset = server_offset(&upload_of(&local)).await;
        // The message tells what the server confirmed, not what was sent.
        assert!(e.to_string().contains("the server has"), "{e}");
        held.push(offset);
    }
    assert!(
        held[0] > 0 && held.windows(2).all(|w| w[1] > w[0]),
        "each cut run left more on the server: {held:?}"
    );
    let outcome = durl_fetch::put(&req(CancellationToken::new()), &())
        .await
        .unwrap();
    assert_eq!(outcome.resumed_from, held[2]);
    assert_eq!(server.served("local-11.bin").unwrap(), data);
    server.stop().await;
}

#[tokio::test]
async fn a_changed_local_file_starts_a_new_upload() {
    let server = Serve::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (local, _) = local_file(dir.path(), 3, LEN);
    cut_at(&local, &server.endpoint(), 2 * CHUNK).await;
    let old = std::fs::read_to_string(state_of(&local)).unwrap();
    // Same length, other bytes (and another mtime).
    let data = pattern_bytes(33, 0..LEN);
    std::fs::write(&local, &data).unwrap();

    let rec = Recorder::default();
    let outcome = durl_fetch::put(&request(&local, &server.endpoint()), &rec)
        .await
        .unwrap();
    assert_eq!(rec.restarts(), [RestartReason::LocalChanged]);
    assert_eq!((outcome.resumed_from, outcome.sent), (0, LEN));
    assert!(!old.contains(outcome.url.path()), "a new upload: {old}");
    assert_eq!(server.served("local-3.bin").unwrap(), data);
    server.stop().await;
}

#[tokio::test]
async fn a_terminated_upload_starts_a_new_one() {
    let server = Serve::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 4, LEN);
    cut_at(&local, &server.endpoint(), 2 * CHUNK).await;
    let upload = upload_of(&local);
    let deleted = reqwest::Client::new()
        .delete(&upload)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);

    let rec = Recorder::default();
    let outcome = durl_fetch::put(&request(&local, &server.endpoint()), &rec)
        .await
        .unwrap();
    assert_eq!(rec.restarts(), [RestartReason::UploadGone]);
    assert_eq!((outcome.resumed_from, outcome.sent), (0, LEN));
    assert_ne!(outcome.url.as_str(), upload);
    assert_eq!(server.served("local-4.bin").unwrap(), data);
    server.stop().await;
}

#[tokio::test]
async fn a_file_that_changes_during_the_upload_stops_it() {
    let server = Serve::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (local, _) = local_file(dir.path(), 5, LEN);
    struct Append(PathBuf, AtomicU64);
    impl Reporter for Append {
        fn report(&self, event: Event<'_>) {
            if let Event::Progress { bytes } = event
                && self.1.fetch_add(bytes, Ordering::Relaxed) < CHUNK
                && self.1.load(Ordering::Relaxed) >= CHUNK
            {
                use std::io::Write as _;
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&self.0)
                    .unwrap();
                f.write_all(b"more").unwrap();
            }
        }
    }
    let e = durl_fetch::put(
        &request(&local, &server.endpoint()),
        &Append(local.clone(), AtomicU64::new(0)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e.root(), durl_fetch::Error::LocalChanged { .. }),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::Io);
    assert_eq!(server.served("local-5.bin"), None);
    server.stop().await;
}

/// One request as the scripted server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// The method and the headers (names in lower case) of the request on `conn`; `None` when
/// the client closed without sending one.
async fn read_head(
    conn: &mut BufReader<tokio::net::TcpStream>,
) -> Option<(String, HashMap<String, String>)> {
    let mut line = String::new();
    if conn.read_line(&mut line).await.unwrap_or(0) == 0 {
        return None;
    }
    let method = line.split(' ').next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        conn.read_line(&mut h).await.unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.insert(k.to_ascii_lowercase(), v.trim().to_owned());
    }
    Some((method, headers))
}

/// A tus server on 127.0.0.1:0 that offers checksums (md5, sha1, sha256), answers the first
/// PATCH with 460 and records every request; the task ends when the test drops the
/// listener's handle.
async fn scripted() -> (String, Arc<Mutex<Vec<Seen>>>, tokio::task::JoinHandle<()>) {
    scripted_offering(MD5_SHA1_SHA256).await
}

/// `Tus-Checksum-Algorithm` of [`scripted`].
const MD5_SHA1_SHA256: &str = "md5,sha1,sha256";

/// [`scripted`], offering the checksum `algorithms`.
async fn scripted_offering(
    algorithms: &'static str,
) -> (String, Arc<Mutex<Vec<Seen>>>, tokio::task::JoinHandle<()>) {
    scripted_with(|_| "/files/abc".to_owned(), algorithms).await
}

/// [`scripted`], answering a creation with the `Location` that `location` makes of the
/// server's address.
async fn scripted_locating(
    location: fn(SocketAddr) -> String,
) -> (String, Arc<Mutex<Vec<Seen>>>, tokio::task::JoinHandle<()>) {
    scripted_with(location, MD5_SHA1_SHA256).await
}

/// [`scripted`] with a `location` and checksum `algorithms` of its own.
async fn scripted_with(
    location: fn(SocketAddr) -> String,
    algorithms: &'static str,
) -> (String, Arc<Mutex<Vec<Seen>>>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("http://{addr}/files/");
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        let mut offset = 0u64;
        let mut patches = 0;
        let mut length = String::new();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let mut conn = BufReader::new(stream);
            {
                let Some((method, headers)) = read_head(&mut conn).await else {
                    continue;
                };
                let n: usize = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                let mut body = vec![0; n];
                conn.read_exact(&mut body).await.unwrap();
                let answer = match method.as_str() {
                    "OPTIONS" => format!(
                        "204 No Content\r\nTus-Extension: creation,checksum\r\nTus-Checksum-Algorithm: {algorithms}"
                    ),
                    "POST" => {
                        length = headers["upload-length"].clone();
                        format!("201 Created\r\nLocation: {}", location(addr))
                    }
                    "HEAD" => {
                        format!("200 OK\r\nUpload-Offset: {offset}\r\nUpload-Length: {length}")
                    }
                    "PATCH" => {
                        patches += 1;
                        if patches == 1 {
                            "460 Checksum Mismatch".to_owned()
                        } else {
                            offset += n as u64;
                            format!("204 No Content\r\nUpload-Offset: {offset}")
                        }
                    }
                    _ => "405 Method Not Allowed".to_owned(),
                };
                log.lock().unwrap().push(Seen {
                    method,
                    headers,
                    body,
                });
                // One request per connection: the server takes one connection at a time, and
                // a client may open another (to a `Location` elsewhere) while one is idle.
                let reply = format!(
                    "HTTP/1.1 {answer}\r\nTus-Resumable: 1.0.0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                conn.get_mut().write_all(reply.as_bytes()).await.unwrap();
            }
        }
    });
    (url, seen, task)
}

/// A tus server on 127.0.0.1:0 without the checksum extension (as tusd), keeping what
/// arrives of a PATCH: the first PATCH is cut after `cut` bytes (the server keeps them and
/// closes the connection). Records every request.
async fn plain_cutting(cut: usize) -> (String, Arc<Mutex<Vec<Seen>>>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/files/", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let log = seen.clone();
    let task = tokio::spawn(async move {
        let (mut offset, mut patches, mut length) = (0u64, 0, String::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let mut conn = BufReader::new(stream);
            let Some((method, headers)) = read_head(&mut conn).await else {
                continue;
            };
            let n: usize = headers
                .get("content-length")
                .map_or(0, |v| v.parse().unwrap());
            let first_patch = method == "PATCH" && patches == 0;
            let mut body = vec![0; if first_patch { cut.min(n) } else { n }];
            conn.read_exact(&mut body).await.unwrap();
            let answer = match method.as_str() {
                "OPTIONS" => "204 No Content\r\nTus-Extension: creation".to_owned(),
                "POST" => {
                    length = headers["upload-length"].clone();
                    "201 Created\r\nLocation: /files/abc".to_owned()
                }
                "HEAD" => format!("200 OK\r\nUpload-Offset: {offset}\r\nUpload-Length: {length}"),
                "PATCH" => {
                    patches += 1;
                    offset += body.len() as u64;
                    format!("204 No Content\r\nUpload-Offset: {offset}")
                }
                _ => "405 Method Not Allowed".to_owned(),
            };
            log.lock().unwrap().push(Seen {
                method,
                headers,
                body,
            });
            if first_patch {
                // Cut: keep what arrived, answer nothing.
                drop(conn);
                continue;
            }
            let reply = format!(
                "HTTP/1.1 {answer}\r\nTus-Resumable: 1.0.0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            conn.get_mut().write_all(reply.as_bytes()).await.unwrap();
        }
    });
    (url, seen, task)
}

/// Without the checksum extension (tusd) the server keeps what arrives of a PATCH, so one
/// PATCH carries everything left, and a cut loses nothing that arrived.
#[tokio::test]
async fn without_checksums_one_patch_carries_the_rest_and_a_cut_keeps_what_arrived() {
    let cut = 3 * CHUNK + 12_345;
    let (url, seen, task) = plain_cutting(cut as usize).await;
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 12, LEN + 77);
    let rec = Recorder::default();
    let outcome = durl_fetch::put(&request(&local, &url), &rec).await.unwrap();
    task.abort();
    let seen = seen.lock().unwrap().clone();
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(methods, ["OPTIONS", "POST", "PATCH", "HEAD", "PATCH"]);
    let (first, second) = (&seen[2], &seen[4]);
    assert_eq!(
        first.headers["content-length"],
        (LEN + 77).to_string(),
        "the whole file in one PATCH"
    );
    assert_eq!(first.headers["upload-offset"], "0");
    assert!(!first.headers.contains_key("upload-checksum"));
    assert_eq!(second.headers["upload-offset"], cut.to_string());
    assert_eq!(
        second.headers["content-length"],
        (LEN + 77 - cut).to_string()
    );
    let mut held = first.body.clone();
    held.extend_from_slice(&second.body);
    assert!(held == data, "what arrived was kept and the rest followed");
    assert_eq!(outcome.bytes, LEN + 77);
    assert_eq!(rec.retries(), 1, "the cut is one retry");
}

#[tokio::test]
async fn chunks_carry_a_sha256_checksum_and_a_460_resends_the_chunk() {
    let sha256 = |body: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD;
        format!("sha256 {}", b64.encode(sha2::Sha256::digest(body)))
    };
    checksummed_chunks(MD5_SHA1_SHA256, sha256).await;
}

/// A server that offers `crc32c` (as `durl serve`) gets it: a CRC at hardware speed.
#[tokio::test]
async fn chunks_carry_a_crc32c_checksum_where_the_server_offers_it() {
    let crc32c = |body: &[u8]| {
        let b64 = base64::engine::general_purpose::STANDARD;
        // CRC-32C (Castagnoli), bitwise, big-endian in base64 (as S3's x-amz-checksum-crc32c).
        let mut crc = !0u32;
        for &b in body {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0x82F6_3B78
                } else {
                    crc >> 1
                };
            }
        }
        format!("crc32c {}", b64.encode((!crc).to_be_bytes()))
    };
    assert_eq!(
        crc32c(b"123456789"),
        "crc32c 4waSgw==",
        "the catalogue's check value"
    );
    checksummed_chunks("sha1,sha256,crc32c", crc32c).await;
}

/// Chunks to a server offering `algorithms` each carry `checksum(body)`; the first one is
/// answered 460 and sent again.
async fn checksummed_chunks(algorithms: &'static str, checksum: fn(&[u8]) -> String) {
    let (url, seen, task) = scripted_offering(algorithms).await;
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 6, 2 * CHUNK + 10);
    let rec = Recorder::default();
    let outcome = durl_fetch::put(&request(&local, &url), &rec).await.unwrap();
    task.abort();
    assert_eq!(rec.retries(), 1, "the 460 is one retry");
    assert_eq!(
        outcome.sent,
        3 * CHUNK + 10,
        "the rejected chunk went twice"
    );
    let seen = seen.lock().unwrap().clone();
    let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "OPTIONS", "POST", "PATCH", "HEAD", "PATCH", "PATCH", "PATCH"
        ]
    );
    for s in &seen {
        assert_eq!(s.headers["tus-resumable"], "1.0.0", "{s:?}");
    }
    let post = &seen[1];
    assert_eq!(post.headers["upload-length"], (2 * CHUNK + 10).to_string());
    let b64 = base64::engine::general_purpose::STANDARD;
    assert_eq!(
        post.headers["upload-metadata"],
        format!("filename {}", b64.encode("local-6.bin"))
    );
    let mut sent = Vec::new();
    for p in &seen[4..] {
        assert_eq!(p.headers["content-type"], "application/offset+octet-stream");
        assert_eq!(p.headers["upload-offset"], sent.len().to_string());
        assert_eq!(p.headers["upload-checksum"], checksum(&p.body));
        sent.extend_from_slice(&p.body);
    }
    assert_eq!(seen[2].body, seen[4].body, "the same chunk again");
    assert_eq!(sent, data);
    assert!(!state_of(&local).exists());
}

#[tokio::test]
async fn credentials_and_headers_never_follow_a_location_to_another_origin() {
    // Issue 13, item 13: `localhost` is another origin than `127.0.0.1` (the same server
    // here, so a leak would be seen).
    let elsewhere = |addr: SocketAddr| format!("http://localhost:{}/files/abc", addr.port());
    for with_login in [false, true] {
        let (url, seen, task) = scripted_locating(elsewhere).await;
        let dir = tempfile::tempdir().unwrap();
        let (local, _) = local_file(dir.path(), 8, CHUNK + 10);
        let mut req = request(&local, &url);
        if with_login {
            req = request(&local, &url.replace("http://", "http://ann:pw@"));
        } else {
            let mut h = durl_fetch::header::HeaderMap::new();
            h.insert("authorization", "Bearer s3cret".parse().unwrap());
            req = req.headers(h);
        }
        let err = durl_fetch::put(&req, &()).await.unwrap_err();
        task.abort();
        assert!(
            matches!(
                err.root(),
                durl_fetch::Error::Tus {
                    problem: durl_fetch::TusProblem::Protocol(_),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("another origin"), "{err}");
        let seen = seen.lock().unwrap().clone();
        let methods: Vec<&str> = seen.iter().map(|s| s.method.as_str()).collect();
        assert_eq!(methods, ["OPTIONS", "POST"], "nothing sent to the Location");
        assert!(seen.iter().all(|s| s.headers.contains_key("authorization")));
    }
    // With nothing to leak, a Location elsewhere is used, still without any login.
    let (url, seen, task) = scripted_locating(elsewhere).await;
    let dir = tempfile::tempdir().unwrap();
    let (local, data) = local_file(dir.path(), 9, CHUNK + 10);
    durl_fetch::put(&request(&local, &url), &()).await.unwrap();
    task.abort();
    let seen = seen.lock().unwrap().clone();
    let sent: Vec<u8> = seen
        .iter()
        .filter(|s| s.method == "PATCH")
        .skip(1)
        .flat_map(|s| s.body.clone())
        .collect();
    assert_eq!(sent, data);
    assert!(
        seen.iter()
            .all(|s| !s.headers.contains_key("authorization"))
    );
}

#[tokio::test]
async fn headers_go_with_a_location_on_the_endpoints_origin() {
    let (url, seen, task) = scripted().await;
    let dir = tempfile::tempdir().unwrap();
    let (local, _) = local_file(dir.path(), 10, CHUNK + 10);
    let mut h = durl_fetch::header::HeaderMap::new();
    h.insert("authorization", "Bearer s3cret".parse().unwrap());
    let req = request(&local, &url).headers(h);
    durl_fetch::put(&req, &()).await.unwrap();
    task.abort();
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 4);
    for s in &seen {
        assert_eq!(s.headers["authorization"], "Bearer s3cret", "{s:?}");
    }
}

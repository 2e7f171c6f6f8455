//! `durl serve s3://…`: objects of a real S3-API store (SeaweedFS, started per test and killed
//! by PID at its end) served by two instances, byte-exact, with ranges, conditions, listings,
//! and curl and aria2c as clients; an overwrite during a body never mixes two versions.

use std::net::SocketAddr;
use std::path::Path as FsPath;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use durl_serve::{Config, S3Storage, ServeError};
use durl_testkit::{S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, SeaweedFs};
use object_store::ObjectStoreExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::harness::{client, content};

/// Upper bound for one of these tests (a store start, 64 MiB moved several times).
const BOUND: Duration = Duration::from_secs(240);

const MIB: usize = 1 << 20;

/// A store with bucket `durl`, and a client of our own to fill it.
pub(crate) struct Store {
    pub(crate) weed: SeaweedFs,
    pub(crate) s3: Arc<AmazonS3>,
}

impl Store {
    pub(crate) fn start() -> Self {
        let weed = SeaweedFs::start("durl");
        let s3 = AmazonS3Builder::new()
            .with_bucket_name(weed.bucket())
            .with_region(S3_REGION)
            .with_access_key_id(S3_ACCESS_KEY)
            .with_secret_access_key(S3_SECRET_KEY)
            .with_endpoint(weed.endpoint())
            .with_allow_http(true)
            .build()
            .expect("an S3 client");
        Self {
            weed,
            s3: Arc::new(s3),
        }
    }

    pub(crate) async fn put(&self, key: &str, data: impl Into<Bytes>) {
        self.s3
            .put(&Path::from(key), data.into().into())
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e}"));
    }

    /// `durl serve s3://durl/PREFIX` with the store's key, as the binary builds it.
    pub(crate) fn storage(&self, prefix: &str) -> S3Storage {
        S3Storage::parse(&format!("s3://{}/{prefix}", self.weed.bucket()))
            .unwrap()
            .credentials(S3_ACCESS_KEY, S3_SECRET_KEY)
            .region(S3_REGION)
            .endpoint(&self.weed.endpoint())
    }
}

/// One running `durl serve s3://…`.
pub(crate) struct Instance {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl Instance {
    pub(crate) async fn start(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(durl_serve::run(listener, config, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

pub(crate) async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("test exceeded its time bound")
}

pub(crate) async fn get(url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(url);
    for (name, value) in fields {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

pub(crate) fn field(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_serve_objects_byte_exact_with_ranges_conditions_and_listings() {
    bounded(async {
        let store = Store::start();
        let big = content(64 * MIB);
        store.put("site/big.bin", big.clone()).await;
        store.put("site/dir/a.txt", &b"alpha\n"[..]).await;
        store.put("site/.hidden", &b"secret\n"[..]).await;
        store
            .put("outside.txt", &b"not below the prefix\n"[..])
            .await;
        let a = Instance::start(Config::object_store(store.storage("site"))).await;
        let b = Instance::start(Config::object_store(store.storage("site"))).await;

        // HEAD: length, one strong ETag and Last-Modified for both instances.
        let mut etags = Vec::new();
        for instance in [&a, &b] {
            let r = client()
                .head(instance.url("/big.bin"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(field(&r, "content-length").as_deref(), Some("67108864"));
            assert_eq!(field(&r, "accept-ranges").as_deref(), Some("bytes"));
            assert!(field(&r, "last-modified").is_some());
            let etag = field(&r, "etag").unwrap();
            assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
            etags.push(etag);
        }
        assert_eq!(etags[0], etags[1], "both instances name one version alike");
        let etag = etags[0].clone();

        // The whole object, byte-exact, from A.
        let r = get(&a.url("/big.bin"), &[]).await;
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.unwrap() == big, "whole object differs");

        // A single range and a suffix range from B.
        let r = get(&b.url("/big.bin"), &[("range", "bytes=1000-1999")]).await;
        assert_eq!(r.status(), 206);
        assert_eq!(
            field(&r, "content-range").as_deref(),
            Some("bytes 1000-1999/67108864")
        );
        assert!(r.bytes().await.unwrap() == big[1000..2000]);
        let r = get(&b.url("/big.bin"), &[("range", "bytes=-500")]).await;
        assert_eq!(r.status(), 206);
        assert!(r.bytes().await.unwrap() == big[big.len() - 500..]);

        // Several ranges: multipart/byteranges, each part its own ranged GET.
        let r = get(
            &a.url("/big.bin"),
            &[("range", "bytes=0-9,33554432-33554441,-3")],
        )
        .await;
        assert_eq!(r.status(), 206);
        let ct = field(&r, "content-type").unwrap();
        let boundary = ct
            .strip_prefix("multipart/byteranges; boundary=")
            .unwrap()
            .to_owned();
        let body = r.bytes().await.unwrap();
        let mut want = Vec::new();
        for (i, (start, end)) in [(0, 10), (33_554_432, 33_554_442), (MIB * 64 - 3, MIB * 64)]
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 { "" } else { "\r\n" };
            want.extend_from_slice(
                format!(
                    "{lead}--{boundary}\r\nContent-Type: application/octet-stream\r\n\
                     Content-Range: bytes {start}-{}/67108864\r\n\r\n",
                    end - 1
                )
                .as_bytes(),
            );
            want.extend_from_slice(&big[start..end]);
        }
        want.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        assert!(body == want, "multipart body differs");

        // Conditions, evaluated against the object's current metadata.
        let r = get(&b.url("/big.bin"), &[("if-none-match", &etag)]).await;
        assert_eq!(r.status(), 304);
        assert_eq!(field(&r, "etag").as_deref(), Some(etag.as_str()));
        let r = get(&a.url("/big.bin"), &[("if-match", "\"other\"")]).await;
        assert_eq!(r.status(), 412);
        let r = get(
            &a.url("/big.bin"),
            &[("if-range", &etag), ("range", "bytes=5-9")],
        )
        .await;
        assert_eq!(r.status(), 206);
        assert!(r.bytes().await.unwrap() == big[5..10]);
        let r = get(
            &b.url("/big.bin"),
            &[("if-range", "\"other\""), ("range", "bytes=5-9")],
        )
        .await;
        assert_eq!(r.status(), 200, "a stale If-Range gets the whole object");
        assert_eq!(field(&r, "content-length").as_deref(), Some("67108864"));
        drop(r);
        let r = get(&a.url("/big.bin"), &[("range", "bytes=67108864-")]).await;
        assert_eq!(r.status(), 416);
        assert_eq!(
            field(&r, "content-range").as_deref(),
            Some("bytes */67108864")
        );

        // Listings with the delimiter `/`: the same JSON as a directory's; a prefix without
        // its slash is redirected; dotfiles and keys outside the prefix stay unseen.
        let r = get(&a.url("/"), &[("accept", "application/json")]).await;
        assert_eq!(r.status(), 200);
        let json: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        let names: Vec<&str> = json["entries"]
            .as_array()
            .unwrap_or_else(|| panic!("{json}"))
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["dir", "big.bin"], "{json}");
        assert_eq!(json["entries"][0]["type"], "directory");
        let big_entry = &json["entries"][1];
        assert_eq!(big_entry["size"], 67_108_864);
        assert_eq!(big_entry["etag"], etag.as_str());
        let r = get(&b.url("/dir"), &[]).await;
        assert_eq!(r.status(), 301);
        assert_eq!(field(&r, "location").as_deref(), Some("/dir/"));
        let r = get(&b.url("/dir/"), &[]).await;
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("a.txt"));
        let r = get(&b.url("/dir/a.txt"), &[]).await;
        assert_eq!(r.text().await.unwrap(), "alpha\n");
        for path in ["/.hidden", "/missing", "/dir/missing/", "/outside.txt"] {
            assert_eq!(get(&a.url(path), &[]).await.status(), 404, "{path}");
        }
        for path in [
            "/../outside.txt",
            "/%2e%2e/outside.txt",
            "/dir/..%2foutside.txt",
        ] {
            let raw = crate::harness::raw(
                a.addr,
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await;
            assert!(matches!(raw.status, 400 | 404), "{path}: {}", raw.status);
            assert!(!String::from_utf8_lossy(&raw.body).contains("not below the prefix"));
        }

        // Clients nobody here wrote: curl resumes a partial file, aria2c splits over 8.
        let dir = tempfile::tempdir().unwrap();
        let partial = dir.path().join("curl.bin");
        std::fs::write(&partial, &big[..10 * MIB]).unwrap();
        let url_a = a.url("/big.bin");
        let curl = tokio::task::spawn_blocking({
            let partial = partial.clone();
            move || {
                Command::new("curl")
                    .args(["-sS", "--noproxy", "*", "-C", "-", "-o"])
                    .arg(&partial)
                    .arg(url_a)
                    .status()
                    .expect("curl")
            }
        })
        .await
        .unwrap();
        assert!(curl.success(), "curl -C - failed: {curl}");
        assert!(
            std::fs::read(&partial).unwrap() == big,
            "curl's file differs"
        );
        let url_b = b.url("/big.bin");
        let out = dir.path().to_path_buf();
        let aria = tokio::task::spawn_blocking(move || aria2c(&out, &url_b))
            .await
            .unwrap();
        assert!(aria, "aria2c failed");
        assert!(
            std::fs::read(dir.path().join("aria.bin")).unwrap() == big,
            "aria2c's file differs"
        );

        a.stop().await;
        b.stop().await;
        drop(store);
    })
    .await;
}

/// `aria2c -x 8 -s 8` into `dir/aria.bin`.
fn aria2c(dir: &FsPath, url: &str) -> bool {
    Command::new("aria2c")
        .args([
            "-x",
            "8",
            "-s",
            "8",
            "-k",
            "1M",
            "--no-conf",
            "--quiet",
            "--allow-overwrite=true",
            "--auto-file-renaming=false",
            "--all-proxy=",
            "-d",
        ])
        .arg(dir)
        .args(["-o", "aria.bin", url])
        .status()
        .expect("aria2c")
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_during_a_body_cuts_it_and_never_mixes_versions() {
    bounded(async {
        let store = Store::start();
        let len = 40 * MIB;
        let old = content(len);
        let new: Vec<u8> = old.iter().map(|b| b ^ 0xff).collect();
        store.put("v.bin", old.clone()).await;
        let a = Instance::start(Config::object_store(store.storage(""))).await;
        let before = client().head(a.url("/v.bin")).send().await.unwrap();
        let old_etag = field(&before, "etag").unwrap();

        // Two parts: the second one's GET is made only once the first (32 MiB, far more than
        // the socket buffers hold) has been read, which is after the overwrite.
        let mut stream = TcpStream::connect(a.addr).await.unwrap();
        stream
            .write_all(
                b"GET /v.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-33554431,36000000-36000099\r\n\
                  Connection: close\r\n\r\n",
            )
            .await
            .unwrap();
        let mut received = vec![0u8; MIB];
        stream.read_exact(&mut received).await.unwrap();
        store.put("v.bin", new.clone()).await;
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        received.extend_from_slice(&rest);

        let head_end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 206"), "{head}");
        let body = &received[head_end..];
        // Part 1's bytes, as far as they came, are the old version's.
        let part_start = body.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let part1 = &body[part_start..body.len().min(part_start + 32 * MIB)];
        assert!(part1 == &old[..part1.len()], "part 1 holds other bytes");
        // Part 2 was never sent from the new version, nor the closing delimiter: the
        // connection was cut.
        let after = &body[(part_start + part1.len()).min(body.len())..];
        assert!(
            !after
                .windows(100)
                .any(|w| w == &new[36_000_000..36_000_100]),
            "new bytes in an answer that began with the old version"
        );
        let boundary = head
            .lines()
            .find_map(|l| l.strip_prefix("content-type: multipart/byteranges; boundary="))
            .unwrap_or_else(|| panic!("{head}"))
            .trim()
            .to_owned();
        assert!(
            !body.ends_with(format!("\r\n--{boundary}--\r\n").as_bytes()),
            "the multipart body was completed across an overwrite"
        );

        // A new request sees the new version, under a new ETag.
        let r = get(&a.url("/v.bin"), &[("range", "bytes=36000000-36000099")]).await;
        assert_eq!(r.status(), 206);
        let new_etag = field(&r, "etag").unwrap();
        assert_ne!(new_etag, old_etag);
        assert!(r.bytes().await.unwrap() == new[36_000_000..36_000_100]);
        // If-Range with the old ETag: the whole new object, never a range of it.
        let r = get(
            &a.url("/v.bin"),
            &[("if-range", &old_etag), ("range", "bytes=0-9")],
        )
        .await;
        assert_eq!(r.status(), 200);
        drop(r);
        a.stop().await;
        drop(store);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_stores_are_refused_at_start_with_the_reason() {
    bounded(async {
        // A plain-HTTP endpoint off loopback: refused before any request is made.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let storage = S3Storage::parse("s3://durl")
            .unwrap()
            .credentials("k", "s")
            .endpoint("http://192.0.2.1:9000");
        let err = durl_serve::run(listener, Config::object_store(storage), async {})
            .await
            .unwrap_err();
        assert!(matches!(err, ServeError::PlainHttpEndpoint { .. }), "{err}");
        assert!(err.to_string().contains("http://192.0.2.1:9000"), "{err}");

        let store = Store::start();
        // A wrong secret: the store refuses to list, and the error names the bucket.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let storage = store.storage("").credentials(S3_ACCESS_KEY, "wrong");
        let err = durl_serve::run(listener, Config::object_store(storage), async {})
            .await
            .unwrap_err();
        assert!(matches!(err, ServeError::ObjectStore { .. }), "{err}");
        assert_eq!(err.to_string(), "cannot serve s3://durl");
        // A missing bucket.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let storage = S3Storage::parse("s3://no-such-bucket")
            .unwrap()
            .credentials(S3_ACCESS_KEY, S3_SECRET_KEY)
            .endpoint(&store.weed.endpoint());
        let err = durl_serve::run(listener, Config::object_store(storage), async {})
            .await
            .unwrap_err();
        assert!(matches!(err, ServeError::ObjectStore { .. }), "{err}");
        drop(store);
    })
    .await;
}

/// What runs once, before the relay passes on the first ranged `GET` it sees.
pub(crate) type Hook = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// A loopback TCP relay to the store: it records the request line of every request it passes
/// on, and runs its hook (if any) once, before it passes on the first ranged `GET`: the
/// moment between a request's `HEAD` of an object and its first read.
pub(crate) struct Relay {
    pub(crate) addr: SocketAddr,
    /// Request lines (`GET /durl/key HTTP/1.1`) in the order they reached the relay.
    requests: Arc<std::sync::Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Relay {
    pub(crate) async fn start(store: SocketAddr, hook: Option<Hook>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hook = Arc::new(tokio::sync::Mutex::new(hook));
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (hook, seen) = (Arc::clone(&hook), Arc::clone(&seen));
                tokio::spawn(async move {
                    let Ok(upstream) = TcpStream::connect(store).await else {
                        return;
                    };
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut upstream_read, mut upstream_write) = upstream.into_split();
                    let down = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut upstream_read, &mut client_write).await;
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        // The server's client writes each request head at once and waits for
                        // the answer before the next: a request starts a chunk.
                        let text = String::from_utf8_lossy(chunk);
                        let line = text.split("\r\n").next().unwrap_or_default();
                        if line.ends_with(" HTTP/1.1") {
                            seen.lock().unwrap().push(line.to_owned());
                        }
                        let ranged_get = chunk.starts_with(b"GET ")
                            && text.to_ascii_lowercase().contains("\r\nrange: ");
                        if ranged_get && let Some(hook) = hook.lock().await.take() {
                            hook.await;
                        }
                        if upstream_write.write_all(chunk).await.is_err() {
                            break;
                        }
                    }
                    down.abort();
                });
            }
        });
        Self {
            addr,
            requests,
            task,
        }
    }

    /// The request lines passed on since the last call.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }

    pub(crate) fn stop(self) {
        self.task.abort();
    }
}

/// The store's address, for a relay in front of it.
pub(crate) fn weed_addr(store: &Store) -> SocketAddr {
    store
        .weed
        .endpoint()
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// An instance whose store is behind a relay that overwrites `key` with `new` just before
/// the first ranged GET reaches the store (the relay's hook); the relay and the instance.
pub(crate) async fn behind_an_overwrite(store: &Store, key: &str, new: &[u8]) -> (Relay, Instance) {
    let s3 = Arc::clone(&store.s3);
    let replacement = Bytes::from(new.to_vec());
    let key = Path::from(key);
    let hook: Hook = Box::pin(async move {
        s3.put(&key, replacement.into()).await.expect("overwrite");
    });
    let relay = Relay::start(weed_addr(store), Some(hook)).await;
    let storage = store
        .storage("")
        .endpoint(&format!("http://{}", relay.addr));
    let a = Instance::start(Config::object_store(storage)).await;
    (relay, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_between_the_head_and_the_first_read_is_answered_from_the_new_version() {
    bounded(async {
        let store = Store::start();
        let old = content(3 * MIB);
        let new: Vec<u8> = old.iter().map(|b| b ^ 0x5a).collect();
        store.put("w.bin", old.clone()).await;
        // The overwrite lands just before the ranged GET reaches the store.
        let (relay, a) = behind_an_overwrite(&store, "w.bin", &new).await;
        let r = get(&a.url("/w.bin"), &[("range", "bytes=1000-1999")]).await;
        assert_eq!(
            r.status(),
            206,
            "answered from the version the store now holds"
        );
        let etag = field(&r, "etag").unwrap();
        assert!(r.bytes().await.unwrap() == new[1000..2000]);
        // Its ETag is the new version's: a HEAD now gives the same one.
        let head = client().head(a.url("/w.bin")).send().await.unwrap();
        assert_eq!(field(&head, "etag").unwrap(), etag);
        a.stop().await;
        relay.stop();
        drop(store);
    })
    .await;
}

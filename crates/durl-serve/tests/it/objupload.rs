//! tus uploads into a real S3-API store (SeaweedFS, started once per test and killed by PID
//! at its end) through two `durl serve s3://…` instances over one bucket: an upload begun on
//! one continues on the other from the offset it reports; two PATCHes at once never mix (one
//! is 423); completion never replaces an object without `--overwrite`; a chunk failing its
//! `Upload-Checksum` is discarded whole (parts already in the store included); a deferred
//! length; the uploads' area is never served; termination and expiry abort the multipart
//! upload.

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use durl_serve::Config;
use durl_testkit::{S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY};
use futures_util::StreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore as _, ObjectStoreExt as _};

use crate::harness::content;
use crate::objstore::{Instance, Store, bounded};

const MIB: usize = 1 << 20;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// `POST`s an upload of `length` bytes named `name` (with more `key value` metadata pairs);
/// the status and the upload's path.
async fn create(base: &str, length: u64, name: &str, more: &[(&str, &str)]) -> (u16, String) {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut metadata = format!("filename {}", b64(name));
    for (k, v) in more {
        metadata.push_str(&format!(",{k} {}", b64(v)));
    }
    let r = client()
        .post(format!("{base}/.durl/uploads/"))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length.to_string())
        .header("upload-metadata", metadata)
        .send()
        .await
        .unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status().as_u16(), location)
}

/// `PATCH`es `body` at `offset`: the status and the `Upload-Offset` answered.
async fn patch(url: &str, offset: u64, body: reqwest::Body) -> (u16, Option<u64>) {
    let r = client()
        .patch(url)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), upload_offset(&r))
}

fn upload_offset(r: &reqwest::Response) -> Option<u64> {
    r.headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok()?.parse().ok())
}

/// `HEAD`: the status and the offset.
async fn head(url: &str) -> (u16, Option<u64>) {
    let r = client()
        .head(url)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), upload_offset(&r))
}

async fn get_bytes(url: &str) -> (u16, Bytes) {
    let r = client().get(url).send().await.unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap())
}

/// The multipart uploads in progress in the bucket (`ListMultipartUploads`, signed by curl:
/// a client nobody here wrote), as the XML answer.
fn multipart_uploads(store: &Store) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--noproxy", "*", "--aws-sigv4"])
        .arg(format!("aws:amz:{S3_REGION}:s3"))
        .arg("--user")
        .arg(format!("{S3_ACCESS_KEY}:{S3_SECRET_KEY}"))
        .arg(format!(
            "{}/{}/?uploads=",
            store.weed.endpoint(),
            store.weed.bucket()
        ))
        .output()
        .expect("curl");
    assert!(out.status.success(), "list multipart uploads: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// Keys of the objects below `prefix`.
async fn keys(store: &Store, prefix: &str) -> Vec<String> {
    store
        .s3
        .list(Some(&Path::from(prefix)))
        .map(|m| m.unwrap().location.to_string())
        .collect()
        .await
}

/// A body that sends `data` in pieces of `piece` bytes, sleeping `pause` between them.
fn slow_body(data: Bytes, piece: usize, pause: Duration) -> reqwest::Body {
    let pieces: Vec<Bytes> = (0..data.len())
        .step_by(piece)
        .map(|i| data.slice(i..(i + piece).min(data.len())))
        .collect();
    let stream = futures_util::stream::iter(pieces).then(move |p| async move {
        tokio::time::sleep(pause).await;
        Ok::<_, std::io::Error>(p)
    });
    reqwest::Body::wrap_stream(stream)
}

fn config(store: &Store, prefix: &str) -> Config {
    Config::object_store(store.storage(prefix))
        .uploads(true)
        .upload_lease(Duration::from_secs(2))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_moves_between_instances_and_two_patches_never_mix() {
    bounded(async {
        let store = Store::start();
        let a = Instance::start(config(&store, "site")).await;
        let b = Instance::start(config(&store, "site")).await;

        // 20 MiB: two parts and a tail; begun on A (one part and 1 MiB of tail), the
        // offset reported by B, finished on B.
        let data = Bytes::from(content(20 * MIB));
        let (status, path) = create(&a.url(""), data.len() as u64, "big.bin", &[]).await;
        assert_eq!(status, 201);
        let (status, offset) = patch(&a.url(&path), 0, data.slice(..9 * MIB).into()).await;
        assert_eq!((status, offset), (204, Some(9 * MIB as u64)));
        assert_eq!(head(&b.url(&path)).await, (200, Some(9 * MIB as u64)));
        let (status, offset) =
            patch(&b.url(&path), 9 * MIB as u64, data.slice(9 * MIB..).into()).await;
        assert_eq!((status, offset), (204, Some(data.len() as u64)));
        for instance in [&a, &b] {
            let (status, got) = get_bytes(&instance.url("/big.bin")).await;
            assert_eq!(status, 200);
            assert!(got == data, "the uploaded object differs");
        }

        // Shorter than a part (a plain PUT of the tail), and empty.
        let small = Bytes::from(content(1000));
        let (_, path) = create(&b.url(""), 1000, "small.txt", &[]).await;
        assert_eq!(
            patch(&a.url(&path), 0, small.clone().into()).await,
            (204, Some(1000))
        );
        assert_eq!(get_bytes(&a.url("/small.txt")).await, (200, small));
        let (status, _) = create(&a.url(""), 0, "empty.txt", &[]).await;
        assert_eq!(status, 201);
        assert_eq!(get_bytes(&b.url("/empty.txt")).await, (200, Bytes::new()));

        // Two PATCHes at the same moment, one to each instance: one takes the lease, the
        // other is refused with 423 without a byte taken; the object is the one body.
        let data = Bytes::from(content(12 * MIB));
        let (_, path) = create(&a.url(""), data.len() as u64, "race.bin", &[]).await;
        let (ua, ub) = (a.url(&path), b.url(&path));
        let body = || slow_body(data.clone(), MIB, Duration::from_millis(150));
        let (ra, rb) = tokio::join!(patch(&ua, 0, body()), patch(&ub, 0, body()));
        let mut statuses = [ra.0, rb.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [204, 423], "{ra:?} {rb:?}");
        assert_eq!(head(&ua).await, (200, Some(data.len() as u64)));
        let (_, got) = get_bytes(&b.url("/race.bin")).await;
        assert!(got == data, "the raced object differs");

        // The uploads' area is never served or listed, even with dotfiles on.
        let c = Instance::start(Config::object_store(store.storage("site")).hidden(true)).await;
        let (_, path) = create(&a.url(""), 10, "pending.txt", &[]).await;
        let id = path.rsplit('/').next().unwrap().to_owned();
        for p in [
            format!("/.durl/uploads/{id}/info"),
            "/.durl/uploads/".to_owned(),
            format!("/.durl/x/{id}"),
            "/.durl/".to_owned(),
        ] {
            let (status, body) = get_bytes(&c.url(&p)).await;
            assert_eq!(status, 404, "{p}");
            assert!(
                !String::from_utf8_lossy(&body).contains("durl-upload"),
                "{p}"
            );
        }
        let (_, listing) = get_bytes(&c.url("/?format=json")).await;
        let listing = String::from_utf8_lossy(&listing).into_owned();
        assert!(
            listing.contains("big.bin") && !listing.contains(".durl"),
            "{listing}"
        );
        // Nor from an instance serving the whole bucket (the area is then `/site/.durl/`).
        let whole = Instance::start(Config::object_store(store.storage("")).hidden(true)).await;
        let (status, _) = get_bytes(&whole.url(&format!("/site/.durl/uploads/{id}/info"))).await;
        assert_eq!(status, 404);
        let (_, listing) = get_bytes(&whole.url("/site/?format=json")).await;
        let listing = String::from_utf8_lossy(&listing).into_owned();
        assert!(
            listing.contains("big.bin") && !listing.contains(".durl"),
            "{listing}"
        );
        whole.stop().await;

        // Termination aborts the multipart upload and deletes the upload's objects.
        assert!(multipart_uploads(&store).contains("pending.txt"));
        let r = client()
            .delete(b.url(&path))
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        assert_eq!(head(&a.url(&path)).await.0, 404);
        assert!(!multipart_uploads(&store).contains("pending.txt"));
        assert_eq!(
            keys(&store, &format!("site/.durl/uploads/{id}")).await,
            Vec::<String>::new()
        );
        c.stop().await;
        a.stop().await;
        b.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_never_replaces_an_object_and_expired_uploads_are_aborted() {
    bounded(async {
        let store = Store::start();
        store.put("site/taken.txt", &b"old"[..]).await;
        let a = Instance::start(config(&store, "site")).await;
        let over = Instance::start(config(&store, "site").overwrite(true)).await;

        // A taken name: 409 at creation; "keep both" gets a numbered name.
        assert_eq!(create(&a.url(""), 3, "taken.txt", &[]).await.0, 409);
        let (status, path) = create(&a.url(""), 3, "taken.txt", &[("onconflict", "keep")]).await;
        assert_eq!(status, 201);
        assert_eq!(
            patch(&a.url(&path), 0, Bytes::from_static(b"new").into())
                .await
                .0,
            204
        );
        assert_eq!(
            get_bytes(&a.url("/taken (1).txt")).await,
            (200, Bytes::from_static(b"new"))
        );
        assert_eq!(
            get_bytes(&a.url("/taken.txt")).await,
            (200, Bytes::from_static(b"old"))
        );

        // Taken between creation and completion: refused (409), the object untouched, for a
        // plain PUT and for a multipart completion alike.
        let big = Bytes::from(content(9 * MIB));
        for (name, data) in [
            ("late.txt", Bytes::from_static(b"late")),
            ("late.bin", big.clone()),
        ] {
            let (_, path) = create(&a.url(""), data.len() as u64, name, &[]).await;
            store.put(&format!("site/{name}"), &b"first"[..]).await;
            let (status, _) = patch(&a.url(&path), 0, data.clone().into()).await;
            assert_eq!(status, 409, "{name}");
            assert_eq!(
                get_bytes(&a.url(&format!("/{name}"))).await,
                (200, Bytes::from_static(b"first"))
            );
        }
        // With --overwrite, replaced.
        let (status, path) = create(&over.url(""), big.len() as u64, "taken.txt", &[]).await;
        assert_eq!(status, 201);
        assert_eq!(patch(&over.url(&path), 0, big.clone().into()).await.0, 204);
        assert!(get_bytes(&a.url("/taken.txt")).await.1 == big);

        // Upload-Checksum: a chunk that does not match is discarded whole (460), even the
        // part already sent to the store; the same chunk right then completes the upload.
        let data = Bytes::from(content(10 * MIB));
        let (_, path) = create(&a.url(""), data.len() as u64, "summed.bin", &[]).await;
        let sha1 = |b: &[u8]| {
            use sha1::Digest as _;
            base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(b))
        };
        for (sum, want) in [
            (sha1(b"other"), (460, Some(0))),
            (sha1(&data), (204, Some(data.len() as u64))),
        ] {
            let r = client()
                .patch(a.url(&path))
                .header("tus-resumable", "1.0.0")
                .header("upload-offset", "0")
                .header("upload-checksum", format!("sha1 {sum}"))
                .header("content-type", "application/offset+octet-stream")
                .body(data.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), want.0);
            assert_eq!(head(&a.url(&path)).await.1, want.1);
        }
        assert!(get_bytes(&a.url("/summed.bin")).await.1 == data);

        // A deferred length, announced with the last chunk.
        let r = client()
            .post(a.url("/.durl/uploads/"))
            .header("tus-resumable", "1.0.0")
            .header("upload-defer-length", "1")
            .header(
                "upload-metadata",
                format!(
                    "filename {}",
                    base64::engine::general_purpose::STANDARD.encode("later.bin")
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let path = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(
            patch(&a.url(&path), 0, data.slice(..9 * MIB).into()).await,
            (204, Some(9 * MIB as u64))
        );
        let r = client()
            .patch(over.url(&path))
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", (9 * MIB).to_string())
            .header("upload-length", data.len().to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(data.slice(9 * MIB..))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        assert!(get_bytes(&a.url("/later.bin")).await.1 == data);

        // A lease left by an instance that died (never released): 423 until it expires,
        // then taken over.
        let (_, path) = create(&a.url(""), 5, "orphan.txt", &[]).await;
        let id = path.rsplit('/').next().unwrap().to_owned();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis();
        let until = now_ms + 3000;
        store
            .put(
                &format!("site/.durl/uploads/{id}/lease"),
                format!("durl-lease 1\nholder dead\nexpires {until}\n"),
            )
            .await;
        let five = || Bytes::from_static(b"12345");
        assert_eq!(patch(&a.url(&path), 0, five().into()).await.0, 423);
        assert_eq!(patch(&over.url(&path), 0, five().into()).await.0, 423);
        tokio::time::sleep(Duration::from_millis(3500)).await;
        assert_eq!(
            patch(&over.url(&path), 0, five().into()).await,
            (204, Some(5))
        );
        assert_eq!(get_bytes(&a.url("/orphan.txt")).await, (200, five()));

        // A completion whose instance died after the object was made but before the record
        // said so: the retry (an empty PATCH at the end) recognises the object, 204.
        let (_, path) = create(&a.url(""), 5, "crash.txt", &[]).await;
        let id = path.rsplit('/').next().unwrap().to_owned();
        assert_eq!(
            patch(&a.url(&path), 0, Bytes::from_static(b"123").into())
                .await
                .0,
            204
        );
        let info = Path::from(format!("site/.durl/uploads/{id}/info"));
        let record = store.s3.get(&info).await.unwrap().bytes().await.unwrap();
        let record = String::from_utf8(record.to_vec()).unwrap();
        assert!(
            record.contains("offset 3\n") && record.contains("tail 3\n"),
            "{record}"
        );
        let record = record
            .replace("offset 3\n", "offset 5\n")
            .replace("tail 3\n", "tail 5\n");
        store
            .put(info.as_ref(), format!("{record}completing 1\n"))
            .await;
        store
            .put(&format!("site/.durl/uploads/{id}/tail-1"), &b"12345"[..])
            .await;
        store.put("site/crash.txt", &b"12345"[..]).await;
        let (status, offset) = patch(&over.url(&path), 5, Bytes::new().into()).await;
        assert_eq!((status, offset), (204, Some(5)));
        assert_eq!(
            get_bytes(&a.url("/crash.txt")).await,
            (200, Bytes::from_static(b"12345"))
        );

        // Expiry: an upload with a part and a tail in the store, left alone past its expiry,
        // is swept by an instance: multipart upload aborted, objects deleted.
        let short =
            Instance::start(config(&store, "exp").upload_expiry(Duration::from_secs(1))).await;
        let (_, path) = create(&short.url(""), 20 * MIB as u64, "gone.bin", &[]).await;
        let id = path.rsplit('/').next().unwrap().to_owned();
        let (status, _) = patch(&short.url(&path), 0, big.slice(..9 * MIB).into()).await;
        assert_eq!(status, 204);
        assert!(multipart_uploads(&store).contains("gone.bin"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while multipart_uploads(&store).contains("gone.bin") && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(
            !multipart_uploads(&store).contains("gone.bin"),
            "never aborted"
        );
        assert_eq!(
            keys(&store, &format!("exp/.durl/uploads/{id}")).await,
            Vec::<String>::new()
        );
        assert!(matches!(head(&short.url(&path)).await.0, 404 | 410));
        short.stop().await;
        over.stop().await;
        a.stop().await;
    })
    .await;
}

//! `durl serve s3://…` against a real S3-API store (SeaweedFS) behind a relay that records
//! every request the store receives: a plain `GET` (whole, or one range) is one store request
//! whose answer gives both the metadata and the bytes; a `HEAD`, a conditional request and
//! several ranges take the `HEAD` first as before; every answer's status and fields are the
//! same as when a `HEAD` came first.

use bytes::Bytes;
use durl_serve::Config;

use crate::harness::{client, content};
use crate::objstore::{
    Instance, Relay, Store, behind_an_overwrite, bounded, field, get, weed_addr,
};

const MIB: usize = 1 << 20;

/// The methods of the request lines the store received since the last look.
fn methods(lines: &[String]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l.split(' ').next().unwrap_or_default())
        .collect()
}

/// Waits (10 s at most) for the listing an instance makes of its bucket at start, so that what
/// the relay records next is the requests' own.
async fn started(relay: &Relay) {
    for _ in 0..200 {
        let lines = relay.take();
        if !lines.is_empty() {
            assert_eq!(methods(&lines), ["GET"], "{lines:?}");
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the instance did not list its bucket within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_get_is_one_store_request_and_every_answer_is_as_before() {
    bounded(async {
        let store = Store::start();
        let data = content(3 * MIB + 7);
        let len = data.len();
        store.put("c.bin", data.clone()).await;
        store.put("empty.txt", Bytes::new()).await;
        store.put("dir/a.txt", &b"alpha\n"[..]).await;
        store.put(".hidden", &b"secret\n"[..]).await;
        let relay = Relay::start(weed_addr(&store), None).await;
        let storage = store
            .storage("")
            .endpoint(&format!("http://{}", relay.addr));
        let a = Instance::start(Config::object_store(storage)).await;
        started(&relay).await;

        // HEAD: the store's HEAD, once; its validators are what every answer below repeats.
        let head = client().head(a.url("/c.bin")).send().await.unwrap();
        assert_eq!(head.status(), 200);
        assert_eq!(field(&head, "content-length"), Some(len.to_string()));
        let etag = field(&head, "etag").unwrap();
        let modified = field(&head, "last-modified").unwrap();
        let lines = relay.take();
        assert_eq!(methods(&lines), ["HEAD"], "{lines:?}");
        let same_version = |r: &reqwest::Response| {
            assert_eq!(field(r, "etag").as_deref(), Some(etag.as_str()));
            assert_eq!(
                field(r, "last-modified").as_deref(),
                Some(modified.as_str())
            );
        };

        // The whole object: one GET.
        let r = get(&a.url("/c.bin"), &[]).await;
        assert_eq!(r.status(), 200);
        same_version(&r);
        assert_eq!(field(&r, "content-length"), Some(len.to_string()));
        assert_eq!(field(&r, "content-range"), None);
        assert!(r.bytes().await.unwrap() == data, "whole object differs");
        let lines = relay.take();
        assert_eq!(methods(&lines), ["GET"], "{lines:?}");

        // One range, in each spelling: one ranged GET, the same 206 as before.
        let cases: &[(&str, std::ops::Range<usize>)] = &[
            ("bytes=1000-1999", 1000..2000),
            ("bytes=-500", len - 500..len),
            ("bytes=2000-", 2000..len),
            ("bytes=0-", 0..len),
            ("bytes=5-99999999999", 5..len),
            // A suffix longer than the object: all of it, still as a 206.
            ("bytes=-99999999999", 0..len),
        ];
        for (range, want) in cases {
            let r = get(&a.url("/c.bin"), &[("range", range)]).await;
            assert_eq!(r.status(), 206, "{range}");
            same_version(&r);
            let content_range = format!("bytes {}-{}/{len}", want.start, want.end - 1);
            assert_eq!(field(&r, "content-range"), Some(content_range), "{range}");
            assert_eq!(
                field(&r, "content-length"),
                Some(want.len().to_string()),
                "{range}"
            );
            assert!(r.bytes().await.unwrap() == data[want.clone()], "{range}");
            let lines = relay.take();
            assert_eq!(methods(&lines), ["GET"], "{range}: {lines:?}");
        }

        // A HEAD with a range: still the store's HEAD only.
        let r = client()
            .head(a.url("/c.bin"))
            .header("range", "bytes=0-9")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(field(&r, "content-range"), Some(format!("bytes 0-9/{len}")));
        let lines = relay.take();
        assert_eq!(methods(&lines), ["HEAD"], "{lines:?}");

        // A range starting at or beyond the end: durl's own 416 with the length, at most one
        // request more (the store refuses the ranged GET; its HEAD gives the length).
        for range in [
            format!("bytes={len}-"),
            format!("bytes={}-{}", len + 10, len + 20),
        ] {
            let r = get(&a.url("/c.bin"), &[("range", &range)]).await;
            assert_eq!(r.status(), 416, "{range}");
            same_version(&r);
            assert_eq!(field(&r, "content-range"), Some(format!("bytes */{len}")));
            let lines = relay.take();
            assert!(lines.len() <= 2, "{range}: {lines:?}");
        }

        // Conditional requests: evaluated against the store's HEAD, no body fetched.
        let r = get(&a.url("/c.bin"), &[("if-none-match", &etag)]).await;
        assert_eq!(r.status(), 304);
        same_version(&r);
        let r = get(&a.url("/c.bin"), &[("if-modified-since", &modified)]).await;
        assert_eq!(r.status(), 304);
        let r = get(&a.url("/c.bin"), &[("if-match", "\"other\"")]).await;
        assert_eq!(r.status(), 412);
        let lines = relay.take();
        assert_eq!(methods(&lines), ["HEAD", "HEAD", "HEAD"], "{lines:?}");
        let r = get(&a.url("/c.bin"), &[("if-match", &etag)]).await;
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.unwrap() == data);

        // If-Range: a current validator is a plain range (one GET); a stale one gets the
        // whole object, from a second GET pinned to the version the first one named.
        relay.take();
        let r = get(
            &a.url("/c.bin"),
            &[("if-range", &etag), ("range", "bytes=5-9")],
        )
        .await;
        assert_eq!(r.status(), 206);
        assert!(r.bytes().await.unwrap() == data[5..10]);
        let lines = relay.take();
        assert_eq!(methods(&lines), ["GET"], "{lines:?}");
        let r = get(
            &a.url("/c.bin"),
            &[("if-range", "\"other\""), ("range", "bytes=5-9")],
        )
        .await;
        assert_eq!(r.status(), 200, "a stale If-Range gets the whole object");
        same_version(&r);
        assert!(r.bytes().await.unwrap() == data);
        let lines = relay.take();
        assert_eq!(methods(&lines), ["GET", "GET"], "{lines:?}");

        // Several ranges: the HEAD, then one ranged GET per part, as before.
        let r = get(&a.url("/c.bin"), &[("range", "bytes=0-9,1000-1009")]).await;
        assert_eq!(r.status(), 206);
        let ct = field(&r, "content-type").unwrap();
        assert!(ct.starts_with("multipart/byteranges; boundary="), "{ct}");
        let body = r.bytes().await.unwrap();
        assert!(body.windows(10).any(|w| w == &data[1000..1010]));
        let lines = relay.take();
        assert_eq!(methods(&lines), ["HEAD", "GET", "GET"], "{lines:?}");

        // An empty object: one GET for the whole (no body to fetch after it); a suffix range
        // is the empty whole (200), any other range 416 `bytes */0`.
        let r = get(&a.url("/empty.txt"), &[]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(field(&r, "content-length").as_deref(), Some("0"));
        assert!(r.bytes().await.unwrap().is_empty());
        let lines = relay.take();
        assert_eq!(methods(&lines), ["GET"], "{lines:?}");
        let r = get(&a.url("/empty.txt"), &[("range", "bytes=-5")]).await;
        assert_eq!(r.status(), 200);
        assert!(r.bytes().await.unwrap().is_empty());
        let r = get(&a.url("/empty.txt"), &[("range", "bytes=0-")]).await;
        assert_eq!(r.status(), 416);
        assert_eq!(field(&r, "content-range").as_deref(), Some("bytes */0"));
        let lines = relay.take();
        assert!(lines.len() <= 4, "{lines:?}");

        // A key that is a directory: the GET finds no object, the listing does (301, then
        // the listing); a missing key is 404 after the same two.
        let r = get(&a.url("/dir"), &[]).await;
        assert_eq!(r.status(), 301);
        assert_eq!(field(&r, "location").as_deref(), Some("/dir/"));
        let lines = relay.take();
        assert_eq!(methods(&lines), ["GET", "GET"], "{lines:?}");
        let r = get(&a.url("/dir/a.txt"), &[]).await;
        assert_eq!(r.text().await.unwrap(), "alpha\n");
        assert_eq!(get(&a.url("/missing"), &[]).await.status(), 404);
        let lines = relay.take();
        assert_eq!(methods(&lines), ["GET", "GET", "GET"], "{lines:?}");

        // Dotfiles and the uploads' area: refused before any store request.
        for path in ["/.hidden", "/.durl/x", "/dir/.durl"] {
            assert_eq!(get(&a.url(path), &[]).await.status(), 404, "{path}");
        }
        let lines = relay.take();
        assert!(lines.is_empty(), "{lines:?}");

        a.stop().await;
        relay.stop();
        drop(store);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_between_the_head_and_the_ranged_gets_of_several_ranges_is_answered_anew() {
    bounded(async {
        let store = Store::start();
        let old = content(2 * MIB);
        let new: Vec<u8> = old.iter().map(|b| b ^ 0x5a).collect();
        store.put("m.bin", old.clone()).await;
        // Several ranges take the HEAD first; the overwrite lands after it, before the first
        // ranged GET pinned to the version the HEAD found.
        let (relay, a) = behind_an_overwrite(&store, "m.bin", &new).await;
        started(&relay).await;
        let r = get(&a.url("/m.bin"), &[("range", "bytes=0-9,100000-100009")]).await;
        assert_eq!(r.status(), 206);
        let etag = field(&r, "etag").unwrap();
        let body = r.bytes().await.unwrap();
        for part in [0..10, 100_000..100_010] {
            assert!(
                body.windows(10).any(|w| w == &new[part.clone()]),
                "part {part:?} is not the new version's"
            );
            assert!(
                !body.windows(10).any(|w| w == &old[part.clone()]),
                "part {part:?} holds the old version's bytes"
            );
        }
        // The first HEAD, the pinned GET the store refused, then the answer anew.
        let lines = relay.take();
        assert_eq!(
            methods(&lines),
            ["HEAD", "GET", "HEAD", "GET", "GET"],
            "{lines:?}"
        );
        let head = client().head(a.url("/m.bin")).send().await.unwrap();
        assert_eq!(field(&head, "etag").unwrap(), etag);
        a.stop().await;
        relay.stop();
        drop(store);
    })
    .await;
}

//! Basic auth, TLS (HTTP/1.1 and h2 over ALPN), directory listings, the upload page.

use std::time::Duration;

use durl_serve::TlsConfig;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE, WWW_AUTHENTICATE};

use crate::harness::{Server, bounded, client, content, get, raw};

#[tokio::test]
async fn basic_auth_is_required_and_checked() {
    bounded(async {
        let server = Server::start(
            |root| std::fs::write(root.join("t.txt"), b"hello").unwrap(),
            |c| c.basic_auth("user", "p@ss:word"),
        )
        .await;
        let response = client().get(server.url("/t.txt")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(
            response.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .starts_with("Basic realm=")
        );

        for (user, pass) in [
            ("user", "wrong"),
            ("other", "p@ss:word"),
            ("user", "p@ss:wor"),
        ] {
            let response = client()
                .get(server.url("/t.txt"))
                .basic_auth(user, Some(pass))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{user}:{pass}");
        }
        // Unauthenticated requests learn nothing about paths.
        let response = raw(server.addr, &get("/../etc/passwd")).await;
        assert_eq!(response.status, 401);

        let response = client()
            .get(server.url("/t.txt"))
            .basic_auth("user", Some("p@ss:word"))
            .header(RANGE, "bytes=1-2")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.bytes().await.unwrap(), &b"el"[..]);
        server.stop().await;
    })
    .await;
}

fn self_signed() -> (String, String) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    (cert.cert.pem(), cert.signing_key.serialize_pem())
}

#[tokio::test]
async fn https_with_http1_and_h2() {
    bounded(async {
        let (cert_pem, key_pem) = self_signed();
        let tls = TlsConfig::from_pem(cert_pem.as_bytes(), key_pem.as_bytes()).unwrap();
        let data = content(400_000);
        let server = Server::start(
            move |root| std::fs::write(root.join("d.bin"), &data).unwrap(),
            |c| c.tls(tls),
        )
        .await;
        let expected = content(400_000);
        let url = format!("https://localhost:{}/d.bin", server.addr.port());
        let root = reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap();
        for http1_only in [true, false] {
            let mut builder = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .resolve("localhost", server.addr)
                .tls_certs_only([root.clone()]);
            if http1_only {
                builder = builder.http1_only();
            }
            let client = builder.build().unwrap();
            let response = client.get(&url).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let want = if http1_only {
                reqwest::Version::HTTP_11
            } else {
                reqwest::Version::HTTP_2
            };
            assert_eq!(response.version(), want);
            assert_eq!(response.bytes().await.unwrap(), expected.as_slice());

            let response = client
                .get(&url)
                .header(RANGE, "bytes=131000-140000")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
            assert_eq!(
                response.headers()[CONTENT_RANGE],
                "bytes 131000-140000/400000"
            );
            assert_eq!(
                response.bytes().await.unwrap(),
                &expected[131_000..=140_000]
            );
        }
        // Plain HTTP to the TLS port is not served.
        let plain = tokio::time::timeout(Duration::from_secs(5), async {
            client().get(server.url("/d.bin")).send().await
        })
        .await
        .unwrap();
        assert!(plain.is_err());
        server.stop().await;
    })
    .await;
}

#[test]
fn tls_config_errors_are_typed() {
    assert!(matches!(
        TlsConfig::from_pem(b"", b""),
        Err(durl_serve::ServeError::NoCertificate)
    ));
    let (cert, _) = self_signed();
    assert!(matches!(
        TlsConfig::from_pem(cert.as_bytes(), b"not a key"),
        Err(durl_serve::ServeError::NoPrivateKey)
    ));
    let missing = std::path::Path::new("/nonexistent/cert.pem");
    assert!(matches!(
        TlsConfig::from_pem_files(missing, missing),
        Err(durl_serve::ServeError::TlsRead { .. })
    ));
}

#[tokio::test]
async fn directory_listing_is_escaped_sorted_and_redirects_to_slash() {
    bounded(async {
        let server = Server::start(
            |root| {
                std::fs::write(root.join("b<i>.txt"), b"12345").unwrap();
                std::fs::write(root.join("a & b.txt"), b"").unwrap();
                std::fs::create_dir(root.join("zdir")).unwrap();
                std::fs::write(root.join("zdir/inner.txt"), b"x").unwrap();
            },
            |c| c,
        )
        .await;
        let response = client().get(server.url("/")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let html = response.text().await.unwrap();
        assert!(!html.contains("<i>"), "names are escaped");
        assert!(html.contains("b&lt;i&gt;.txt"));
        assert!(html.contains("href=\"./b%3Ci%3E.txt\""));
        assert!(html.contains("href=\"./a%20%26%20b.txt\""));
        assert!(html.contains("5 B"));
        let (z, a, b) = (
            html.find("zdir/").unwrap(),
            html.find("a &amp; b.txt").unwrap(),
            html.find("b&lt;i&gt;").unwrap(),
        );
        assert!(z < a && a < b, "directories first, then names in order");

        // A directory without its trailing slash redirects (relative links need it).
        let response = raw(server.addr, &get("/zdir")).await;
        assert_eq!(response.status, 301);
        assert_eq!(response.header("location"), Some("/zdir/"));
        // ... built from the checked path, so it cannot become protocol-relative.
        let response = raw(server.addr, &get("//zdir")).await;
        assert_eq!(response.header("location"), Some("/zdir/"));

        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let response = client.get(server.url("/zdir")).send().await.unwrap();
        assert_eq!(response.headers()[LOCATION], "/zdir/");
        let html = crate::harness::client()
            .get(server.url("/zdir/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("inner.txt"));
        assert!(html.contains("href=\"../\""));

        // A file addressed as a directory is not found.
        assert_eq!(raw(server.addr, &get("/zdir/inner.txt/")).await.status, 404);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn listings_can_be_turned_off() {
    bounded(async {
        let server = Server::start(
            |root| std::fs::write(root.join("t.txt"), b"x").unwrap(),
            |c| c.list_directories(false),
        )
        .await;
        assert_eq!(raw(server.addr, &get("/")).await.status, 404);
        assert_eq!(raw(server.addr, &get("/t.txt")).await.status, 200);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_missing_root_is_a_typed_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let result = durl_serve::run(
        listener,
        durl_serve::Config::new("/nonexistent/durl-serve-root"),
        std::future::pending::<()>(),
    )
    .await;
    assert!(matches!(result, Err(durl_serve::ServeError::Root { .. })));
}

#[tokio::test]
async fn cleartext_http2_with_prior_knowledge() {
    bounded(async {
        let data = content(300_000);
        let server = Server::with_files(&[("d.bin", &data)]).await;
        let client = reqwest::Client::builder()
            .no_proxy()
            .http2_prior_knowledge()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let response = client
            .get(server.url("/d.bin"))
            .header(RANGE, "bytes=1000-")
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.bytes().await.unwrap(), &data[1000..]);
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_upload_page_is_routed_only_with_uploads_and_only_for_authenticated_users() {
    bounded(async {
        let fill = |root: &std::path::Path| {
            std::fs::create_dir(root.join(".durl")).unwrap();
            std::fs::write(root.join(".durl/upload.js"), b"// a file of the tree").unwrap();
        };
        // Without uploads: /.durl/ is part of the tree like any path (a dotfile path, so
        // with hidden files served); no upload area.
        let server = Server::start(fill, |c| c.hidden(true)).await;
        let html = client().get(server.url("/")).send().await.unwrap();
        assert!(html.headers().contains_key("content-security-policy"));
        assert!(!html.text().await.unwrap().contains("durl-upload"));
        let js = raw(server.addr, &get("/.durl/upload.js")).await;
        assert_eq!(js.status, 200);
        assert_eq!(js.body, b"// a file of the tree");
        assert_eq!(
            raw(server.addr, &get("/.durl/upload.css")).await.status,
            404
        );
        server.stop().await;

        // With uploads: the embedded script answers at its path, behind auth like the rest.
        let server = Server::start(fill, |c| c.uploads(true).basic_auth("u", "p")).await;
        assert_eq!(raw(server.addr, &get("/.durl/upload.js")).await.status, 401);
        let js = client()
            .get(server.url("/.durl/upload.js"))
            .basic_auth("u", Some("p"))
            .send()
            .await
            .unwrap();
        assert_eq!(js.status(), StatusCode::OK);
        assert_eq!(js.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert!(js.text().await.unwrap().contains("Tus-Resumable"));
        let html = client()
            .get(server.url("/"))
            .basic_auth("u", Some("p"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("data-endpoint=\"/.durl/uploads/\""), "{html}");
        let post = client()
            .post(server.url("/.durl/upload.js"))
            .basic_auth("u", Some("p"))
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        server.stop().await;
    })
    .await;
}

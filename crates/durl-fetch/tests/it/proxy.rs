//! Proxies: a forward HTTP proxy and a SOCKS5 one from the testkit carry whole and split
//! downloads; `no_proxy` and `*` bypass them; a proxy login goes to the proxy only.

use durl_testkit::{FaultServer, Proxy, Resource};

use crate::support::{SEED, assert_complete, expected, request};

const LEN: u64 = 8 << 20;

fn origin() -> FaultServer {
    let server = FaultServer::start();
    server.put("/f.bin", Resource::pattern(SEED, LEN));
    server
}

fn url(s: &str) -> Option<url::Url> {
    Some(url::Url::parse(s).unwrap())
}

#[tokio::test]
async fn a_forward_http_proxy_carries_every_request_and_gets_its_login() {
    let server = origin();
    let proxy = Proxy::http();
    let with_login = proxy.url().replace("http://", "http://pu:pp@");
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f.bin", dir.path())
        .connections(4)
        .network(
            durl_fetch::Network::default()
                .stall_timeout(std::time::Duration::from_secs(5))
                .proxy(url(&with_login)),
        );
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    let asked = proxy.asked();
    let seen = server.log();
    assert!(seen.len() >= 4, "{seen:?}");
    // Every request the origin saw came through the proxy, in absolute form.
    assert_eq!(asked.len(), seen.len(), "{asked:?}");
    for a in &asked {
        assert_eq!(a.target, server.url("/f.bin"));
        // RFC 7617 §2 over RFC 9110 §11.7.2: pu:pp
        assert_eq!(a.proxy_authorization.as_deref(), Some("Basic cHU6cHA="));
    }
    for s in &seen {
        assert_eq!(s.header("proxy-authorization"), None, "{s:?}");
    }
}

#[tokio::test]
async fn socks5_connects_by_address_and_socks5h_by_name() {
    let server = origin();
    let proxy = Proxy::socks5();
    for (scheme, host, want) in [
        ("socks5", "127.0.0.1", "127.0.0.1"),
        ("socks5h", "localhost", "localhost"),
    ] {
        let before = proxy.asked().len();
        let dir = tempfile::tempdir().unwrap();
        let port = server.addr().port();
        let req = durl_fetch::GetRequest::new(&format!("http://{host}:{port}/f.bin"))
            .unwrap()
            .output(dir.path().join("out.bin"))
            .connections(2)
            .network(durl_fetch::Network::default().proxy(url(
                &proxy.url().replace("socks5://", &format!("{scheme}://")),
            )));
        durl_fetch::get(&req, &()).await.unwrap();
        assert_complete(dir.path(), &expected(LEN));
        let asked = &proxy.asked()[before..];
        assert!(!asked.is_empty());
        for a in asked {
            assert_eq!(a.target, format!("{want}:{port}"), "{scheme}");
        }
    }
}

#[tokio::test]
async fn no_proxy_hosts_and_star_bypass_the_proxy() {
    let server = origin();
    let proxy = Proxy::http();
    for list in ["127.0.0.1", "*", "example.com, 127.0.0.0/8"] {
        let dir = tempfile::tempdir().unwrap();
        let req = request(&server, "/f.bin", dir.path()).network(
            durl_fetch::Network::default()
                .proxy(url(&proxy.url()))
                .no_proxy(Some(list.to_owned())),
        );
        durl_fetch::get(&req, &()).await.unwrap();
        assert_complete(dir.path(), &expected(LEN));
        assert!(proxy.asked().is_empty(), "{list}: {:?}", proxy.asked());
    }
    // A list that does not name the host keeps the proxy.
    let dir = tempfile::tempdir().unwrap();
    let req = request(&server, "/f.bin", dir.path()).network(
        durl_fetch::Network::default()
            .proxy(url(&proxy.url()))
            .no_proxy(Some("example.com".to_owned())),
    );
    durl_fetch::get(&req, &()).await.unwrap();
    assert_complete(dir.path(), &expected(LEN));
    assert!(!proxy.asked().is_empty());
}

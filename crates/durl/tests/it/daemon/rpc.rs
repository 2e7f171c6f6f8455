//! aria2's JSON-RPC as the real `durl daemon` answers it: field names and formats, the
//! token, batches and multicall, queue order, options, errors, and stopping.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use durl_testkit::{FaultServer, Resource, pattern_bytes};
use serde_json::{Value, json};

use super::{Daemon, Dirs};

fn gid(v: &Value) -> String {
    let g = v.as_str().unwrap_or_else(|| panic!("not a GID: {v}"));
    assert!(
        g.len() == 16 && g.bytes().all(|b| b.is_ascii_hexdigit()),
        "{g}"
    );
    g.to_owned()
}

#[test]
fn add_track_and_finish_with_aria2_fields() {
    let server = FaultServer::start();
    server.put("/one.bin", Resource::pattern(1, 200_000));
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &[]);
    let sha = "sha-256=0000000000000000000000000000000000000000000000000000000000000000";
    let g = gid(&daemon.call(
        "aria2.addUri",
        json!([[server.url("/one.bin")], {"out": "named.bin", "split": "2", "dir": "sub", "max-download-limit": "1M"}]),
    ));
    let s = daemon.wait_status(&g, "complete", 30);
    assert_eq!(s["totalLength"], "200000");
    assert_eq!(s["completedLength"], "200000");
    assert_eq!(s["errorCode"], "0");
    let path = d.dl.join("sub/named.bin");
    assert_eq!(s["files"][0]["path"], path.display().to_string());
    assert_eq!(s["files"][0]["uris"][0]["uri"], server.url("/one.bin"));
    assert!(std::fs::read(&path).unwrap() == pattern_bytes(1, 0..200_000));
    let o = daemon.call("aria2.getOption", json!([g]));
    assert_eq!(o["split"], "2");
    assert_eq!(o["max-download-limit"], "1048576");
    assert_eq!(o["out"], "named.bin");
    let only = daemon.call("aria2.tellStatus", json!([g, ["gid", "status"]]));
    assert_eq!(only, json!({"gid": g, "status": "complete"}));

    // A checksum mismatch is an error with aria2's code 32, listed in tellStopped.
    let bad = gid(&daemon.call(
        "aria2.addUri",
        json!([[server.url("/one.bin")], {"out": "bad.bin", "checksum": sha}]),
    ));
    let s = daemon.wait_status(&bad, "error", 30);
    assert_eq!(s["errorCode"], "32", "{s}");
    assert!(
        s["errorMessage"].as_str().unwrap().contains("checksum"),
        "{s}"
    );
    let stopped = daemon.call("aria2.tellStopped", json!([0, 10, ["gid"]]));
    assert_eq!(stopped, json!([{"gid": g}, {"gid": bad}]));
    let newest_first = daemon.call("aria2.tellStopped", json!([-1, 10, ["gid"]]));
    assert_eq!(newest_first, json!([{"gid": bad}, {"gid": g}]));
    let stat = daemon.call("aria2.getGlobalStat", json!([]));
    assert_eq!(stat["numStopped"], "2");
    daemon.call("aria2.removeDownloadResult", json!([bad]));
    daemon.call("aria2.purgeDownloadResult", json!([]));
    assert_eq!(daemon.call("aria2.tellStopped", json!([0, 10])), json!([]));
}

#[test]
fn queue_order_pause_unpause_remove_and_positions() {
    let server = FaultServer::start();
    server.put(
        "/slow.bin",
        Resource::pattern(2, 4 << 20).with_rate_limit(256 << 10),
    );
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["-j", "1"]);
    let url = server.url("/slow.bin");
    let add = |out: &str| gid(&daemon.call("aria2.addUri", json!([[url], {"out": out}])));
    let a = add("a");
    let b = add("b");
    let c = add("c");
    daemon.wait_status(&a, "active", 10);
    let waiting = |d: &Daemon| {
        d.call("aria2.tellWaiting", json!([0, 10, ["gid"]]))
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["gid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(waiting(&daemon), [b.clone(), c.clone()]);
    // Positions: c to the front, then b one step back from where it is.
    assert_eq!(
        daemon.call("aria2.changePosition", json!([c, 0, "POS_SET"])),
        json!(0)
    );
    assert_eq!(waiting(&daemon), [c.clone(), b.clone()]);
    assert_eq!(
        daemon.call("aria2.changePosition", json!([b, -1, "POS_CUR"])),
        json!(0)
    );
    assert_eq!(waiting(&daemon), [b.clone(), c.clone()]);
    // addUri with a position.
    let e = gid(&daemon.call("aria2.addUri", json!([[url], {"out": "e"}, 1])));
    assert_eq!(waiting(&daemon), [b.clone(), e.clone(), c.clone()]);

    // Pause the active one: it is paused, and the next one in the queue starts.
    assert_eq!(daemon.call("aria2.pause", json!([a])), json!(a));
    assert_eq!(daemon.status(&a)["status"], "paused");
    daemon.wait_status(&b, "active", 10);
    // Pausing a paused download is refused, as aria2 refuses it.
    let again =
        daemon.request(&json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.pause", "params": [a]}));
    assert_eq!(again["error"]["code"], 1, "{again}");
    daemon.call("aria2.unpause", json!([a]));
    assert_eq!(daemon.status(&a)["status"], "waiting");
    // Remove: listed as removed; removing again is an error.
    daemon.call("aria2.forceRemove", json!([e]));
    assert_eq!(daemon.status(&e)["status"], "removed");
    let again = daemon
        .request(&json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.remove", "params": [e]}));
    assert_eq!(again["error"]["code"], 1, "{again}");
    // pauseAll / unpauseAll.
    assert_eq!(daemon.call("aria2.pauseAll", json!([])), json!("OK"));
    for g in [&a, &b, &c] {
        assert_eq!(daemon.status(g)["status"], "paused", "{g}");
    }
    assert_eq!(daemon.call("aria2.unpauseAll", json!([])), json!("OK"));
    daemon.wait_status(&a, "active", 10); // a is first in the queue again
    // changeOption on an active download restarts it from its checkpoint with the option.
    daemon.call(
        "aria2.changeOption",
        json!([a, {"max-download-limit": "100K"}]),
    );
    assert_eq!(
        daemon.call("aria2.getOption", json!([a]))["max-download-limit"],
        "102400"
    );
    daemon.wait_status(&a, "active", 10);
    // The restart passes through "waiting" for a moment (seen under load): ask until active.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let servers = loop {
        let r = daemon.request(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.getServers", "params": [a]}),
        );
        if let Some(result) = r.get("result") {
            break result.clone();
        }
        assert!(std::time::Instant::now() < deadline, "{r}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(servers[0]["servers"][0]["uri"], url);
    // Global options.
    daemon.call(
        "aria2.changeGlobalOption",
        json!([{"max-concurrent-downloads": "3", "max-overall-download-limit": "1M"}]),
    );
    let g = daemon.call("aria2.getGlobalOption", json!([]));
    assert_eq!(g["max-concurrent-downloads"], "3");
    assert_eq!(g["max-overall-download-limit"], "1048576");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while daemon
        .call("aria2.tellActive", json!([["gid"]]))
        .as_array()
        .unwrap()
        .len()
        < 3
    {
        assert!(std::time::Instant::now() < deadline, "3 never ran at once");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn token_batches_multicall_and_errors() {
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["--secret", "s3cret"]);
    let call = |body: Value| daemon.request(&body);
    // No token, wrong token: Unauthorized. listMethods needs none.
    let r = call(json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.getVersion", "params": []}));
    assert_eq!(r["error"]["message"], "Unauthorized", "{r}");
    let r = call(
        json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.getVersion", "params": ["token:nope"]}),
    );
    assert_eq!(r["error"]["message"], "Unauthorized", "{r}");
    let r = call(json!({"jsonrpc": "2.0", "id": "x", "method": "system.listMethods"}));
    assert_eq!(r["id"], "x");
    let methods = r["result"].as_array().unwrap();
    for m in [
        "aria2.addUri",
        "aria2.tellStatus",
        "system.multicall",
        "aria2.saveSession",
    ] {
        assert!(methods.iter().any(|x| x == m), "{m}");
    }
    let r = call(json!({"jsonrpc": "2.0", "id": 1, "method": "system.listNotifications"}));
    assert!(
        r["result"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "aria2.onDownloadComplete")
    );
    // A batch: one answer per request, in order, ids kept.
    let r = call(json!([
        {"jsonrpc": "2.0", "id": 1, "method": "aria2.getVersion", "params": ["token:s3cret"]},
        {"jsonrpc": "2.0", "id": 2, "method": "aria2.getSessionInfo", "params": ["token:s3cret"]},
        {"jsonrpc": "2.0", "id": 3, "method": "aria2.nope", "params": ["token:s3cret"]},
    ]));
    assert_eq!(r[0]["id"], 1);
    assert!(r[0]["result"]["version"].is_string());
    assert_eq!(r[1]["result"]["sessionId"].as_str().unwrap().len(), 32);
    assert_eq!(r[2]["error"]["code"], -32601);
    // multicall: each call with its own token; [result] or a fault struct.
    let r = call(
        json!({"jsonrpc": "2.0", "id": 1, "method": "system.multicall", "params": [[
            {"methodName": "aria2.saveSession", "params": ["token:s3cret"]},
            {"methodName": "aria2.getGlobalStat", "params": []},
            {"methodName": "aria2.addTorrent", "params": ["token:s3cret", "ZGF0YQ=="]},
            {"methodName": "aria2.tellStatus", "params": ["token:s3cret", "0123456789abcdef"]},
            {"methodName": "aria2.tellStatus", "params": ["token:s3cret", "123"]},
        ]]}),
    );
    let r = &r["result"];
    assert_eq!(r[0], json!(["OK"]));
    assert_eq!(r[1]["message"], "Unauthorized");
    assert!(
        r[2]["message"].as_str().unwrap().contains("BitTorrent"),
        "{r}"
    );
    assert!(
        r[3]["message"].as_str().unwrap().contains("not found"),
        "{r}"
    );
    assert!(
        r[4]["message"].as_str().unwrap().contains("16 hex digits"),
        "{r}"
    );
    // Bad JSON and bad requests: the JSON-RPC 2.0 codes.
    let raw = super::post(&daemon.addr, &json!("just a string")).unwrap();
    assert_eq!(raw["error"]["code"], -32600);
    let r = call(
        json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.addUri", "params": ["token:s3cret", ["gopher://x/"]]}),
    );
    assert!(
        r["error"]["message"].as_str().unwrap().contains("gopher"),
        "{r}"
    );
    let r = call(
        json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.addUri", "params": ["token:s3cret", ["http://127.0.0.1/"], {"split": "99"}]}),
    );
    assert!(
        r["error"]["message"].as_str().unwrap().contains("split"),
        "{r}"
    );
}

/// A raw HTTP request; the status line and body.
fn raw(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn other_origins_are_refused_without_a_secret_and_the_page_has_a_strict_csp() {
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &[]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"aria2.getVersion"}"#;
    let post = |host: &str, origin: Option<&str>| {
        let origin = origin
            .map(|o| format!("Origin: {o}\r\n"))
            .unwrap_or_default();
        raw(
            &daemon.addr,
            &format!(
                "POST /jsonrpc HTTP/1.1\r\nHost: {host}\r\n{origin}Content-Type: application/json\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let own = format!("http://{}", daemon.addr);
    assert!(post(&daemon.addr, None).starts_with("HTTP/1.1 200"));
    assert!(post(&daemon.addr, Some(&own)).starts_with("HTTP/1.1 200"));
    assert!(post(&daemon.addr, Some("http://evil.example")).starts_with("HTTP/1.1 403"));
    let port = daemon.addr.rsplit(':').next().unwrap();
    let rebound = format!("evil.example:{port}");
    assert!(post(&rebound, Some(&format!("http://{rebound}"))).starts_with("HTTP/1.1 403"));
    // The WebSocket handshake from another origin too.
    let ws = |origin: &str| {
        raw(
            &daemon.addr,
            &format!(
                "GET /jsonrpc HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nConnection: Upgrade\r\n\
                 Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                 Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                daemon.addr
            ),
        )
    };
    let refused = ws("http://evil.example");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    let page = raw(
        &daemon.addr,
        &format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            daemon.addr
        ),
    );
    assert!(page.starts_with("HTTP/1.1 200"));
    assert!(
        page.to_ascii_lowercase()
            .contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{page}"
    );
}

#[test]
fn a_non_loopback_bind_needs_a_secret() {
    let d = Dirs::new();
    let out = crate::durl(&d.dl)
        .args(["daemon", "--bind", "0.0.0.0", "--port", "0", "--state-dir"])
        .arg(&d.state)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a secret"), "{err}");
    assert!(out.stdout.is_empty(), "no URL announced");
}

#[test]
fn sigterm_checkpoints_and_exits_0_then_the_download_continues() {
    let server = FaultServer::start();
    let len = 3u64 << 20;
    server.put("/t.bin", Resource::pattern(3, len).with_rate_limit(1 << 20));
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &[]);
    let g = gid(&daemon.call("aria2.addUri", json!([[server.url("/t.bin")]])));
    assert!(server.wait_until_body_bytes("/t.bin", 1 << 20, Duration::from_secs(20)));
    crate::signal(daemon.pid(), "TERM");
    let status = daemon.wait_exit(20);
    assert!(status.success(), "{status:?}");
    let served = server.body_bytes_served("/t.bin");
    // The final checkpoint recorded everything received: only what sat in socket buffers
    // is fetched twice.
    let daemon = Daemon::start(&d.state, &d.dl, &[]);
    daemon.wait_status(&g, "complete", 30);
    assert!(std::fs::read(d.dl.join("t.bin")).unwrap() == pattern_bytes(3, 0..len));
    let refetched = server.body_bytes_served("/t.bin") - len;
    assert!(
        refetched < 1 << 20,
        "re-fetched {refetched} (served {served} before the stop)"
    );
    // aria2.shutdown stops it too, with exit 0.
    assert_eq!(daemon.call("aria2.shutdown", json!([])), json!("OK"));
    assert!(daemon.wait_exit(20).success());
}

/// Regression: with an overall limit, a download starting or ending once restarted every
/// running one (their share changed), whose restarts changed the count again: with 16
/// running, nothing progressed. Now the share is per slot and nothing restarts.
#[test]
fn an_overall_limit_does_not_restart_running_downloads_as_others_come_and_go() {
    let server = FaultServer::start();
    server.put("/m.bin", Resource::pattern(5, 1 << 20));
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["-j", "16", "--limit-rate", "64M"]);
    let calls: Vec<Value> = (0..24)
        .map(|i| json!({"methodName": "aria2.addUri", "params": [[server.url("/m.bin")], {"out": format!("m{i}.bin")}]}))
        .collect();
    let added = daemon.call("system.multicall", json!([calls]));
    for answer in added.as_array().unwrap() {
        daemon.wait_status(answer[0].as_str().unwrap(), "complete", 60);
    }
    for i in 0..24 {
        assert!(
            std::fs::read(d.dl.join(format!("m{i}.bin"))).unwrap() == pattern_bytes(5, 0..1 << 20)
        );
    }
    // Each file once: no restart re-fetched anything.
    assert_eq!(server.body_bytes_served("/m.bin"), 24 << 20);
    assert_eq!(server.requests_for("/m.bin"), 24);
}

/// Every limit a client can exhaust has a per-client share: one address holding its share of
/// RPC connections (idle, sending nothing) gets no more, while another address is answered.
#[test]
fn one_client_cannot_take_every_rpc_connection() {
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &["--rpc-max-per-client", "3"]);
    let version = json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.getVersion", "params": []});
    let idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&daemon.addr).unwrap())
        .collect();
    // The listener takes the idle ones before the next: wait until a 4th is turned away.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while super::post(&daemon.addr, &version).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "a 4th connection was served"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another address (127.0.0.2 is loopback too) is answered.
    let port: u16 = daemon.addr.rsplit_once(':').unwrap().1.parse().unwrap();
    let other = std::net::SocketAddr::from(([127, 0, 0, 2], 0));
    let mut s = bind_connect(other, ([127, 0, 0, 1], port).into());
    let body = version.to_string();
    write!(
        s,
        "POST /jsonrpc HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        daemon.addr,
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A slot given back is usable again.
    drop(idle);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while super::post(&daemon.addr, &version).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the slots never came back"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP connection from `local` to `remote`.
fn bind_connect(local: std::net::SocketAddr, remote: std::net::SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(local).unwrap();
        let stream = socket.connect(remote).await.unwrap();
        let std = stream.into_std().unwrap();
        std.set_nonblocking(false).unwrap();
        std
    })
}

/// Regression (aria2p's interop test failed 2 runs in 4 under load): a download removed while
/// running and purged at once stayed listed until its engine task had wound down. Purged
/// results are gone at once, whatever the task is still doing.
#[test]
fn a_result_purged_while_its_download_winds_down_is_gone_at_once() {
    let server = FaultServer::start();
    let d = Dirs::new();
    let daemon = Daemon::start(&d.state, &d.dl, &[]);
    for round in 0..5 {
        let path = format!("/w{round}.bin");
        server.put(
            &path,
            Resource::pattern(9, 8 << 20).with_rate_limit(1 << 20),
        );
        let g = daemon.call("aria2.addUri", json!([[server.url(&path)]]));
        let g = g.as_str().unwrap().to_owned();
        daemon.wait_status(&g, "active", 10);
        assert_eq!(daemon.call("aria2.remove", json!([g])), json!(g));
        assert_eq!(
            daemon.call("aria2.purgeDownloadResult", json!([])),
            json!("OK")
        );
        assert_eq!(
            daemon.call("aria2.tellStopped", json!([0, 100, ["gid"]])),
            json!([]),
            "round {round}"
        );
        let r = daemon.request(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "aria2.tellStatus", "params": [g]}),
        );
        assert!(r.get("error").is_some(), "round {round}: {r}");
    }
    // The purged records stay gone after a restart.
    drop(daemon);
    let daemon = Daemon::start(&d.state, &d.dl, &[]);
    assert_eq!(
        daemon.call("aria2.tellStopped", json!([0, 100, ["gid"]])),
        json!([])
    );
}

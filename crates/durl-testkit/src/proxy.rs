//! Two small proxies for tests, on `127.0.0.1:0`, each on its own threads and stopped when
//! dropped: [`Proxy::http`], a forward HTTP proxy without `CONNECT` (it takes absolute-form
//! requests, RFC 9112 §3.2.2, and asks the origin with `Connection: close`), and
//! [`Proxy::socks5`], a SOCKS5 server (RFC 1928) without authentication that connects to
//! IPv4 addresses and to names (resolved here). Each records what it was asked for.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What a client asked a proxy for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// HTTP: the request target (`http://host:port/path`); SOCKS5: `host:port` as sent
    /// (a name for `socks5h`, an address for `socks5`).
    pub target: String,
    /// HTTP: the `Proxy-Authorization` header, if any.
    pub proxy_authorization: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Http,
    Socks5,
}

/// A running proxy; stopped (its listener closed, its thread joined) on drop.
#[derive(Debug)]
pub struct Proxy {
    kind: Kind,
    addr: std::net::SocketAddr,
    asked: Arc<Mutex<Vec<Asked>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A forward HTTP proxy (no `CONNECT`: plain `http://` origins only).
    pub fn http() -> Proxy {
        Proxy::start(Kind::Http)
    }

    /// A SOCKS5 proxy without authentication.
    pub fn socks5() -> Proxy {
        Proxy::start(Kind::Socks5)
    }

    fn start(kind: Kind) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, s) = (asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let a = a.clone();
                // Each connection ends when either side closes.
                std::thread::spawn(move || {
                    let _ = match kind {
                        Kind::Http => serve_http(conn, &a),
                        Kind::Socks5 => serve_socks5(conn, &a),
                    };
                });
            }
        });
        Proxy {
            kind,
            addr,
            asked,
            stop,
            thread: Some(thread),
        }
    }

    /// The proxy's URL: `http://127.0.0.1:PORT` or `socks5://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = match self.kind {
            Kind::Http => "http",
            Kind::Socks5 => "socks5",
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The proxy's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// What clients asked for, in order.
    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Copies `from` to `to` until EOF, then shuts `to`'s write side.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// One forward-proxy connection: one request (then `Connection: close` both ways).
fn serve_http(client: TcpStream, asked: &Mutex<Vec<Asked>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target, version) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or("HTTP/1.1").to_owned(),
    );
    let mut headers = Vec::new();
    let mut proxy_authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        let (name, value) = h.split_once(':').unwrap_or((h.as_str(), ""));
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "proxy-authorization" => proxy_authorization = Some(value.trim().to_owned()),
            "connection" | "proxy-connection" | "keep-alive" => {}
            _ => headers.push(h.trim_end().to_owned()),
        }
    }
    asked
        .lock()
        .map_err(|_| std::io::Error::other("poisoned"))?
        .push(Asked {
            target: target.clone(),
            proxy_authorization,
        });
    // RFC 9112 §3.2.2: an absolute-form target; the origin gets the origin form.
    let rest = target.strip_prefix("http://").unwrap_or(&target);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let port_added = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let Some(addr) = port_added.to_socket_addrs()?.next() else {
        return Ok(());
    };
    let mut origin = match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(o) => o,
        Err(_) => {
            let mut c = client;
            c.write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )?;
            return Ok(());
        }
    };
    let mut head = format!("{method} {path} {version}\r\n");
    for h in headers {
        head.push_str(&h);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    origin.write_all(head.as_bytes())?;
    // Whatever the client sends after its head (a body) goes on as is.
    let buffered = reader.buffer().to_vec();
    origin.write_all(&buffered)?;
    let up = {
        let (from, to) = (client.try_clone()?, origin.try_clone()?);
        std::thread::spawn(move || pump(from, to))
    };
    pump(origin, client);
    let _ = up.join();
    Ok(())
}

/// One SOCKS5 connection (RFC 1928 §3, §4, §6): no authentication, `CONNECT` only.
fn serve_socks5(mut client: TcpStream, asked: &Mutex<Vec<Asked>>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut greeting = [0u8; 2];
    client.read_exact(&mut greeting)?;
    let mut methods = vec![0u8; usize::from(greeting[1])];
    client.read_exact(&mut methods)?;
    if greeting[0] != 5 || !methods.contains(&0) {
        client.write_all(&[5, 0xff])?;
        return Ok(());
    }
    client.write_all(&[5, 0])?;
    let mut request = [0u8; 4];
    client.read_exact(&mut request)?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip)?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len)?;
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => {
            // Address type not supported.
            client.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0])?;
            return Ok(());
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    asked
        .lock()
        .map_err(|_| std::io::Error::other("poisoned"))?
        .push(Asked {
            target: format!("{host}:{port}"),
            proxy_authorization: None,
        });
    let origin = (host.as_str(), port)
        .to_socket_addrs()?
        .find(|a| a.is_ipv4())
        .and_then(|a| TcpStream::connect_timeout(&a, Duration::from_secs(5)).ok());
    let Some(origin) = origin.filter(|_| request[1] == 1) else {
        // General failure (or a command other than CONNECT).
        client.write_all(&[5, 1, 0, 1, 0, 0, 0, 0, 0, 0])?;
        return Ok(());
    };
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    client.set_read_timeout(None)?;
    let up = {
        let (from, to) = (client.try_clone()?, origin.try_clone()?);
        std::thread::spawn(move || pump(from, to))
    };
    pump(origin, client);
    let _ = up.join();
    Ok(())
}

//! Test harness: an in-process server on 127.0.0.1:0, a raw HTTP/1.1 client, fixtures.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use durl_serve::{Config, ServeError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Upper bound for any single test.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `test` with the [`TEST_TIMEOUT`] bound.
pub async fn bounded<F: Future>(test: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, test)
        .await
        .expect("test exceeded its time bound")
}

/// Deterministic content of `len` bytes.
pub fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(7) % 251) as u8).collect()
}

/// A running server and the directory it serves.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Owns the temporary directory tree; the served root is `root`.
    _base: tempfile::TempDir,
    /// The served directory (`base/www`).
    pub root: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Server {
    /// A fresh `base/www` root, filled by `fill`, served with `configure(Config::new(root))`.
    pub async fn start(fill: impl FnOnce(&Path), configure: impl FnOnce(Config) -> Config) -> Self {
        let base = tempfile::tempdir().expect("temp dir");
        let root = base.path().join("www");
        std::fs::create_dir(&root).unwrap();
        fill(&root);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let config = configure(Config::new(&root));
        let task = tokio::spawn(durl_serve::run(listener, config, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            _base: base,
            root,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A server for a root holding `files` (name, content), with the default config.
    pub async fn with_files(files: &[(&str, &[u8])]) -> Self {
        let files: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(n, c)| ((*n).to_owned(), c.to_vec()))
            .collect();
        Self::start(move |root| write_files(root, &files), |c| c).await
    }

    /// The temporary directory holding the root (`base/www`), and the default upload
    /// directory (`base/www/.durl-uploads`).
    pub fn base(&self) -> &Path {
        self._base.path()
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Starts shutdown and waits for `run` to return; returns how long that took.
    pub async fn stop(mut self) -> Duration {
        let started = std::time::Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("server did not stop")
            .expect("server task panicked")
            .expect("server returned an error");
        started.elapsed()
    }

    /// Starts shutdown without waiting.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for `run` to return after [`Server::begin_stop`].
    pub async fn join(mut self) {
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(15), task)
            .await
            .expect("server did not stop")
            .expect("server task panicked")
            .expect("server returned an error");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Writes `files` below `root`, creating parent directories.
pub fn write_files(root: &Path, files: &[(String, Vec<u8>)]) {
    for (name, data) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    }
}

/// A reqwest client with a per-request timeout and no proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A parsed raw HTTP/1.1 response.
#[derive(Debug)]
pub struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header fields, names lowercased, in order.
    pub headers: Vec<(String, String)>,
    /// Content (per Content-Length; empty for HEAD/304/204).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `request` bytes as they are on a new connection and reads one response (the server
/// is expected to close or the request to carry `Connection: close` when the body length is
/// unknown). `head` says the response has no body.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut reader = RawReader::new(stream);
    reader.response(false).await.expect("a response")
}

/// Reads HTTP/1.1 responses off one connection.
pub struct RawReader {
    /// The connection.
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl RawReader {
    /// Wraps a connection.
    pub fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads one response; `None` if the connection closed before a complete head. `head`:
    /// the request was HEAD (no body follows whatever Content-Length says).
    pub async fn response(&mut self, head: bool) -> Option<RawResponse> {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head_text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let mut lines = head_text.split("\r\n");
        let status_line = lines.next()?;
        let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = if head || status == 304 || status == 204 {
            0
        } else {
            headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        while self.buf.len() < len {
            if !self.fill().await {
                return None;
            }
        }
        let body = self.buf.drain(..len).collect();
        Some(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// Whether the server closed the connection (EOF or reset) within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut scratch = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut scratch)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = vec![0u8; 64 * 1024];
        match tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk)).await {
            Ok(Ok(0) | Err(_)) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(_) => panic!("raw read timed out"),
        }
    }
}

/// Position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A GET for `target` with `Connection: close`.
pub fn get(target: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").into_bytes()
}

/// Asserts the server still answers an ordinary request.
pub async fn assert_still_serving(server: &Server, path: &str) {
    let response = raw(server.addr, &get(path)).await;
    assert_eq!(
        response.status, 200,
        "server must keep answering after a bad request"
    );
}

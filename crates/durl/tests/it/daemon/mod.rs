//! `durl daemon` end to end: the real binary, driven over its JSON-RPC, killed with SIGKILL
//! and restarted on the same state directory.

mod crash; // kill -9 mid-downloads, just after an addUri, and at 20 moments under load
mod queue; // durl queue add/list/pause/resume/remove against the real binary
mod rpc; // the aria2 methods against the real binary

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::durl;

/// A running `durl daemon` on 127.0.0.1 (port 0), stopped (SIGKILL) when dropped.
pub struct Daemon {
    child: Child,
    /// `host:port`.
    pub addr: String,
    /// The `--secret` it was started with, sent by [`Daemon::call`].
    token: Option<String>,
}

impl Daemon {
    /// Starts `durl daemon` with `state` and `dir` and extra arguments; waits for its URL.
    pub fn start(state: &Path, dir: &Path, extra: &[&str]) -> Daemon {
        let mut child = durl(dir)
            .args(["daemon", "--port", "0", "--state-dir"])
            .arg(state)
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("durl daemon starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_owned();
        let token = extra
            .iter()
            .position(|a| *a == "--secret")
            .and_then(|at| extra.get(at + 1))
            .map(|s| format!("token:{s}"));
        Daemon { child, addr, token }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One JSON-RPC call over HTTP POST (with the token of `--secret`, if started with one);
    /// the `result`, or panics on an error answer.
    pub fn call(&self, method: &str, mut params: Value) -> Value {
        if let (Some(token), Some(list)) = (&self.token, params.as_array_mut()) {
            list.insert(0, json!(token));
        }
        let answer =
            self.request(&json!({"jsonrpc": "2.0", "id": "t", "method": method, "params": params}));
        match answer.get("result") {
            Some(r) => r.clone(),
            None => panic!("{method} {params}: {answer}"),
        }
    }

    /// Posts `body`; the parsed answer (or an error if the connection failed).
    pub fn try_request(&self, body: &Value) -> std::io::Result<Value> {
        post(&self.addr, body)
    }

    /// Posts `body`; the parsed answer.
    pub fn request(&self, body: &Value) -> Value {
        self.try_request(body).expect("the daemon answers")
    }

    /// `tellStatus(gid)`.
    pub fn status(&self, gid: &str) -> Value {
        self.call("aria2.tellStatus", json!([gid]))
    }

    /// Polls `tellStatus` until `status` is `want` (panics after `secs`).
    pub fn wait_status(&self, gid: &str, want: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status(gid);
            if s["status"] == want {
                return s;
            }
            assert!(Instant::now() < deadline, "{gid} never became {want}: {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL and reap.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself (after SIGTERM or `aria2.shutdown`).
    pub fn wait_exit(mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the daemon did not exit within {secs} s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 POST of JSON to `/jsonrpc` (Connection: close), for tests only.
pub fn post(addr: &str, body: &Value) -> std::io::Result<Value> {
    let body = body.to_string();
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "POST /jsonrpc HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("HTTP answer: {head}")));
    }
    serde_json::from_str(body).map_err(std::io::Error::other)
}

/// A fresh state directory and download directory.
pub struct Dirs {
    _tmp: tempfile::TempDir,
    /// The state directory.
    pub state: PathBuf,
    /// The download directory.
    pub dl: PathBuf,
}

impl Dirs {
    pub fn new() -> Dirs {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let dl = tmp.path().join("dl");
        std::fs::create_dir_all(&dl).unwrap();
        Dirs {
            state,
            dl,
            _tmp: tmp,
        }
    }
}

//! `durl serve` as a user runs it: the URL on stdout, Range answers over a raw socket, the
//! access log, SIGTERM, bad arguments; and `durl get` against `durl serve`, both the real
//! binary, interrupted by SIGKILL and resumed, also with the file changed in between.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use durl_testkit::pattern_bytes;

use crate::{durl, signal};

const SEED: u64 = 11;

pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits up to `limit` for `child` to exit; kills it and fails the test if it does not.
pub(crate) fn wait_within(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running `durl serve DIR --port 0` (or another port), killed on drop.
pub(crate) struct Serve {
    pub(crate) child: Child,
    /// Kept open so that the server never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    /// `http://127.0.0.1:PORT/`, from the first stdout line.
    pub(crate) url: String,
    pub(crate) addr: String,
}

impl Serve {
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Self {
        Self::start_cmd(durl(dir), dir, extra)
    }

    pub(crate) fn start_cmd(cmd: Command, dir: &Path, extra: &[&str]) -> Self {
        Self::start_on(cmd, dir, 0, extra)
    }

    /// On `port` (0: one the system picks), e.g. to restart where a killed one was.
    pub(crate) fn start_on(mut cmd: Command, dir: &Path, port: u16, extra: &[&str]) -> Self {
        let mut child = cmd
            .arg("serve")
            .arg(dir)
            .args(["--port", &port.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        // The URL is printed once the socket listens; read_line returns at EOF too (exit).
        stdout.read_line(&mut line).unwrap();
        let Some(url) = line
            .trim_end()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
        else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("no URL in {line:?}: {}", text(&out.stderr));
        };
        assert!(line.starts_with("Serving "), "{line}");
        let url = url.to_owned();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Self {
            child,
            _stdout: stdout,
            url,
            addr,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.url, path.trim_start_matches('/'))
    }

    /// SIGTERM, then the exit status and everything written on stderr.
    pub(crate) fn terminate(mut self, limit: Duration) -> (ExitStatus, String, Duration) {
        let started = Instant::now();
        signal(self.child.id(), "TERM");
        let status = wait_within(&mut self.child, limit);
        let took = started.elapsed();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status, stderr, took)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer read off a raw socket.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `GET path` with `headers` over a fresh connection (`Connection: close`) and reads
/// the whole answer.
pub(crate) fn raw_get(addr: &str, path: &str, headers: &[&str]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", text(&raw)));
    let head = text(&raw[..split]);
    let body = raw[split + 4..].to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Answer { status, head, body }
}

#[test]
fn answers_a_range_logs_it_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let content = pattern_bytes(SEED, 0..100_000);
    std::fs::write(dir.path().join("file.bin"), &content).unwrap();
    let server = Serve::start(dir.path(), &[]);
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );

    let answer = raw_get(&server.addr, "/file.bin", &["Range: bytes=1000-1999"]);
    assert_eq!(answer.status, 206, "{}", answer.head);
    assert_eq!(
        answer.header("content-range"),
        Some("bytes 1000-1999/100000")
    );
    assert_eq!(answer.header("content-length"), Some("1000"));
    assert_eq!(answer.header("accept-ranges"), Some("bytes"));
    assert!(answer.header("etag").is_some_and(|e| e.starts_with('"')));
    assert_eq!(answer.body, &content[1000..2000]);

    // A suffix range, and the whole file.
    let answer = raw_get(&server.addr, "/file.bin", &["Range: bytes=-10"]);
    assert_eq!(answer.status, 206);
    assert_eq!(
        answer.header("content-range"),
        Some("bytes 99990-99999/100000")
    );
    assert_eq!(answer.body, &content[99_990..]);
    let answer = raw_get(&server.addr, "/file.bin", &[]);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, content);

    let (status, stderr, took) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let ranged: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("\"GET /file.bin HTTP/1.1\" 206 1000"))
        .collect();
    assert_eq!(ranged.len(), 1, "{stderr}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("\"GET /file.bin HTTP/1.1\""))
            .count(),
        3,
        "one access-log line per request: {stderr}"
    );
}

#[test]
fn the_access_log_has_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
    let mut cmd = durl(dir.path());
    cmd.env_remove("NO_COLOR");
    let server = Serve::start_cmd(cmd, dir.path(), &[]);
    assert_eq!(raw_get(&server.addr, "/a.txt", &[]).status, 200);
    let (status, stderr, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(stderr.contains("\"GET /a.txt HTTP/1.1\" 200 5"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
}

#[test]
fn quiet_writes_no_access_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
    let server = Serve::start(dir.path(), &["--quiet"]);
    let answer = raw_get(&server.addr, "/a.txt", &["Range: bytes=1-"]);
    assert_eq!(answer.status, 206);
    assert_eq!(answer.body, b"ello");
    assert_eq!(raw_get(&server.addr, "/missing", &[]).status, 404);
    let (status, stderr, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert_eq!(stderr, "", "nothing on stderr with --quiet");
}

#[test]
fn sigterm_lets_a_transfer_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let len = 8 << 20;
    let content = pattern_bytes(SEED, 0..len);
    std::fs::write(dir.path().join("big.bin"), &content).unwrap();
    let server = Serve::start(dir.path(), &["--quiet"]);

    // Read the head and a little of the body, then signal while the rest is still unsent.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut first = [0u8; 4096];
    let n = stream.read(&mut first).unwrap();
    assert!(n > 0);
    let started = Instant::now();
    signal(server.child.id(), "TERM");
    let mut raw = first[..n].to_vec();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    assert_eq!(raw[split + 4..], content[..], "the whole body, then close");
    let mut server = server;
    let status = wait_within(&mut server.child, Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn basic_auth_is_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"secret").unwrap();
    let server = Serve::start(dir.path(), &["--quiet", "--auth", "user:pw"]);
    let answer = raw_get(&server.addr, "/a.txt", &[]);
    assert_eq!(answer.status, 401);
    assert!(answer.header("www-authenticate").is_some());
    // base64("user:pw") = "dXNlcjpwdw=="
    let answer = raw_get(
        &server.addr,
        "/a.txt",
        &["Authorization: Basic dXNlcjpwdw=="],
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, b"secret");
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plain.txt"), b"x").unwrap();
    let cases: [&[&str]; 3] = [
        &["serve", "/nonexistent", "--port", "0"],
        &["serve", ".", "--port", "0", "--auth", "nocolon"],
        &["serve", "plain.txt", "--port", "0"],
    ];
    for args in cases {
        let mut child = durl(dir.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Bounded: a server that wrongly started is killed by wait_within.
        let status = wait_within(&mut child, Duration::from_secs(10));
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("durl: "), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

// ---- durl get against durl serve ----

/// `durl get -q -o out URL` run to the end.
fn get(dir: &Path, url: &str, extra: &[&str]) -> std::process::Output {
    let mut child = durl(dir)
        .arg("get")
        .args(extra)
        .args(["-o", "out.bin", url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_within(&mut child, Duration::from_secs(120));
    child.wait_with_output().unwrap()
}

#[test]
fn get_downloads_from_serve() {
    let www = tempfile::tempdir().unwrap();
    let content = pattern_bytes(SEED, 0..(3 << 20) + 123);
    std::fs::write(www.path().join("file.bin"), &content).unwrap();
    let server = Serve::start(www.path(), &["--quiet"]);
    let dir = tempfile::tempdir().unwrap();
    let out = get(dir.path(), &server.url("file.bin"), &["-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(dir.path().join("out.bin")).unwrap() == content);
    assert!(!dir.path().join("out.bin.durl-part").exists());
    assert!(!dir.path().join("out.bin.durl-state").exists());
}

/// Starts `durl get` on a large file and SIGKILLs it as soon as its part file holds bytes
/// and a checkpoint has recorded them (the state file changed after the part grew). Returns
/// the part file's length at the kill.
fn get_and_kill(dir: &Path, url: &str) -> u64 {
    let part = dir.join("out.bin.durl-part");
    let state = dir.join("out.bin.durl-state");
    let mut child = durl(dir)
        .args([
            "get",
            "-q",
            "--checkpoint-interval",
            "0.1",
            // Slow enough that the kill lands mid-transfer, after a checkpoint.
            "--limit-rate",
            "16M",
            "-o",
            "out.bin",
            url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut state_when_part_grew: Option<Option<Vec<u8>>> = None;
    loop {
        let len = std::fs::metadata(&part).map_or(0, |m| m.len());
        if len > 0 {
            let now = std::fs::read(&state).ok();
            match &state_when_part_grew {
                None => state_when_part_grew = Some(now),
                Some(before) if now.is_some() && *before != now => break,
                Some(_) => {}
            }
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        !status.success() && !dir.join("out.bin").exists(),
        "durl get finished before it could be killed; make the file larger"
    );
    std::fs::metadata(&part).map_or(0, |m| m.len())
}

/// A 64 MiB file of a deterministic pattern: large enough that the kill lands mid-transfer.
const BIG: u64 = 64 << 20;

fn big_file(www: &Path, seed: u64) -> (PathBuf, Vec<u8>) {
    let path = www.join("big.bin");
    let content = pattern_bytes(seed, 0..BIG);
    std::fs::write(&path, &content).unwrap();
    (path, content)
}

#[test]
fn get_killed_then_rerun_resumes_against_serve() {
    let www = tempfile::tempdir().unwrap();
    let (_, content) = big_file(www.path(), SEED);
    let server = Serve::start(www.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    let part = get_and_kill(dir.path(), &server.url("big.bin"));
    assert!(part > 0);

    let out = get(dir.path(), &server.url("big.bin"), &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resumed at"), "{stderr}");
    assert!(!stderr.contains("changed"), "{stderr}");
    assert!(std::fs::read(dir.path().join("out.bin")).unwrap() == content);
    assert!(!dir.path().join("out.bin.durl-part").exists());

    // The server saw the resume as a Range request answered 206.
    let (status, log, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0));
    assert!(
        log.lines()
            .any(|l| l.contains("\"GET /big.bin HTTP/1.1\" 206")),
        "{log}"
    );
}

#[test]
fn get_notices_a_file_changed_on_the_server_between_runs() {
    let www = tempfile::tempdir().unwrap();
    let (path, old) = big_file(www.path(), SEED);
    let server = Serve::start(www.path(), &["--quiet"]);
    let dir = tempfile::tempdir().unwrap();
    assert!(get_and_kill(dir.path(), &server.url("big.bin")) > 0);

    // New content, same length, later mtime: only the validators can tell.
    let new = pattern_bytes(SEED + 1, 0..BIG);
    assert!(new != old);
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::fs::write(&path, &new).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(mtime.max(SystemTime::now()) + Duration::from_secs(5))
        .unwrap();
    drop(file);

    let out = get(dir.path(), &server.url("big.bin"), &[]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("changed"), "{stderr}");
    let got = std::fs::read(dir.path().join("out.bin")).unwrap();
    assert!(got == new, "the new content, not a mix");
}

// ---- uploads (tus) ----

/// Sends `head` (request line and fields, without the blank line) and `body` over a fresh
/// connection with `Connection: close`, and reads the whole answer.
fn raw_request(addr: &str, head: &str, body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", text(&raw)));
    let head = text(&raw[..split]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Answer {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

/// The offset recorded in an upload's info file (0 if unreadable).
fn recorded_offset(info: &Path) -> u64 {
    std::fs::read_to_string(info)
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("offset ").map(|v| v.parse().unwrap()))
        })
        .unwrap_or(0)
}

#[test]
fn an_upload_survives_sigkill_mid_patch_and_completes_after_restart() {
    let base = tempfile::tempdir().unwrap();
    let www = base.path().join("www");
    let up = base.path().join("up");
    std::fs::create_dir(&www).unwrap();
    let len: u64 = 8 << 20;
    let content = pattern_bytes(SEED, 0..len);
    let up_arg = up.to_str().unwrap();
    let args = ["--quiet", "--upload", "--upload-dir", up_arg];
    let mut server = Serve::start(&www, &args);

    // base64("crash.bin") = "Y3Jhc2guYmlu"
    let created = raw_request(
        &server.addr,
        &format!(
            "POST /.durl/uploads/ HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {len}\r\n\
             Upload-Metadata: filename Y3Jhc2guYmlu\r\nContent-Length: 0"
        ),
        b"",
    );
    assert_eq!(created.status, 201, "{}", created.head);
    let location = created.header("location").unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();
    let info = up.join(format!("{id}.info"));
    let data = up.join(format!("{id}.data"));

    // A PATCH for the whole file; its body keeps coming until a checkpoint is on disk,
    // then a little more, and then the server is killed in the middle of it.
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    write!(
        stream,
        "PATCH {location} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n\
         Content-Length: {len}\r\n\r\n"
    )
    .unwrap();
    let mut sent = 1 << 20;
    stream.write_all(&content[..sent]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while recorded_offset(&info) == 0 {
        assert!(Instant::now() < deadline, "no checkpoint within 20 s");
        stream.write_all(&content[sent..sent + 65536]).unwrap();
        sent += 65536;
        std::thread::sleep(Duration::from_millis(50));
    }
    stream.write_all(&content[sent..sent + (1 << 20)]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    signal(server.child.id(), "KILL");
    wait_within(&mut server.child, Duration::from_secs(10));
    drop(stream);
    drop(server);

    // What the server left: the offset it recorded never exceeds the bytes on disk.
    let on_disk = std::fs::metadata(&data).unwrap().len();
    let recorded = recorded_offset(&info);
    assert!(
        recorded > 0 && recorded <= on_disk,
        "{recorded} > {on_disk}"
    );
    assert!(!www.join("crash.bin").exists());

    let server = Serve::start(&www, &args);
    let head = raw_request(
        &server.addr,
        &format!("HEAD {location} HTTP/1.1\r\nTus-Resumable: 1.0.0"),
        b"",
    );
    assert_eq!(head.status, 200, "{}", head.head);
    let offset: u64 = head.header("upload-offset").unwrap().parse().unwrap();
    assert!(
        offset > 0 && offset <= on_disk,
        "HEAD {offset}, on disk {on_disk}"
    );
    assert_eq!(head.header("upload-length"), Some(len.to_string().as_str()));

    let start = usize::try_from(offset).unwrap();
    let done = raw_request(
        &server.addr,
        &format!(
            "PATCH {location} HTTP/1.1\r\nTus-Resumable: 1.0.0\r\n\
             Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\n\
             Content-Length: {}",
            len - offset
        ),
        &content[start..],
    );
    assert_eq!(done.status, 204, "{}", done.head);
    assert_eq!(done.header("upload-offset"), Some(len.to_string().as_str()));
    assert!(std::fs::read(www.join("crash.bin")).unwrap() == content);
    assert!(!data.exists(), "the data file became crash.bin");
    let (status, stderr, _) = server.terminate(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "{stderr}");
}

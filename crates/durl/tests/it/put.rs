//! `durl put` end to end against a real vsftpd: kill -9 mid-upload then resume, refusals and
//! their exit codes, FTPS with --cacert and -k.

use std::time::{Duration, Instant};

use durl_testkit::{Vsftpd, VsftpdOptions, pattern_bytes};

use crate::durl;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn upload_server(tls: bool) -> Vsftpd {
    Vsftpd::start_with(VsftpdOptions { upload: true, tls })
}

#[test]
fn kill_9_mid_upload_then_the_same_command_completes_it() {
    let len: u64 = 6 << 20;
    let server = upload_server(false);
    let dir = tempfile::tempdir().unwrap();
    let data = pattern_bytes(21, 0..len);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let url = server.url("up/big.bin");
    let remote = server.root().join("up/big.bin");

    let mut child = durl(dir.path())
        .args(["put", "-q", "--limit-rate", "2M", "big.bin", &url])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&remote).map_or(0, |m| m.len()) < 1 << 20 {
        assert!(Instant::now() < deadline, "the upload never reached 1 MiB");
        assert!(child.try_wait().unwrap().is_none(), "durl put ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = server.wait_transfers(true, 1)[0];
    assert!(partial >= 1 << 20 && partial < len, "partial {partial}");

    let out = durl(dir.path())
        .args(["put", "big.bin", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(server.read("up/big.bin").unwrap() == data, "exact bytes");
    assert_eq!(server.wait_transfers(true, 2), [partial, len - partial]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("big.bin") && stderr.contains("resumed at"),
        "{stderr}"
    );

    // Once more: already complete, exit 0, nothing sent.
    let out = durl(dir.path())
        .args(["put", "big.bin", &url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("already complete"));
    assert_eq!(server.transfers(true).len(), 2);
}

#[test]
fn refusals_and_bad_arguments_have_their_exit_codes() {
    let server = upload_server(false);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f.bin"), pattern_bytes(22, 0..100_000)).unwrap();
    let run = |args: &[&str]| durl(dir.path()).args(args).output().unwrap();

    // A longer remote file: exit 7 and a hint, untouched; --force replaces it.
    server.put("up/f.bin", &pattern_bytes(22, 0..200_000));
    let out = run(&["put", "f.bin", &server.url("up/f.bin")]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.read("up/f.bin").unwrap().len(), 200_000);
    let out = run(&["put", "-q", "--force", "f.bin", &server.url("up/f.bin")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        server.read("up/f.bin").unwrap(),
        pattern_bytes(22, 0..100_000)
    );

    // Other schemes are a usage error.
    let out = run(&["put", "f.bin", "gopher://127.0.0.1:1/f.bin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unsupported scheme"));
    // A wrong login: exit 11, without the password.
    let url = server
        .url("up/g.bin")
        .replace("ftp://", "ftp://bob:hunter2@");
    let out = run(&["put", "--retries", "0", "f.bin", &url]);
    assert_eq!(out.status.code(), Some(11), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("hunter2"));
    // A missing local file: exit 3.
    let out = run(&["put", "nope.bin", &server.url("up/")]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn ftp_ssl_needs_a_trusted_certificate_or_insecure() {
    let server = upload_server(true);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), server.cert_pem().unwrap()).unwrap();
    std::fs::write(dir.path().join("f.bin"), pattern_bytes(23, 0..300_000)).unwrap();
    let url = server.url("up/f.bin");
    let run = |args: &[&str]| durl(dir.path()).args(args).output().unwrap();

    let out = run(&["put", "--ftp-ssl", "--retries", "0", "f.bin", &url]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("TLS"), "{}", text(&out.stderr));
    let out = run(&[
        "put",
        "-q",
        "--ftp-ssl",
        "--cacert",
        "ca.pem",
        "f.bin",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        server.read("up/f.bin").unwrap(),
        pattern_bytes(23, 0..300_000)
    );
    // durl get takes the same options.
    let out = run(&["get", "-q", "--ftp-ssl", "-o", "back.bin", &url]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let out = run(&["get", "-q", "--ftp-ssl", "-k", "-o", "back.bin", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("back.bin")).unwrap(),
        pattern_bytes(23, 0..300_000)
    );
}

/// `durl serve DIR --upload -q --port 0` (the real binary); killed when dropped.
struct UploadServe {
    child: std::process::Child,
    addr: String,
}

impl UploadServe {
    fn start(dir: &std::path::Path) -> Self {
        use std::io::BufRead as _;
        let mut child = durl(dir)
            .args(["serve", "www", "--upload", "-q", "--port", "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .trim_end()
            .rsplit(' ')
            .next()
            .and_then(|u| u.strip_prefix("http://"))
            .map(|a| a.trim_end_matches('/').to_owned());
        let Some(addr) = addr else {
            let _ = child.kill();
            panic!("no URL in {line:?}");
        };
        Self { child, addr }
    }

    /// The `Upload-Offset` a `HEAD` on `url` reports (0 if none).
    fn offset(&self, url: &str) -> u64 {
        use std::io::{Read as _, Write as _};
        let path = url.split_once(&self.addr).map_or("/", |(_, p)| p);
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        let head = format!(
            "HEAD {path} HTTP/1.1\r\nHost: {}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        s.write_all(head.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("upload-offset")
                    .then(|| v.trim().parse().ok())
                    .flatten()
            })
            .unwrap_or(0)
    }
}

impl Drop for UploadServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tus_upload_killed_with_9_continues_where_the_server_is() {
    // Checksummed chunks of about a second of sending (1, 2, 4, 8 MiB… at 16 MiB/s): 3 s of
    // sending, killed after the first few chunks.
    let len: u64 = 48 << 20;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("www")).unwrap();
    let data = pattern_bytes(31, 0..len);
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let server = UploadServe::start(dir.path());
    let endpoint = format!("http://{}/.durl/uploads/", server.addr);
    let state = dir.path().join("big.bin.durl-upload");

    let mut child = durl(dir.path())
        .args(["put", "-q", "--limit-rate", "16M", "big.bin", &endpoint])
        .spawn()
        .unwrap();
    // Kill once the server holds the first chunks.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "the upload never reached 8 MiB");
        assert!(child.try_wait().unwrap().is_none(), "durl put ended early");
        let upload = std::fs::read_to_string(&state).ok().and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("upload ").map(str::to_owned))
        });
        if upload.is_some_and(|u| server.offset(&u) >= 8 << 20) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(!dir.path().join("www/big.bin").exists());

    let out = durl(dir.path())
        .args(["put", "big.bin", &endpoint])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("resumed at"), "{stderr}");
    assert!(
        std::fs::read(dir.path().join("www/big.bin")).unwrap() == data,
        "exact bytes"
    );
    assert!(!state.exists(), "the state is removed at the end");
}

#[test]
fn tus_meta_places_the_upload_and_bad_pairs_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("www/photos")).unwrap();
    std::fs::write(dir.path().join("f.bin"), pattern_bytes(33, 0..70_000)).unwrap();
    let server = UploadServe::start(dir.path());
    let endpoint = format!("http://{}/.durl/uploads/", server.addr);
    let run = |args: &[&str]| durl(dir.path()).args(args).output().unwrap();
    // `durl put -q --force` (each run uploads again) of f.bin with these metadata pairs.
    let put = |pairs: &[&str]| {
        let mut args = vec!["put", "-q", "--force"];
        for pair in pairs {
            args.extend(["--meta", pair]);
        }
        run(&[&args[..], &["f.bin", &endpoint]].concat())
    };

    // durl serve's `directory` puts the file there; `filename` names it.
    let out = put(&["directory=/photos"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let landed = std::fs::read(dir.path().join("www/photos/f.bin")).unwrap();
    assert!(landed == pattern_bytes(33, 0..70_000));
    assert!(!dir.path().join("www/f.bin").exists());
    let out = put(&["directory=/photos", "filename=g.bin"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("www/photos/g.bin").exists());
    // A taken name is exit 7 (409), unless `onconflict=keep` asks for a numbered name.
    let out = put(&["directory=/photos"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    let out = put(&["directory=/photos", "onconflict=keep"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let names: Vec<String> = std::fs::read_dir(dir.path().join("www/photos"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    // A directory that is not there: the server's 404 is exit 4.
    let out = put(&["directory=/nope"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    // A key given again replaces the earlier value (as the command line's over the config's).
    std::fs::create_dir(dir.path().join("www/later")).unwrap();
    let out = put(&["directory=/nope", "directory=/later"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("www/later/f.bin").exists());

    // Bad pairs are usage errors naming the pair, before anything is sent.
    for (pair, says) in [
        ("a b=1", "not a tus metadata key"),
        ("novalue", "not KEY=VALUE"),
    ] {
        let out = run(&["put", "--meta", pair, "f.bin", &endpoint]);
        assert_eq!(out.status.code(), Some(2), "{pair}");
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
    let out = run(&["put", "--meta", "k=1", "f.bin", "ftp://127.0.0.1:9/up/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is FTP"),
        "{}",
        text(&out.stderr)
    );
}

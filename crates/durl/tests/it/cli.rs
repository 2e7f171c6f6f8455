//! The command line people already know (curl, wget and aria2c habits), the config file,
//! completions, the man page, `--help`, and what the progress display says.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;
use durl_testkit::{Fault, FaultServer, Resource, pattern_bytes};

use crate::durl;

const SEED: u64 = 15;

fn server(len: u64) -> FaultServer {
    let server = FaultServer::start();
    server.put("/file.bin", Resource::pattern(SEED, len));
    server
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The values of request header `name` of every GET, in order.
fn sent(server: &FaultServer, name: &str) -> Vec<String> {
    server
        .log()
        .iter()
        .filter(|s| s.method == "GET")
        .flat_map(|s| {
            s.headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn curl_and_wget_flags_are_accepted_and_do_what_they_say() {
    let server = server(50_000);
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args([
            "get",
            "-L",
            "-O",
            "-J",
            "-s",
            "-A",
            "agent/1",
            "-e",
            "http://referrer.invalid/page",
            "--retry",
            "3",
            "-H",
            "X-Twice: one",
            "-H",
            "X-Twice: two",
            &server.url("/file.bin"),
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert!(out.stderr.is_empty(), "-s is silent: {}", text(&out.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("file.bin")).unwrap(),
        pattern_bytes(SEED, 0..50_000)
    );
    assert_eq!(sent(&server, "user-agent"), ["agent/1"]);
    assert_eq!(sent(&server, "referer"), ["http://referrer.invalid/page"]);
    assert_eq!(sent(&server, "x-twice"), ["one", "two"]);

    // --silent and --user-agent, the long forms.
    let out = durl(dir.path())
        .args([
            "get",
            "--silent",
            "--location",
            "--remote-name",
            "--remote-header-name",
        ])
        .args([
            "--referer",
            "http://r.invalid/",
            "-o",
            "b.bin",
            &server.url("/file.bin"),
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn a_repeated_header_goes_to_a_tus_server_twice_too() {
    let root = tempfile::tempdir().unwrap();
    let inbox = root.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let local = root.path().join("up.bin");
    std::fs::write(&local, pattern_bytes(SEED, 0..10_000)).unwrap();
    // A tus endpoint that records headers: the fault server answers with 404, which is
    // enough to see the POST durl sent.
    let server = FaultServer::start();
    let out = durl(root.path())
        .args([
            "put",
            "-q",
            "--retries",
            "0",
            "-H",
            "X-T: 1",
            "-H",
            "X-T: 2",
        ])
        .arg(&local)
        .arg(server.url("/uploads/"))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let log = server.log();
    let post = log.iter().find(|s| s.method == "POST").expect("a POST");
    let values: Vec<_> = post
        .headers
        .iter()
        .filter(|(n, _)| n == "x-t")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(values, ["1", "2"]);
}

#[test]
fn a_range_header_is_refused_before_anything_is_sent() {
    let server = server(1000);
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "-H", "Range: bytes=0-99", &server.url("/file.bin")])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("durl sets range itself"), "{stderr}");
    assert!(server.log().is_empty());
}

#[test]
fn a_missing_dir_is_created_and_an_impossible_one_is_exit_3() {
    let server = server(2000);
    let dir = tempfile::tempdir().unwrap();
    durl(dir.path())
        .args(["get", "-q", "-d", "new/sub", &server.url("/file.bin")])
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read(dir.path().join("new/sub/file.bin")).unwrap(),
        pattern_bytes(SEED, 0..2000)
    );
    std::fs::write(dir.path().join("plain"), b"a file").unwrap();
    let out = durl(dir.path())
        .args(["get", "-q", "-d", "plain/sub", &server.url("/file.bin")])
        .assert()
        .code(3)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot create the directory plain/sub"),
        "{stderr}"
    );
}

#[test]
fn limit_rate_takes_binary_and_si_units_and_refuses_fractions_of_a_byte() {
    let server = server(300_000);
    let dir = tempfile::tempdir().unwrap();
    for (i, rate) in ["500K", "2M", "2MiB", "2MB", "1G"].iter().enumerate() {
        durl(dir.path())
            .args(["get", "-q", "--limit-rate", rate, "-o", &format!("{i}.bin")])
            .arg(server.url("/file.bin"))
            .assert()
            .code(0);
    }
    for bad in ["0.5", "0", "fast", "2XB"] {
        let out = durl(dir.path())
            .args(["get", "--limit-rate", bad, &server.url("/file.bin")])
            .assert()
            .code(2)
            .get_output()
            .clone();
        assert!(
            text(&out.stderr).contains("invalid rate"),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
    // 100KB = 100,000 bytes per second: 300,000 bytes take about 3 s (a lower bound only).
    let t = Instant::now();
    durl(dir.path())
        .args(["get", "-q", "--limit-rate", "100KB", "-o", "slow.bin"])
        .arg(server.url("/file.bin"))
        .assert()
        .code(0);
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn max_time_checkpoints_the_partial_exits_5_and_the_same_command_continues() {
    let server = FaultServer::start();
    server.put(
        "/slow.bin",
        Resource::pattern(SEED, 400_000).with_rate_limit(100_000),
    );
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let out = durl(dir.path())
        .args(["get", "-m", "1", &server.url("/slow.bin")])
        .assert()
        .code(5)
        .get_output()
        .clone();
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--max-time 1 s expired"), "{stderr}");
    assert!(
        stderr.contains("hint: the partial download is kept"),
        "{stderr}"
    );
    assert!(!dir.path().join("slow.bin").exists());
    assert!(dir.path().join("slow.bin.durl-part").exists());
    let first = server.body_bytes_served("/slow.bin");
    durl(dir.path())
        .args(["get", "-q", "--max-time", "60", &server.url("/slow.bin")])
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read(dir.path().join("slow.bin")).unwrap(),
        pattern_bytes(SEED, 0..400_000)
    );
    let second = server.body_bytes_served("/slow.bin") - first;
    assert!(second < 400_000, "the second run continued: {second} bytes");
}

/// Writes `text` as the default config file of a test's working directory.
fn config(cwd: &Path, text: &str) {
    let dir = cwd.join("xdg/durl");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config"), text).unwrap();
}

#[test]
fn the_config_file_sets_defaults_by_section_and_the_command_line_wins() {
    let server = server(3000);
    let dir = tempfile::tempdir().unwrap();
    config(
        dir.path(),
        "# defaults\nquiet = true\n[get]\nuser-agent = from-config\n\
         header = \"X-Conf: 1\"\nlimit-rate = 2M\n[serve]\nport = 9999\n",
    );
    let out = durl(dir.path())
        .args([
            "get",
            "-A",
            "from-cli",
            "-o",
            "a.bin",
            &server.url("/file.bin"),
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert!(
        out.stderr.is_empty(),
        "quiet from the file: {}",
        text(&out.stderr)
    );
    assert_eq!(sent(&server, "user-agent"), ["from-cli"]);
    assert_eq!(sent(&server, "x-conf"), ["1"]);

    // --no-config: none of it.
    let out = durl(dir.path())
        .args([
            "get",
            "--no-config",
            "-o",
            "b.bin",
            &server.url("/file.bin"),
        ])
        .assert()
        .code(0)
        .get_output()
        .clone();
    assert!(!out.stderr.is_empty(), "not quiet");
    assert_eq!(sent(&server, "x-conf"), ["1"]);

    // --config FILE and DURL_CONFIG replace the default file.
    std::fs::write(dir.path().join("other"), "[get]\nheader = X-Other: 2\n").unwrap();
    durl(dir.path())
        .args([
            "get",
            "--config",
            "other",
            "-o",
            "c.bin",
            &server.url("/file.bin"),
        ])
        .assert()
        .code(0);
    durl(dir.path())
        .env("DURL_CONFIG", dir.path().join("other"))
        .args(["get", "-o", "d.bin", &server.url("/file.bin")])
        .assert()
        .code(0);
    assert_eq!(sent(&server, "x-other"), ["2", "2"]);
    assert_eq!(sent(&server, "x-conf"), ["1"]);
}

#[test]
fn a_bad_config_file_is_exit_2_naming_the_file_and_line() {
    let server = server(1000);
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "retries = 3\n[get]\n\nretriess = 4\n");
    let out = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("xdg/durl/config:4: unknown option \"retriess\" for durl get"),
        "{stderr}"
    );
    assert!(server.log().is_empty());

    let out = durl(dir.path())
        .args(["get", "--config", "missing.conf", &server.url("/file.bin")])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read the config file missing.conf"),
        "{stderr}"
    );

    config(dir.path(), "[get]\nretries = many\n");
    let out = durl(dir.path())
        .args(["get", &server.url("/file.bin")])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("config file") && stderr.contains("many"),
        "{stderr}"
    );
}

#[test]
fn completions_are_generated_for_every_shell_and_parse() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, check) in [
        ("bash", Some("bash")),
        ("zsh", Some("zsh")),
        ("fish", Some("fish")),
        ("elvish", None),
        ("powershell", None),
    ] {
        let out = durl(dir.path())
            .args(["completions", shell])
            .assert()
            .code(0)
            .get_output()
            .clone();
        let script = text(&out.stdout);
        assert!(script.contains("limit-rate"), "{shell}: {script}");
        let Some(check) = check else { continue };
        let installed = Command::new(check).arg("-c").arg("true").output().is_ok();
        assert!(
            installed || std::env::var_os("CI").is_none(),
            "{check} is missing: run bash .ci/setup"
        );
        if !installed {
            continue;
        }
        let path = dir.path().join(format!("durl.{shell}"));
        std::fs::write(&path, &script).unwrap();
        let parsed = Command::new(check).arg("-n").arg(&path).output().unwrap();
        assert!(
            parsed.status.success(),
            "{check} -n: {}",
            text(&parsed.stderr)
        );
    }
}

#[test]
fn the_man_pages_render_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let render = |args: &[&str], name: &str| -> String {
        let out = durl(dir.path())
            .args(args)
            .assert()
            .code(0)
            .get_output()
            .clone();
        assert!(text(&out.stdout).contains(&format!(".TH {name} 1")));
        let page = dir.path().join(format!("{name}.1"));
        std::fs::write(&page, &out.stdout).unwrap();
        let rendered = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .expect("man(1) runs (bash .ci/setup installs man-db)");
        assert!(rendered.status.success());
        assert!(
            rendered.stderr.is_empty(),
            "{name}: {}",
            text(&rendered.stderr)
        );
        text(&rendered.stdout)
    };
    let main = render(&["man"], "durl");
    assert!(
        main.contains("Exit codes") && main.contains("completions"),
        "{main}"
    );
    let get = render(&["man", "get"], "durl-get");
    assert!(
        get.contains("--limit-rate") && get.contains("Schemes:"),
        "{get}"
    );
    for sub in ["put", "serve", "daemon", "completions"] {
        render(&["man", sub], &format!("durl-{sub}"));
    }
}

#[test]
fn help_lists_exit_codes_environment_schemes_and_url_forms() {
    let dir = tempfile::tempdir().unwrap();
    let help = text(
        &durl(dir.path())
            .arg("--help")
            .assert()
            .code(0)
            .get_output()
            .stdout,
    );
    for want in [
        "Exit codes:",
        "  5  network failure",
        "130  interrupted by SIGINT",
        "NO_COLOR",
        "NETRC",
        "DURL_CONFIG",
        "HTTPS_PROXY",
        "DURL_LOG",
        "Examples:",
    ] {
        assert!(help.contains(want), "{want:?} in {help}");
    }
    let get = text(
        &durl(dir.path())
            .args(["get", "--help"])
            .assert()
            .code(0)
            .get_output()
            .stdout,
    );
    assert!(get.contains("http://, https:// or ftp://"), "{get}");
    assert!(
        get.contains("-x N the connections per file (aria2c's -x)"),
        "{get}"
    );
    let put = text(
        &durl(dir.path())
            .args(["put", "--help"])
            .assert()
            .code(0)
            .get_output()
            .stdout,
    );
    let forms: Vec<&str> = put
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("ftp://[user") || l.starts_with("http(s)://host"))
        .collect();
    assert_eq!(forms.len(), 3, "one URL form per line: {put}");
}

/// The JSON objects of `--progress=json` on stderr.
fn progress_objects(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn progress_json_has_one_object_per_line_with_name_bytes_total_rate_state() {
    let server = server(400_000);
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "--progress=json", "--limit-rate", "200K"])
        .arg(server.url("/file.bin"))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert!(stderr.lines().all(|l| l.starts_with('{')), "{stderr}");
    let objects = progress_objects(&stderr);
    assert!(objects.len() >= 3, "{stderr}");
    for o in &objects {
        for key in ["name", "bytes", "total", "rate", "state"] {
            assert!(o.get(key).is_some(), "{key} in {o}");
        }
        assert_eq!(o["name"], "file.bin");
    }
    assert_eq!(objects[0]["state"], "connecting");
    let last = objects.last().unwrap();
    assert_eq!(last["state"], "done");
    assert_eq!(last["bytes"], 400_000);
    assert_eq!(last["total"], 400_000);
    let bytes: Vec<u64> = objects
        .iter()
        .map(|o| o["bytes"].as_u64().unwrap())
        .collect();
    assert!(bytes.windows(2).all(|w| w[0] <= w[1]), "{bytes:?}");
    assert!(
        objects
            .iter()
            .any(|o| o["state"] == "transferring" && o["rate"].as_u64().unwrap() > 0),
        "{stderr}"
    );
}

#[test]
fn after_a_resume_the_rate_counts_only_this_runs_bytes() {
    let server = server(3_000_000);
    let dir = tempfile::tempdir().unwrap();
    // About 2 MB in the first run.
    durl(dir.path())
        .args(["get", "-q", "--limit-rate", "1M", "-m", "2"])
        .arg(server.url("/file.bin"))
        .assert()
        .code(5);
    let out = durl(dir.path())
        .args(["get", "--progress=json", "--limit-rate", "100K", "-m", "3"])
        .arg(server.url("/file.bin"))
        .assert()
        .code(5)
        .get_output()
        .clone();
    let objects = progress_objects(&text(&out.stderr));
    let resumed = objects
        .iter()
        .find(|o| o["state"] == "transferring")
        .expect("a transferring object");
    assert!(resumed["bytes"].as_u64().unwrap() > 500_000, "{resumed}");
    // 100K is 102,400 bytes/s: the resumed bytes never count as this run's rate.
    for o in &objects {
        let rate = o["rate"].as_u64().unwrap();
        assert!(rate < 400_000, "{o}");
    }
    // The summary line of a finished run names where it resumed.
    let out = durl(dir.path())
        .arg("get")
        .arg(server.url("/file.bin"))
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2.86 MiB in") && stderr.contains("resumed at"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("file.bin")).unwrap(),
        pattern_bytes(SEED, 0..3_000_000)
    );
}

#[test]
fn without_a_terminal_progress_lines_come_at_each_tenth() {
    let server = server(500_000);
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "--limit-rate", "150K", &server.url("/file.bin")])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    let percents: Vec<u64> = stderr
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix("file.bin: ")?;
            let (_, rest) = l.split_once(" (")?;
            rest.split_once("%)")?.0.parse().ok()
        })
        .collect();
    assert!(percents.len() >= 3, "{stderr}");
    assert!(
        percents.windows(2).all(|w| w[0] / 10 < w[1] / 10),
        "{percents:?}"
    );
    assert!(
        stderr.lines().last().unwrap().contains("488.28 KiB in"),
        "{stderr}"
    );
}

#[test]
fn a_retry_is_one_line_with_reason_and_delay_and_no_debug_text() {
    let server = server(200_000);
    server.push_fault("/file.bin", Fault::CutAfter(50_000));
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "--retry-delay", "0.1", &server.url("/file.bin")])
        .assert()
        .code(0)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    let retry: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("retry 1 in"))
        .collect();
    assert_eq!(retry.len(), 1, "{stderr}");
    assert!(retry[0].starts_with("durl: file.bin: "), "{stderr}");
    assert!(
        !stderr.contains("Other(") && !stderr.contains("Kind("),
        "{stderr}"
    );
    // A retry inside the run is not a resume.
    assert!(!stderr.contains("resumed at"), "{stderr}");
}

#[test]
fn a_list_of_one_says_1_file_and_names_a_failed_url_once() {
    let server = server(1000);
    let dir = tempfile::tempdir().unwrap();
    let missing = server.url("/missing.bin");
    std::fs::write(dir.path().join("list"), format!("{missing}\n")).unwrap();
    let out = durl(dir.path())
        .args(["get", "--retries", "0", "-i", "list"])
        .assert()
        .code(10)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert!(stderr.contains("durl: 1 file: 0 downloaded"), "{stderr}");
    let failure = stderr.lines().find(|l| l.contains("404")).expect("the 404");
    assert_eq!(failure.matches(&missing).count(), 1, "{failure}");
}

/// The frames a terminal showed, escape sequences removed.
fn frames(raw: &[u8]) -> Vec<String> {
    let text = text(raw);
    let mut out = Vec::new();
    for frame in text.split(['\r', '\n']) {
        let mut clean = String::new();
        let mut chars = frame.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // CSI: ESC [ parameters final-byte.
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                clean.push(c);
            }
        }
        let clean = clean.trim().to_owned();
        if !clean.is_empty() {
            out.push(clean);
        }
    }
    out
}

#[test]
fn on_a_terminal_the_bar_says_connecting_then_percent_and_this_runs_rate_after_a_resume() {
    let server = server(3_000_000);
    let dir = tempfile::tempdir().unwrap();
    durl(dir.path())
        .args(["get", "-q", "--limit-rate", "1M", "-m", "1"])
        .arg(server.url("/file.bin"))
        .assert()
        .code(5);
    // script(1) gives durl a terminal of 120 columns.
    let out = on_a_terminal(
        dir.path(),
        &format!("get --limit-rate 100K -m 2 {}", server.url("/file.bin")),
    );
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stdout));
    let frames = frames(&out.stdout);
    let first_bar = frames
        .iter()
        .position(|f| f.contains("% "))
        .unwrap_or_else(|| panic!("a bar: {frames:#?}"));
    assert!(
        frames[..first_bar]
            .iter()
            .any(|f| f == "file.bin connecting…"),
        "{frames:#?}"
    );
    for f in frames.iter().filter(|f| f.contains("% ")) {
        assert!(f.starts_with("file.bin "), "{f}");
        assert!(f.contains("(resumed at "), "{f}");
        // 100K = 100 KiB/s; the resumed bytes never count as this run's rate.
        let rate = f
            .split_whitespace()
            .find(|w| w.ends_with("/s"))
            .and_then(|_| f.split(" ETA").next())
            .and_then(|head| head.rsplit(' ').nth(1).zip(head.rsplit(' ').next()))
            .unwrap_or_else(|| panic!("a rate in {f}"));
        let value: f64 = rate.0.parse().unwrap_or_else(|_| panic!("{f}"));
        let kib = match rate.1 {
            "B/s" => value / 1024.0,
            "KiB/s" => value,
            "MiB/s" => value * 1024.0,
            unit => panic!("{unit} in {f}"),
        };
        assert!(kib < 400.0, "{f}");
    }
}

#[test]
fn a_certificate_error_is_said_in_words_not_debug_text() {
    let server = FaultServer::start_tls();
    server.put("/file.bin", Resource::pattern(SEED, 1000));
    let dir = tempfile::tempdir().unwrap();
    let out = durl(dir.path())
        .args(["get", "--retries", "0", &server.url("/file.bin")])
        .assert()
        .code(5)
        .get_output()
        .clone();
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("Other("), "{stderr}");
    assert!(!stderr.contains("UnknownIssuer"), "{stderr}");
    assert!(stderr.contains("unknown certificate authority"), "{stderr}");
    // One line: nothing was downloaded, so no "run the same command again" hint (issue 14.7).
    assert_eq!(stderr.lines().count(), 1, "the error alone: {stderr}");
    assert!(!stderr.contains("same command again"), "{stderr}");
}

#[test]
fn on_a_terminal_a_list_has_a_total_line_with_files_bytes_rate_and_eta() {
    let server = FaultServer::start();
    for name in ["/a.bin", "/b.bin"] {
        server.put(name, Resource::pattern(SEED, 600_000));
    }
    let dir = tempfile::tempdir().unwrap();
    let list = format!(
        "{}\n{}\n{}\n",
        server.url("/a.bin"),
        server.url("/b.bin"),
        server.url("/missing.bin")
    );
    std::fs::write(dir.path().join("list"), list).unwrap();
    let out = on_a_terminal(dir.path(), "get --retries 0 --limit-rate 300K -i list");
    assert_eq!(out.status.code(), Some(10), "{}", text(&out.stdout));
    let frames = frames(&out.stdout);
    let totals: Vec<&String> = frames.iter().filter(|f| f.starts_with("total: ")).collect();
    assert!(
        totals.iter().any(|f| f.contains("/3 files, ")
            && f.contains("KiB/1.14 MiB")
            && f.contains("/s ETA ")),
        "{frames:#?}"
    );
    // The failure is its own line, after the bars, not glued to the total.
    assert!(totals.iter().all(|f| !f.contains("404")), "{frames:#?}");
    let failure = frames
        .iter()
        .find(|f| f.contains("404"))
        .expect("the 404 line");
    assert!(failure.starts_with("durl: HTTP 404"), "{failure}");
    assert!(
        frames
            .iter()
            .any(|f| f == "durl: 3 files: 2 downloaded, 0 already complete, 1 failed"),
        "{frames:#?}"
    );
}

/// `-v` on a terminal: the request and response heads are whole lines, never cut through by
/// a redrawn bar (the progress falls back to plain lines).
#[test]
fn verbose_on_a_terminal_draws_no_bar_through_the_heads() {
    let server = FaultServer::start();
    server.put("/v.bin", Resource::pattern(SEED, 400_000));
    let dir = tempfile::tempdir().unwrap();
    let out = on_a_terminal(
        dir.path(),
        &format!("get -v --limit-rate 200K {}", server.url("/v.bin")),
    );
    let shown = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(shown.contains("[1] > GET "), "{shown}");
    assert!(shown.contains("[1] < HTTP/1.1 200"), "{shown}");
    // No bar drawing: no cursor movement or line erasing escapes.
    assert!(
        !shown.contains("\u{1b}[2K") && !shown.contains("\u{1b}[1A"),
        "{shown:?}"
    );
    assert!(std::fs::read(dir.path().join("v.bin")).unwrap() == pattern_bytes(SEED, 0..400_000));
}

/// Runs `durl ARGS` (a shell word list) on a terminal of 120 columns (script(1)), in `dir`;
/// everything it showed is the output's stdout.
fn on_a_terminal(dir: &std::path::Path, args: &str) -> std::process::Output {
    let inner = format!(
        "stty cols 120 rows 40; exec {} {args}",
        env!("CARGO_BIN_EXE_durl")
    );
    Command::new("script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env_remove("DURL_LOG")
        .output()
        .expect("script(1) runs")
}

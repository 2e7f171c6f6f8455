//! End-to-end tests of the `durl` binary. One test binary; modules by behaviour.

mod auth; // logins: -u, --password-stdin, .netrc for HTTP and put ftp://; passwords never printed
mod batch; // lists of files: -i, -j, faults, kill -9 mid-batch, --json
mod cli; // habits from curl/wget/aria2c, the config file, completions, man, help, progress
mod crash; // kill -9 at many byte counts, then resume
mod daemon; // durl daemon: aria2 JSON-RPC, kill -9 and restart
mod ftp; // ftp:// end to end: kill -9 and resume (vsftpd), exit codes, logins, lists
mod get; // the command line: outputs, errors, exit codes, signals, locks
mod interop; // clients and servers nobody here wrote: tuspy, tus-js-client, @tus/server, Chromium
mod put; // durl put to a real vsftpd: kill -9 and resume, refusals, FTPS
mod put_many; // durl put with several files: lists, -j, --json, kill -9 mid-batch
mod serve; // durl serve end to end
mod serve_accounts; // durl serve --auth-file --allow, with curl
mod serve_limits; // durl serve flags for per-address caps, the upload rate floor, the disk reserve
mod serve_log; // durl serve's access log: Combined Log Format, JSON, bytes actually sent
mod serve_s3; // durl serve s3://BUCKET against a real store (SeaweedFS): AWS variables, refusals
mod serve_s3_upload; // tus into a store through two instances: SIGKILL of one (tuspy), durl put via a proxy

use std::path::Path;
use std::process::{Command, Stdio};

/// A `durl` command with a quiet environment (no colours, no inherited log settings).
pub fn durl(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_durl"));
    // No config file but the one a test writes into `cwd/xdg/durl/config`.
    cmd.current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("DURL_LOG")
        .env_remove("DURL_CONFIG")
        .env("XDG_CONFIG_HOME", cwd.join("xdg"))
        .stdin(Stdio::null());
    cmd
}

/// Sends `signal` (e.g. "INT") to a process, through kill(1), as a user would.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("kill(1) runs");
    assert!(status.success());
}

//! Clients and servers nobody here wrote, run against the real `durl` binary: the tus
//! clients tuspy (PyPI) and tus-js-client (npm), the tus reference server `@tus/server`, and
//! the browser upload page in Debian's headless Chromium driven by playwright-core.
//!
//! Their scripts live in `tests/interop/` at the repository root; `bash .ci/setup` installs
//! what they need (README.md, "Building and testing"). A missing tool fails the test with
//! that hint rather than skipping it: a skipped interop test would pass without proving
//! anything.

pub mod aria2;
pub mod browser;
pub mod script;
pub mod serve_upload;
pub mod tus_js;
pub mod tus_server;
pub mod tuspy;

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// `tests/interop/` at the repository root.
pub fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop")
}

fn require(path: &std::path::Path, what: &str) {
    assert!(
        path.exists(),
        "{what} is missing ({}): run `bash .ci/setup` first",
        path.display()
    );
}

/// `node tests/interop/SCRIPT`, with the npm packages of `tests/interop/` installed.
pub fn node(script: &str) -> Command {
    let dir = interop_dir();
    require(&dir.join("node_modules"), "tests/interop/node_modules");
    let script = dir.join(script);
    require(&script, "the script");
    let mut cmd = Command::new("node");
    cmd.arg(script)
        .current_dir(&dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    cmd
}

/// `python tests/interop/SCRIPT` in the venv that holds tuspy.
pub fn python(script: &str) -> Command {
    let dir = interop_dir();
    let python = dir.join(".venv/bin/python");
    require(&python, "the tuspy venv");
    let script = dir.join(script);
    require(&script, "the script");
    let mut cmd = Command::new(python);
    cmd.arg(script).current_dir(&dir).stdin(Stdio::null());
    cmd
}

/// Debian's Chromium, for playwright-core's `executablePath`.
pub fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    require(&path, "Debian's chromium");
    path
}

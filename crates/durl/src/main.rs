//! The `durl` binary: argument parsing, printing and exit codes on top of the `durl-fetch` and
//! `durl-serve` libraries. Only this crate prints.

mod args;
mod batch;
mod daemon;
mod exit;
mod get;
mod input_file;
mod network;
mod progress;
mod put;
mod put_list;
mod serve;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    init_tracing();
    let result = match cli.command {
        args::Command::Get(a) => get::run(a),
        args::Command::Put(a) => put::run(a),
        args::Command::Serve(a) => serve::run(a),
        args::Command::Daemon(a) => daemon::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            exit::code(exit::for_error(&e))
        }
    }
}

#[expect(clippy::print_stderr, reason = "main reports the final error")]
fn report(e: &anyhow::Error) {
    eprintln!("durl: {e:#}");
}

/// One line: the error and its causes, joined by ": ".
pub(crate) fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // reqwest and hyper sometimes repeat a cause's text in their own message.
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// Diagnostics through `tracing` go to stderr, filtered by `DURL_LOG` (default: warnings).
/// Colours only on a terminal, and never with `NO_COLOR` set (to anything but "", as
/// no-color.org asks and as the progress bar does).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DURL_LOG")
        // `durl serve`'s access log is INFO on its own target; it shows unless --quiet.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,durl_serve::access=info"));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

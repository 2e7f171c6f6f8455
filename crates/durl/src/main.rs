//! The `durl` binary: argument parsing, printing and exit codes on top of the `durl-fetch` and
//! `durl-serve` libraries. Only this crate prints.

mod args;
mod batch;
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
    let (access_file, quiet_access) = match &cli.command {
        args::Command::Serve(a) => match serve::open_access_log(a) {
            Ok(file) => (file, a.quiet),
            Err(e) => {
                report(&e);
                return exit::code(exit::for_error(&e));
            }
        },
        _ => (None, false),
    };
    init_tracing(access_file, quiet_access);
    let result = match cli.command {
        args::Command::Get(a) => get::run(a),
        args::Command::Put(a) => put::run(a),
        args::Command::Serve(a) => serve::run(a),
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
/// no-color.org asks and as the progress bar does). `durl serve`'s access log (target
/// `durl_serve::access`) shows on stderr unless `quiet_access`, and its lines alone — no
/// time, level or target added, they carry their own — are appended to `access_file`.
fn init_tracing(access_file: Option<std::fs::File>, quiet_access: bool) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let default = if quiet_access {
        "warn,durl_serve::access=off"
    } else {
        // `durl serve`'s access log is INFO on its own target; it shows unless --quiet.
        "warn,durl_serve::access=info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DURL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(filter);
    let file = access_file.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("durl_serve::access", tracing::Level::INFO),
            )
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

//! The `durl` binary: argument parsing, printing and exit codes on top of the `durl-fetch` and
//! `durl-serve` libraries. Only this crate prints.

mod args;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match cli.command {
        args::Command::Get(_) | args::Command::Serve(_) => ExitCode::FAILURE,
    }
}

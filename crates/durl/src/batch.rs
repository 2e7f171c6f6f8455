//! `durl get` with several files: one bar per active file plus a total on a terminal, one
//! line per finished file otherwise, a summary, the optional JSON report and the exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use durl_fetch::{BatchOptions, BatchReporter, Error, ErrorKind, GetRequest, Outcome, Reporter};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::GetArgs;
use crate::exit;
use crate::input_file::Entry;
use crate::progress::Progress;

/// Runs a list of downloads.
pub fn run(
    args: &GetArgs,
    entries: &[Entry],
    requests: &[GetRequest],
    runtime: &tokio::runtime::Runtime,
    interrupted: impl Fn() -> u8,
) -> anyhow::Result<ExitCode> {
    let draw = !args.quiet && std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if draw {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let total = draw.then(|| {
        let bar = multi.add(ProgressBar::new(requests.len() as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix} files {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix("total");
        bar
    });
    let reporter = Batch {
        multi,
        total,
        quiet: args.quiet,
    };
    let options = BatchOptions {
        jobs: usize::from(args.jobs),
        max_connections: usize::from(args.max_connections),
        per_host: usize::from(args.max_per_host),
    };
    let results = runtime.block_on(durl_fetch::get_all(requests, options, &reporter))?;
    if let Some(bar) = &reporter.total {
        bar.finish_and_clear();
    }

    let (mut done, mut complete, mut failed) = (0, 0, Vec::new());
    let mut was_interrupted = false;
    for (i, result) in results.iter().enumerate() {
        match result {
            Ok(o) if o.already_complete => complete += 1,
            Ok(_) => done += 1,
            Err(e) => {
                was_interrupted |= e.kind() == ErrorKind::Interrupted;
                failed.push((i, e));
            }
        }
    }
    summary(args.quiet, requests, done, complete, &failed);
    if args.json {
        let rows: Vec<_> = requests
            .iter()
            .zip(entries)
            .zip(&results)
            .map(|((r, e), res)| (r, e, res))
            .collect();
        print_json(&rows);
    }
    Ok(exit::code(if was_interrupted {
        interrupted()
    } else if failed.is_empty() {
        exit::OK
    } else {
        exit::PARTIAL
    }))
}

#[expect(clippy::print_stderr, reason = "the binary reports on stderr")]
fn summary(
    quiet: bool,
    requests: &[GetRequest],
    done: usize,
    complete: usize,
    failed: &[(usize, &Error)],
) {
    // Failures are printed even with -q: they are errors.
    for (i, e) in failed {
        eprintln!("durl: {}: {}", requests[*i].url(), crate::error_line(*e));
    }
    if !quiet || !failed.is_empty() {
        eprintln!(
            "durl: {} files: {done} downloaded, {complete} already complete, {} failed",
            requests.len(),
            failed.len()
        );
    }
}

/// Prints one JSON object per file on stdout.
pub fn print_json(rows: &[(&GetRequest, &Entry, &Result<Outcome, Error>)]) {
    let mut out = std::io::stdout().lock();
    for (req, entry, result) in rows {
        let value = match result {
            Ok(o) => serde_json::json!({
                "url": req.url().as_str(),
                "path": o.path.display().to_string(),
                "bytes": o.bytes,
                "fetched": o.fetched,
                "status": if o.already_complete { "already-complete" } else { "done" },
                "checksum": entry.checksum.as_ref().map(ToString::to_string),
            }),
            Err(e) => serde_json::json!({
                "url": req.url().as_str(),
                "status": "failed",
                "error": format!("{:?}", e.kind()).to_lowercase(),
                "message": crate::error_line(e),
            }),
        };
        let _ = writeln!(out, "{value}");
    }
    let _ = out.flush();
}

/// The batch's side of the terminal.
struct Batch {
    multi: MultiProgress,
    total: Option<ProgressBar>,
    quiet: bool,
}

impl BatchReporter for Batch {
    fn file(&self, _index: usize) -> Arc<dyn Reporter> {
        Arc::new(Progress::in_batch(&self.multi, self.quiet))
    }

    fn finished(&self, _index: usize, result: &Result<Outcome, Error>) {
        if let Some(bar) = &self.total {
            bar.inc(1);
            if let Err(e) = result {
                bar.set_message(crate::error_line(e));
            }
        }
    }
}

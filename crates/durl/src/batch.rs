//! Several files at once (`durl get` and `durl put` with several files or a list): one bar
//! per active file plus a total on a terminal, one line per finished file otherwise, a
//! summary, the optional JSON report and the exit code.

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
    let reporter = Batch::new(args.quiet, requests.len());
    let options = BatchOptions {
        jobs: usize::from(args.jobs),
        max_connections: usize::from(args.max_connections),
        per_host: usize::from(args.max_per_host),
    };
    let results = runtime.block_on(durl_fetch::get_all(requests, options, &reporter))?;
    reporter.finish();
    let tally = Tally::of(&results, |o| o.already_complete);
    tally.summary(
        args.quiet,
        "downloaded",
        |i| durl_fetch::journal::url_key(requests[i].url()),
        &results,
    );
    if args.json {
        let rows: Vec<_> = requests
            .iter()
            .zip(entries)
            .zip(&results)
            .map(|((r, e), res)| (r, e, res))
            .collect();
        print_json(&rows);
    }
    Ok(tally.exit_code(interrupted))
}

/// How the files of a batch ended.
pub(crate) struct Tally {
    done: usize,
    complete: usize,
    failed: usize,
    interrupted: bool,
}

impl Tally {
    /// Counts `results`; `already_complete` tells a file that needed no transfer.
    pub(crate) fn of<O>(
        results: &[Result<O, Error>],
        already_complete: impl Fn(&O) -> bool,
    ) -> Tally {
        let mut tally = Tally {
            done: 0,
            complete: 0,
            failed: 0,
            interrupted: false,
        };
        for result in results {
            match result {
                Ok(o) if already_complete(o) => tally.complete += 1,
                Ok(_) => tally.done += 1,
                Err(e) => {
                    tally.interrupted |= e.kind() == ErrorKind::Interrupted;
                    tally.failed += 1;
                }
            }
        }
        tally
    }

    /// Prints each failure (even with -q: they are errors) and, unless quiet, the counts.
    #[expect(clippy::print_stderr, reason = "the binary reports on stderr")]
    pub(crate) fn summary<O>(
        &self,
        quiet: bool,
        verb: &str,
        name: impl Fn(usize) -> String,
        results: &[Result<O, Error>],
    ) {
        for (i, result) in results.iter().enumerate() {
            if let Err(e) = result {
                eprintln!("durl: {}: {}", name(i), crate::error_line(e));
            }
        }
        if !quiet || self.failed > 0 {
            eprintln!(
                "durl: {} files: {} {verb}, {} already complete, {} failed",
                results.len(),
                self.done,
                self.complete,
                self.failed
            );
        }
    }

    /// 0, [`exit::PARTIAL`] when some failed, or the signal's code when interrupted.
    pub(crate) fn exit_code(&self, interrupted: impl Fn() -> u8) -> ExitCode {
        exit::code(if self.interrupted {
            interrupted()
        } else if self.failed == 0 {
            exit::OK
        } else {
            exit::PARTIAL
        })
    }
}

/// Prints one JSON object per file on stdout.
pub fn print_json(rows: &[(&GetRequest, &Entry, &Result<Outcome, Error>)]) {
    let mut out = std::io::stdout().lock();
    for (req, entry, result) in rows {
        let value = match result {
            Ok(o) => serde_json::json!({
                "url": durl_fetch::journal::url_key(req.url()),
                "path": o.path.display().to_string(),
                "bytes": o.bytes,
                "fetched": o.fetched,
                "status": if o.already_complete { "already-complete" } else { "done" },
                "checksum": entry.checksum.as_ref().map(ToString::to_string),
            }),
            Err(e) => failure_json(&durl_fetch::journal::url_key(req.url()), e),
        };
        let _ = writeln!(out, "{value}");
    }
    let _ = out.flush();
}

/// The JSON object of a failed file.
pub(crate) fn failure_json(url: &str, e: &Error) -> serde_json::Value {
    serde_json::json!({
        "url": url,
        "status": "failed",
        "error": format!("{:?}", e.kind()).to_lowercase(),
        "message": crate::error_line(e),
    })
}

/// The batch's side of the terminal: the per-file bars and the total.
pub(crate) struct Batch {
    multi: MultiProgress,
    total: Option<ProgressBar>,
    quiet: bool,
}

impl Batch {
    /// Bars for `files` files when stderr is a terminal and `quiet` is off.
    pub(crate) fn new(quiet: bool, files: usize) -> Batch {
        let draw = !quiet && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let total = draw.then(|| {
            let bar = multi.add(ProgressBar::new(files as u64));
            bar.set_style(
                ProgressStyle::with_template("{prefix} files {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix("total");
            bar
        });
        Batch {
            multi,
            total,
            quiet,
        }
    }

    /// Removes the total bar.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.total {
            bar.finish_and_clear();
        }
    }
}

impl<O> BatchReporter<O> for Batch {
    fn file(&self, _index: usize) -> Arc<dyn Reporter> {
        Arc::new(Progress::in_batch(&self.multi, self.quiet))
    }

    fn finished(&self, _index: usize, result: &Result<O, Error>) {
        if let Some(bar) = &self.total {
            bar.inc(1);
            if let Err(e) = result {
                bar.set_message(crate::error_line(e));
            }
        }
    }
}

//! Several files at once (`durl get` and `durl put` with several files or a list): one bar
//! per active file plus a total on a terminal, one line per finished file otherwise, a
//! summary, the optional JSON report and the exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use durl_fetch::{BatchOptions, BatchReporter, Error, ErrorKind, GetRequest, Outcome, Reporter};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::args::GetArgs;
use crate::exit;
use crate::input_file::Entry;
use crate::progress::{self, Mode, Progress, Totals};

/// Runs a list of downloads.
pub fn run(
    args: &GetArgs,
    entries: &[Entry],
    requests: &[GetRequest],
    runtime: &tokio::runtime::Runtime,
    names: Vec<String>,
    interrupted: impl Fn() -> u8,
) -> anyhow::Result<ExitCode> {
    let reporter = Batch::new(Mode::of(args.quiet, args.progress, args.net.verbose), names);
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
        |i| durl_fetch::Redacted(requests[i].url()).to_string(),
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
    /// Cut by the signal (their partials are saved).
    interrupted: usize,
    /// Never started: the signal came first.
    not_started: usize,
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
            interrupted: 0,
            not_started: 0,
        };
        for result in results {
            match result {
                Ok(o) if already_complete(o) => tally.complete += 1,
                Ok(_) => tally.done += 1,
                Err(Error::NotStarted { .. }) => tally.not_started += 1,
                Err(e) if e.kind() == ErrorKind::Interrupted => tally.interrupted += 1,
                Err(_) => tally.failed += 1,
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
            // Files not started are only counted: the run was stopped before them.
            if let Err(e) = result
                && !matches!(e, Error::NotStarted { .. })
            {
                // The name once: most errors name their URL or file already.
                let (name, line) = (name(i), crate::error_line(e));
                if line.contains(&name) {
                    eprintln!("durl: {line}");
                } else {
                    eprintln!("durl: {name}: {line}");
                }
            }
        }
        if !quiet || self.failed > 0 {
            let mut line = format!(
                "durl: {}: {} {verb}, {} already complete, {} failed",
                progress::files(results.len()),
                self.done,
                self.complete,
                self.failed
            );
            if self.interrupted + self.not_started > 0 {
                line.push_str(&format!(
                    ", {} interrupted, {} not started",
                    self.interrupted, self.not_started
                ));
            }
            eprintln!("{line}");
        }
    }

    /// 0, [`exit::PARTIAL`] when some failed, or the signal's code when interrupted.
    pub(crate) fn exit_code(&self, interrupted: impl Fn() -> u8) -> ExitCode {
        exit::code(if self.interrupted + self.not_started > 0 {
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
                "url": durl_fetch::Redacted(req.url()).to_string(),
                "path": o.path.display().to_string(),
                "bytes": o.bytes,
                "fetched": o.fetched,
                "status": if o.already_complete { "already-complete" } else { "done" },
                "checksum": entry.checksum.as_ref().map(ToString::to_string),
            }),
            Err(e) => failure_json(&durl_fetch::Redacted(req.url()).to_string(), e),
        };
        let _ = writeln!(out, "{value}");
    }
    let _ = out.flush();
}

/// The JSON object of a failed file.
pub(crate) fn failure_json(url: &str, e: &Error) -> serde_json::Value {
    let status = match e {
        Error::NotStarted { .. } => "not-started",
        e if e.kind() == ErrorKind::Interrupted => "interrupted",
        _ => "failed",
    };
    serde_json::json!({
        "url": url,
        "status": status,
        "error": format!("{:?}", e.kind()).to_lowercase(),
        "message": crate::error_line(e),
    })
}

/// The batch's side of the terminal: the per-file bars and the total line (files, bytes,
/// rate, ETA).
pub(crate) struct Batch {
    multi: MultiProgress,
    total: Option<ProgressBar>,
    totals: Arc<Mutex<Totals>>,
    mode: Mode,
    /// Each file's name until its transfer names it.
    names: Vec<String>,
}

impl Batch {
    /// Bars for the files `names` when stderr is a terminal in [`Mode::Auto`].
    pub(crate) fn new(mode: Mode, names: Vec<String>) -> Batch {
        let draw = mode == Mode::Auto && std::io::stderr().is_terminal();
        let multi = MultiProgress::with_draw_target(if draw {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        });
        let totals = Totals::new();
        let total = draw.then(|| {
            let bar = multi.add(ProgressBar::new(names.len() as u64));
            let sums = totals.clone();
            bar.set_style(
                ProgressStyle::with_template("total: {pos}/{len} files, {sums}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .with_key(
                        "sums",
                        move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = w.write_str(&Totals::text(&sums));
                        },
                    ),
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Batch {
            multi,
            total,
            totals,
            mode,
            names,
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
    fn file(&self, index: usize) -> Arc<dyn Reporter> {
        let name = self.names.get(index).cloned().unwrap_or_default();
        Arc::new(Progress::in_batch(
            &self.multi,
            &self.totals,
            self.mode,
            name,
        ))
    }

    fn finished(&self, index: usize, result: &Result<O, Error>) {
        // Failures are listed after the bars are gone, not glued to the total line.
        if let Some(bar) = &self.total {
            bar.inc(1);
        }
        if let (Mode::Json, Err(e)) = (self.mode, result) {
            let state = if e.kind() == ErrorKind::Interrupted {
                "interrupted"
            } else {
                "failed"
            };
            let value = serde_json::json!({
                "name": self.names.get(index),
                "state": state,
                "message": crate::error_line(e),
            });
            let _ = writeln!(std::io::stderr().lock(), "{value}");
        }
    }
}

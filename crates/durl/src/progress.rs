//! The terminal side of a download: an indicatif bar on a terminal, one summary line
//! otherwise, and one-line notices for restarts and retries.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use durl_fetch::{Event, Reporter, RestartReason};
use indicatif::{
    HumanBytes, HumanDuration, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle,
};

/// Shows one download's progress on stderr.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    /// The bars of a batch this one belongs to; lines are printed above them.
    multi: Option<MultiProgress>,
    quiet: bool,
    started: Instant,
    state: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    resumed_from: u64,
}

impl Progress {
    /// A bar when stderr is a terminal and `quiet` is off; otherwise no bar.
    pub fn new(quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(style(None));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            multi: None,
            quiet,
            started: Instant::now(),
            state: Mutex::new(Seen::default()),
        }
    }

    /// A progress for one file of a batch: its bar (if `multi` draws any) joins `multi`.
    pub fn in_batch(multi: &MultiProgress, quiet: bool) -> Progress {
        let bar = (!quiet && !multi.is_hidden()).then(|| {
            let bar = multi.add(ProgressBar::new(0));
            bar.set_style(style(None));
            bar
        });
        Progress {
            bar,
            multi: Some(multi.clone()),
            quiet,
            started: Instant::now(),
            state: Mutex::new(Seen::default()),
        }
    }

    /// Prints one line above the bars (or plainly when there are none).
    #[expect(
        clippy::print_stderr,
        reason = "the binary's progress module owns stderr"
    )]
    fn line(&self, text: &str) {
        match (&self.multi, &self.bar) {
            (Some(multi), _) if !multi.is_hidden() => {
                let _ = multi.println(text);
            }
            (_, Some(bar)) => bar.suspend(|| eprintln!("{text}")),
            _ => eprintln!("{text}"),
        }
    }
    /// Prints a notice line (above the bar, if any).
    fn notice(&self, text: &str) {
        if !self.quiet {
            self.line(&format!("durl: {text}"));
        }
    }

    /// Removes the bar.
    pub fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn summary(&self, path: &Path, bytes: u64, already_complete: bool) {
        if let (Some(multi), Some(bar)) = (&self.multi, &self.bar) {
            multi.remove(bar);
        }
        self.clear();
        if self.quiet {
            return;
        }
        let resumed = self.state.lock().map(|s| s.resumed_from).unwrap_or(0);
        let elapsed = self.started.elapsed();
        if already_complete {
            self.line(&format!(
                "{}: already complete ({})",
                path.display(),
                HumanBytes(bytes)
            ));
            return;
        }
        let fetched = bytes.saturating_sub(resumed);
        let rate = fetched as f64 / elapsed.as_secs_f64().max(1e-3);
        let resumed_note = if resumed > 0 {
            format!(", resumed at {}", HumanBytes(resumed))
        } else {
            String::new()
        };
        let took = if elapsed < Duration::from_secs(60) {
            format!("{:.1} s", elapsed.as_secs_f64())
        } else {
            HumanDuration(elapsed).to_string()
        };
        self.line(&format!(
            "{}: {} in {took} ({}/s{resumed_note})",
            path.display(),
            HumanBytes(bytes),
            HumanBytes(rate as u64),
        ));
    }
}

fn style(resumed_from: Option<u64>) -> ProgressStyle {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let bar = if color {
        "{bar:30.cyan/blue}"
    } else {
        "{bar:30}"
    };
    let resumed = resumed_from
        .map(|n| format!(" (resumed at {})", HumanBytes(n)))
        .unwrap_or_default();
    let template = format!(
        "{{prefix}}{{msg}} {bar} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} ETA {{eta}}{resumed}"
    );
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Reporter for Progress {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Progress { bytes } => {
                if let Some(bar) = &self.bar {
                    bar.inc(bytes);
                }
            }
            Event::Started {
                path,
                total,
                resumed_from,
            } => {
                if let Ok(mut s) = self.state.lock() {
                    s.resumed_from = resumed_from;
                }
                if let Some(bar) = &self.bar {
                    bar.set_message(
                        path.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    );
                    bar.set_style(style((resumed_from > 0).then_some(resumed_from)));
                    match total {
                        Some(t) => bar.set_length(t),
                        None => bar.unset_length(),
                    }
                    bar.set_position(resumed_from);
                    bar.reset_eta();
                }
            }
            Event::Connections { active } => {
                if let Some(bar) = &self.bar {
                    bar.set_prefix(if active > 1 {
                        format!("[{active} conns] ")
                    } else {
                        String::new()
                    });
                }
            }
            Event::MirrorDropped { url, reason } => {
                self.notice(&format!("mirror {url} dropped for this file: {reason}"));
            }
            Event::Restarted { reason } => {
                let again = match reason {
                    RestartReason::UploadGone | RestartReason::LocalChanged => {
                        "a new upload starts from byte 0"
                    }
                    _ => "downloading again from the start",
                };
                self.notice(&format!("{reason}; {again}"));
            }
            Event::Retrying {
                error,
                attempt,
                delay,
            } => {
                self.notice(&format!(
                    "{}; retry {attempt} in {:.1} s",
                    crate::error_line(error),
                    delay.as_secs_f64()
                ));
            }
            Event::NoStrongValidator => self.notice(
                "the server sends no strong validator (ETag or Last-Modified): \
                 a resume can only be checked by length",
            ),
            Event::Finished {
                path,
                bytes,
                already_complete,
            } => self.summary(path, bytes, already_complete),
            _ => {}
        }
    }
}

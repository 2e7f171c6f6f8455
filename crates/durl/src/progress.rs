//! The terminal side of a transfer: an indicatif bar on a terminal, a plain line every 10 s
//! and at each 10% otherwise, or JSON objects (`--progress=json`); one-line notices for
//! restarts and retries; the summary line.

mod meter;

use std::io::{IsTerminal, Write as _};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use durl_fetch::{Event, Reporter, RestartReason};
use indicatif::{HumanBytes, HumanDuration, MultiProgress, ProgressBar, ProgressDrawTarget};
use indicatif::{ProgressState, ProgressStyle};

use crate::args::ProgressMode;
pub use meter::files;
use meter::{Meter, Ticker};

/// JSON progress objects come at most this often per file (state changes come at once).
const JSON_EVERY: Duration = Duration::from_secs(1);

/// How the run shows progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing but errors.
    Quiet,
    /// A bar on a terminal, plain lines elsewhere.
    Auto,
    /// Plain lines even on a terminal: with `-v`, whose request and response heads would
    /// cut through a bar.
    Lines,
    /// JSON objects on stderr.
    Json,
}

impl Mode {
    /// The mode of `-q`, `--progress` and `-v`.
    pub fn of(quiet: bool, progress: ProgressMode, verbose: bool) -> Mode {
        match (quiet, progress) {
            (true, _) => Mode::Quiet,
            (false, ProgressMode::Json) => Mode::Json,
            (false, ProgressMode::Auto) if verbose => Mode::Lines,
            (false, ProgressMode::Auto) => Mode::Auto,
        }
    }
}

/// Shows one transfer's progress on stderr.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    /// The bars of a batch this one belongs to; lines are printed above them.
    multi: Option<MultiProgress>,
    mode: Mode,
    started: Instant,
    state: Arc<Mutex<Seen>>,
    /// The batch's sums, which this file adds to.
    totals: Option<Arc<Mutex<Totals>>>,
}

/// What one transfer has seen so far.
#[derive(Debug)]
struct Seen {
    name: String,
    /// The destination, once the transfer named it.
    path: Option<std::path::PathBuf>,
    /// The first attempt's starting point (bytes from an earlier run); 0 after a restart.
    resumed: Option<u64>,
    position: u64,
    total: Option<u64>,
    meter: Meter,
    ticker: Ticker,
    last_json: Option<Instant>,
}

/// A batch's sums over its files.
#[derive(Debug)]
pub struct Totals {
    /// Bytes held by the files started so far (with what earlier runs left).
    position: u64,
    /// The known lengths of the files started so far.
    total: u64,
    meter: Meter,
}

impl Totals {
    /// Sums for a batch that starts now.
    pub fn new() -> Arc<Mutex<Totals>> {
        let mut meter = Meter::default();
        meter.restart(Instant::now());
        Arc::new(Mutex::new(Totals {
            position: 0,
            total: 0,
            meter,
        }))
    }

    /// `3.00 MiB/10.00 MiB 1.00 MiB/s ETA 7s` for the total line.
    pub fn text(totals: &Mutex<Totals>) -> String {
        let t = lock(totals);
        let rate = t.meter.rate(Instant::now());
        let eta = meter::eta(t.total.saturating_sub(t.position), rate)
            .map(|d| format!(" ETA {}", HumanDuration(d)))
            .unwrap_or_default();
        format!(
            "{}/{} {}/s{eta}",
            HumanBytes(t.position),
            HumanBytes(t.total),
            HumanBytes(rate as u64)
        )
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Progress {
    /// The progress of the transfer of `name`: a bar when stderr is a terminal (in
    /// [`Mode::Auto`]); it says "connecting…" until the first answer.
    pub fn new(mode: Mode, name: String) -> Progress {
        let draw = mode == Mode::Auto && std::io::stderr().is_terminal();
        let bar = draw.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()));
        let progress = Progress::with_bar(bar, None, None, mode, name);
        if let Some(bar) = &progress.bar {
            // Only once it has its style: a tick before would draw indicatif's default bar.
            bar.enable_steady_tick(Duration::from_millis(200));
        }
        progress
    }

    /// The progress of one file of a batch: its bar (if `multi` draws any) joins `multi`,
    /// and its bytes count in `totals`.
    pub fn in_batch(
        multi: &MultiProgress,
        totals: &Arc<Mutex<Totals>>,
        mode: Mode,
        name: String,
    ) -> Progress {
        let bar =
            (mode == Mode::Auto && !multi.is_hidden()).then(|| multi.add(ProgressBar::new(0)));
        Progress::with_bar(bar, Some(multi.clone()), Some(totals.clone()), mode, name)
    }

    fn with_bar(
        bar: Option<ProgressBar>,
        multi: Option<MultiProgress>,
        totals: Option<Arc<Mutex<Totals>>>,
        mode: Mode,
        name: String,
    ) -> Progress {
        let now = Instant::now();
        let progress = Progress {
            bar,
            multi,
            mode,
            started: now,
            state: Arc::new(Mutex::new(Seen {
                name: name.clone(),
                path: None,
                resumed: None,
                position: 0,
                total: None,
                meter: Meter::default(),
                ticker: Ticker::new(now),
                last_json: None,
            })),
            totals,
        };
        if let Some(bar) = &progress.bar {
            bar.set_style(
                ProgressStyle::with_template("{prefix}{msg} connecting…")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_message(name);
        }
        progress.json("connecting", None);
        progress
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

    /// Prints a notice line (above the bar, if any), cut to the terminal's width there.
    fn notice(&self, text: &str) {
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => self.json("notice", Some(text)),
            Mode::Auto | Mode::Lines => {
                let mut line = format!("durl: {text}");
                if self.bar.is_some() {
                    let width = usize::from(console::Term::stderr().size().1).max(20);
                    if line.chars().count() > width {
                        line = line.chars().take(width - 1).collect::<String>() + "…";
                    }
                }
                self.line(&line);
            }
        }
    }

    /// In [`Mode::Json`], one object: name, bytes, total, rate, state (and a message).
    fn json(&self, state: &str, message: Option<&str>) {
        if self.mode != Mode::Json {
            return;
        }
        let value = {
            let mut s = lock(&self.state);
            s.last_json = Some(Instant::now());
            let mut value = serde_json::json!({
                "name": s.name,
                "bytes": s.position,
                "total": s.total,
                "rate": s.meter.rate(Instant::now()) as u64,
                "state": state,
            });
            if let Some(m) = message {
                value["message"] = m.into();
            }
            value
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{value}");
    }

    /// The transfer failed: in [`Mode::Json`], a `failed` object (the error line itself is
    /// printed by the caller).
    pub fn failed(&self, error: &durl_fetch::Error) {
        self.json("failed", Some(&crate::error_line(error)));
    }

    /// The destination the transfer named, if it got that far.
    pub fn destination(&self) -> Option<std::path::PathBuf> {
        lock(&self.state).path.clone()
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
        {
            let mut s = lock(&self.state);
            s.position = bytes;
            s.total = Some(bytes);
        }
        match self.mode {
            Mode::Quiet => {}
            Mode::Json => self.json(
                if already_complete {
                    "already-complete"
                } else {
                    "done"
                },
                None,
            ),
            Mode::Auto | Mode::Lines if already_complete => self.line(&format!(
                "{}: already complete ({})",
                path.display(),
                HumanBytes(bytes)
            )),
            Mode::Auto | Mode::Lines => {
                let (moved, resumed) = {
                    let s = lock(&self.state);
                    (s.meter.moved(), s.resumed.unwrap_or(0))
                };
                let name = path.display().to_string();
                let elapsed = self.started.elapsed();
                self.line(&meter::summary_line(&name, bytes, moved, elapsed, resumed));
            }
        }
    }

    /// A new attempt starts at `resumed_from` of `total`.
    fn started(&self, path: &Path, total: Option<u64>, resumed_from: u64) {
        let now = Instant::now();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (resumed, old_position, first) = {
            let mut s = lock(&self.state);
            s.path = Some(path.to_owned());
            let first = s.resumed.is_none();
            // Only the run's first start resumes an earlier run's bytes; a retry inside the
            // run continues where it was.
            let resumed = *s.resumed.get_or_insert(resumed_from);
            let old = s.position;
            s.position = resumed_from;
            s.total = total;
            s.name = name.clone();
            s.meter.restart(now);
            s.ticker.skip_to(resumed_from, total);
            (resumed, old, first)
        };
        if let Some(totals) = &self.totals {
            let mut t = lock(totals);
            if first {
                t.total += total.unwrap_or(0);
            }
            t.position = t.position + resumed_from - old_position.min(t.position);
        }
        if let Some(bar) = &self.bar {
            // Length and position first, so that the first drawing in this style is right.
            match total {
                Some(t) => bar.set_length(t),
                None => bar.unset_length(),
            }
            bar.set_position(resumed_from);
            bar.set_message(name);
            bar.set_style(style(total.is_some(), resumed, &self.state));
        }
        self.json("transferring", None);
    }

    /// `bytes` more bytes moved.
    fn moved(&self, bytes: u64) {
        let now = Instant::now();
        let (plain, json_due) = {
            let mut s = lock(&self.state);
            s.position += bytes;
            s.meter.add(now, bytes);
            let plain =
                (matches!(self.mode, Mode::Auto | Mode::Lines) && self.bar.is_none()).then(|| {
                    let (position, total) = (s.position, s.total);
                    s.ticker
                        .due(now, position, total)
                        .then(|| meter::plain_line(&s.name, position, total, s.meter.rate(now)))
                });
            let json_due = s
                .last_json
                .is_none_or(|t| now.saturating_duration_since(t) >= JSON_EVERY);
            (plain.flatten(), json_due)
        };
        if let Some(totals) = &self.totals {
            let mut t = lock(totals);
            t.position += bytes;
            t.meter.add(now, bytes);
        }
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
        if let Some(line) = plain {
            self.line(&line);
        }
        if json_due {
            self.json("transferring", None);
        }
    }
}

/// The bar of a started transfer: percent, bytes, this run's rate and the ETA from it (read
/// from `state` at each redraw, so right from the first one after a resume).
fn style(known_total: bool, resumed: u64, state: &Arc<Mutex<Seen>>) -> ProgressStyle {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let bar = if color {
        "{bar:30.cyan/blue}"
    } else {
        "{bar:30}"
    };
    let resumed = if resumed > 0 {
        format!(" (resumed at {})", HumanBytes(resumed))
    } else {
        String::new()
    };
    let template = if known_total {
        format!(
            "{{prefix}}{{msg}} {{percent:>3}}% {bar} {{bytes}}/{{total_bytes}} {{speed}} ETA {{left}}{resumed}"
        )
    } else {
        format!("{{prefix}}{{msg}} {{bytes}} {{speed}}{resumed}")
    };
    let speed = state.clone();
    let left = state.clone();
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key(
            "speed",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let rate = lock(&speed).meter.rate(Instant::now());
                let _ = write!(w, "{}/s", HumanBytes(rate as u64));
            },
        )
        .with_key(
            "left",
            move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let s = lock(&left);
                let rest = s.total.unwrap_or(0).saturating_sub(s.position);
                let _ = match meter::eta(rest, s.meter.rate(Instant::now())) {
                    Some(d) => write!(w, "{}", HumanDuration(d)),
                    None => write!(w, "-"),
                };
            },
        )
}

impl Reporter for Progress {
    fn report(&self, event: Event<'_>) {
        match event {
            Event::Progress { bytes } => self.moved(bytes),
            Event::Started {
                path,
                total,
                resumed_from,
            } => self.started(path, total, resumed_from),
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
                lock(&self.state).resumed = Some(0);
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
                let name = lock(&self.state).name.clone();
                self.notice(&format!(
                    "{name}: {}; retry {attempt} in {:.1} s",
                    reason(error),
                    delay.as_secs_f64()
                ));
            }
            Event::NoStrongValidator => self.notice(
                "the server sends no strong validator (ETag or Last-Modified): \
                 a resume fetches the 64 KiB before it again to compare",
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

/// The short reason of a retryable failure: its innermost cause (e.g. "Connection refused
/// (os error 111)"), or the error itself when it has none.
fn reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

//! `durl get`: resolves the arguments into `durl_fetch` requests, runs them, and reports.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use durl_fetch::header::{HeaderMap, HeaderName, HeaderValue};
use durl_fetch::{CancellationToken, ErrorKind, GetRequest};

use crate::args::GetArgs;
use crate::exit::{self, UsageError};
use crate::progress::Progress;

/// Runs `durl get`.
pub fn run(args: GetArgs) -> anyhow::Result<ExitCode> {
    if args.urls.len() > 1 && args.output.is_some() {
        return Err(UsageError("--output takes a single URL".into()).into());
    }
    let cancel = CancellationToken::new();
    let requests = args
        .urls
        .iter()
        .map(|url| request(&args, url, &cancel))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let signal = Arc::new(AtomicU8::new(0));
    runtime.spawn(watch_signals(cancel.clone(), signal.clone()));

    let mut worst = exit::OK;
    for req in &requests {
        let progress = Progress::new(args.quiet);
        let result = runtime.block_on(durl_fetch::get(req, &progress));
        progress.clear();
        if let Err(e) = result {
            let code = match e.kind() {
                ErrorKind::Interrupted => match signal.load(Ordering::SeqCst) {
                    0 => exit::SIGINT,
                    code => code,
                },
                kind => exit::for_fetch_error(kind),
            };
            report_failure(&e, req);
            worst = worst.max(code);
            if e.kind() == ErrorKind::Interrupted {
                break;
            }
        }
    }
    Ok(exit::code(worst))
}

/// Prints the one-line error and, where there is one, the one-line hint.
#[expect(clippy::print_stderr, reason = "the binary reports errors on stderr")]
fn report_failure(e: &durl_fetch::Error, req: &GetRequest) {
    eprintln!("durl: {}", crate::error_line(e));
    let hint = match e.kind() {
        ErrorKind::Interrupted | ErrorKind::Network | ErrorKind::Io => {
            Some("the partial download is kept: run the same command again to continue")
        }
        ErrorKind::Exists => {
            Some("use -c/--continue to complete or check it, or --force to replace it")
        }
        _ => None,
    };
    if let Some(hint) = hint {
        eprintln!("hint: {hint} ({})", req.url());
    }
}

/// Turns the arguments into one validated request for `url`.
fn request(args: &GetArgs, url: &str, cancel: &CancellationToken) -> anyhow::Result<GetRequest> {
    let secs = |name: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(UsageError(format!(
                "{name} must be a positive number of seconds, not {v}"
            )))
        }
    };
    let mut req = GetRequest::new(url)
        .map_err(|e| UsageError(crate::error_line(&e)))?
        .connections(usize::from(args.connections))
        .limit_rate(args.limit_rate)
        .checksum(args.checksum.clone())
        .continue_existing(args.continue_)
        .overwrite(args.force)
        .retries(args.retries)
        .retry_delay(
            secs("--retry-delay", args.retry_delay)?,
            Duration::from_secs(60),
        )
        .stall_timeout(secs("--stall-timeout", args.stall_timeout)?)
        .connect_timeout(secs("--connect-timeout", args.connect_timeout)?)
        .max_redirects(args.max_redirects)
        .checkpoint_interval(
            secs("--checkpoint-interval", args.checkpoint_interval)?,
            64 << 20,
        )
        .headers(headers(&args.headers)?)
        .insecure(args.insecure)
        .cancel_token(cancel.clone());
    if let Some(ua) = &args.user_agent {
        req = req.user_agent(ua.clone());
    }
    if let Some(ca) = &args.cacert {
        req = req.root_certificate(ca);
    }
    // No -d: an empty base, so that names print as `file.iso`, not `./file.iso`.
    let dir = args.dir.clone().unwrap_or_default();
    req = match &args.output {
        Some(out) => req.output(dir.join(out)),
        None => req.dir(dir),
    };
    Ok(req)
}

/// Parses `-H "Name: value"` arguments.
fn headers(raw: &[String]) -> Result<HeaderMap, UsageError> {
    let mut map = HeaderMap::new();
    for h in raw {
        let bad = || UsageError(format!("invalid header {h:?}: expected \"Name: value\""));
        let (name, value) = h.split_once(':').ok_or_else(bad)?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
        map.append(name, value);
    }
    Ok(map)
}

/// Cancels the downloads on SIGINT, SIGTERM or SIGHUP (a closed terminal) and remembers which
/// arrived.
async fn watch_signals(cancel: CancellationToken, which: Arc<AtomicU8>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return;
    };
    let code = tokio::select! {
        _ = tokio::signal::ctrl_c() => exit::SIGINT,
        _ = term.recv() => exit::SIGTERM,
        _ = hup.recv() => exit::SIGHUP,
    };
    which.store(code, Ordering::SeqCst);
    cancel.cancel();
}

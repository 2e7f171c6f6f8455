//! `durl put`: resolves the arguments into a `durl_fetch::PutRequest`, runs it with the same
//! progress bar, signals and exit codes as `durl get`, and reports.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use durl_fetch::{CancellationToken, ErrorKind, PutRequest};

use crate::args::PutArgs;
use crate::exit::{self, UsageError};
use crate::get::{headers, secs};
use crate::progress::Progress;

/// Runs `durl put`.
pub fn run(args: PutArgs) -> anyhow::Result<ExitCode> {
    let cancel = CancellationToken::new();
    let req = request(&args, &cancel)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let signal = Arc::new(AtomicU8::new(0));
    runtime.spawn(crate::get::watch_signals(cancel.clone(), signal.clone()));
    let progress = Progress::new(args.quiet);
    let result = runtime.block_on(durl_fetch::put(&req, &progress));
    progress.clear();
    Ok(exit::code(match result {
        Ok(_) => exit::OK,
        Err(e) => {
            report_failure(&e, &req);
            match e.kind() {
                ErrorKind::Interrupted => match signal.load(Ordering::SeqCst) {
                    0 => exit::SIGINT,
                    code => code,
                },
                kind => exit::for_fetch_error(kind),
            }
        }
    }))
}

/// Turns the arguments into one validated request.
fn request(args: &PutArgs, cancel: &CancellationToken) -> anyhow::Result<PutRequest> {
    let mut req = PutRequest::new(&args.local, &args.url)
        .map_err(|e| UsageError(crate::error_line(&e)))?
        .overwrite(args.force)
        .limit_rate(args.limit_rate)
        .retries(args.retries)
        .retry_delay(
            secs("--retry-delay", args.retry_delay)?,
            Duration::from_secs(60),
        )
        .stall_timeout(secs("--stall-timeout", args.stall_timeout)?)
        .connect_timeout(secs("--connect-timeout", args.connect_timeout)?)
        .ftp_tls(args.ftp_ssl)
        .headers(headers(&args.headers)?)
        .insecure(args.insecure)
        .cancel_token(cancel.clone());
    if let Some(ca) = &args.cacert {
        req = req.root_certificate(ca);
    }
    Ok(req)
}

/// Prints the one-line error and, where there is one, the one-line hint.
#[expect(clippy::print_stderr, reason = "the binary reports errors on stderr")]
fn report_failure(e: &durl_fetch::Error, req: &PutRequest) {
    eprintln!("durl: {}", crate::error_line(e));
    let hint = match e.kind() {
        ErrorKind::Interrupted | ErrorKind::Network if req.url().scheme() != "ftp" => {
            Some("the upload is remembered beside the file: run the same command again to continue")
        }
        ErrorKind::Interrupted | ErrorKind::Network => {
            Some("the server keeps what it received: run the same command again to continue")
        }
        ErrorKind::Exists => Some("use --force to replace the remote file"),
        _ => None,
    };
    if let Some(hint) = hint {
        eprintln!("hint: {hint} ({})", req.url());
    }
}

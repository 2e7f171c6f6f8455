//! `durl daemon`: resolve the arguments into a `durl_daemon::Config`, bind, print the URL, and
//! run until SIGINT or SIGTERM (every running download checkpoints, exit 0) or until a client
//! calls `aria2.shutdown`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use crate::args::DaemonArgs;
use crate::exit::UsageError;

/// Runs `durl daemon`.
pub fn run(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let secret = secret(&args)?;
    let state_dir = match &args.state_dir {
        Some(d) => d.clone(),
        None => default_state_dir()?,
    };
    if !(args.checkpoint_interval.is_finite() && args.checkpoint_interval > 0.0) {
        return Err(UsageError("--checkpoint-interval must be a positive number".into()).into());
    }
    let dir = std::path::absolute(&args.dir)
        .with_context(|| format!("cannot resolve {}", args.dir.display()))?;
    let config = durl_daemon::Config::new(&state_dir, dir)
        .secret(secret)
        .max_concurrent_downloads(usize::from(args.jobs))
        .max_overall_download_limit(args.limit_rate)
        .connections(
            usize::from(args.max_connections),
            usize::from(args.max_per_host),
        )
        .checkpoint_interval(Duration::from_secs_f64(args.checkpoint_interval))
        .rpc_connections(
            usize::from(args.rpc_max_connections),
            usize::from(args.rpc_max_per_client),
        );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(daemon(args, config, state_dir))
}

/// `--secret`, or the first line of `--secret-file`.
fn secret(args: &DaemonArgs) -> anyhow::Result<Option<String>> {
    if let Some(path) = &args.secret_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secret file {}", path.display()))
            .map_err(|e| UsageError(format!("{e:#}")))?;
        let line = text.lines().next().unwrap_or_default().trim().to_owned();
        if line.is_empty() {
            return Err(UsageError(format!("the secret file {} is empty", path.display())).into());
        }
        return Ok(Some(line));
    }
    Ok(args.secret.clone().filter(|s| !s.is_empty()))
}

/// `$XDG_STATE_HOME/durl`, else `~/.local/state/durl` (XDG Base Directory Specification).
fn default_state_dir() -> anyhow::Result<PathBuf> {
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        let state = PathBuf::from(state);
        // The specification ignores relative paths.
        if state.is_absolute() {
            return Ok(state.join("durl"));
        }
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            UsageError("neither XDG_STATE_HOME nor HOME is set: give --state-dir".into())
        })?;
    Ok(PathBuf::from(home).join(".local/state/durl"))
}

async fn daemon(
    args: DaemonArgs,
    config: durl_daemon::Config,
    state_dir: PathBuf,
) -> anyhow::Result<ExitCode> {
    let listener = TcpListener::bind((args.bind.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    config
        .check_bind(addr)
        .map_err(|e| UsageError(crate::error_line(&e)))?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    announce(addr, &state_dir);
    durl_daemon::run(listener, config, async {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

/// Prints where the daemon listens: the URL on stdout (scripts using `--port 0` read it).
#[expect(clippy::print_stdout, reason = "the URL is the command's output")]
fn announce(addr: std::net::SocketAddr, state_dir: &std::path::Path) {
    println!(
        "durl daemon at http://{addr}/ (JSON-RPC at http://{addr}/jsonrpc), queue in {}",
        state_dir.display()
    );
    let _ = std::io::stdout().flush();
}

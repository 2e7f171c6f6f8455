//! `durl queue`: hand downloads to a running `durl daemon` and steer them (add, list, pause,
//! resume, remove) over its JSON-RPC.
//!
//! A family of its own rather than `durl get --daemon`: `get` waits for its files and its exit
//! code says how they ended, while a queued download outlives the command; and pause, resume and
//! list have no `get` spelling.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use durl_daemon::client::{AddOptions, Client, ClientError, Entry};

use crate::exit::{self, UsageError};

/// Arguments of `durl queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// The daemon's JSON-RPC URL.
    #[arg(
        long,
        value_name = "URL",
        env = "DURL_RPC",
        default_value = "http://127.0.0.1:6800/jsonrpc",
        global = true
    )]
    pub rpc: String,

    /// Read the daemon's secret from the first line of FILE (else $DURL_SECRET).
    #[arg(long, value_name = "FILE", global = true)]
    pub secret_file: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub action: QueueAction,
}

/// The `durl queue` subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueAction {
    /// Queue a download; prints its GID. Several URLs are mirrors of one file.
    Add {
        /// The URL, and mirrors of the same file.
        #[arg(value_name = "URL", required = true)]
        urls: Vec<String>,
        /// The file name (default: from the server or the URL).
        #[arg(short, long, value_name = "NAME")]
        output: Option<String>,
        /// The directory (default: the daemon's --dir); relative to the daemon's directory.
        #[arg(short, long, value_name = "DIR")]
        dir: Option<String>,
        /// Connections for this download.
        #[arg(short = 'x', long, value_name = "N",
              value_parser = clap::value_parser!(u32).range(1..=16))]
        connections: Option<u32>,
        /// Verify the file: ALGO=HEX (sha-256, sha-512, sha-1, md5).
        #[arg(long, value_name = "ALGO=HEX")]
        checksum: Option<String>,
        /// Add it paused.
        #[arg(long)]
        paused: bool,
    },
    /// List the daemon's downloads: GID, state, progress, rate, file.
    List {
        /// One JSON object per download, one per line.
        #[arg(long)]
        json: bool,
    },
    /// Pause downloads (their partial is checkpointed).
    Pause(Selection),
    /// Resume paused downloads.
    Resume(Selection),
    /// Remove downloads from the queue (their files stay on disk).
    Remove {
        /// The GIDs (16 hex digits, as `durl queue list` shows them).
        #[arg(value_name = "GID", required = true)]
        gids: Vec<String>,
    },
}

/// GIDs, or every download.
#[derive(Debug, Args)]
pub struct Selection {
    /// The GIDs (16 hex digits, as `durl queue list` shows them).
    #[arg(
        value_name = "GID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    gids: Vec<String>,
    /// Every download.
    #[arg(long)]
    all: bool,
}

/// Runs `durl queue`.
pub fn run(args: QueueArgs) -> anyhow::Result<ExitCode> {
    let secret = secret(&args)?;
    let client = Client::new(&args.rpc, secret).map_err(|e| UsageError(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(act(&client, args.action)) {
        Ok(()) => Ok(exit::code(exit::OK)),
        Err(e) => {
            report(&e);
            Ok(exit::code(exit_code(&e)))
        }
    }
}

/// The exit code of a failed call (README's table).
fn exit_code(e: &ClientError) -> u8 {
    match e {
        ClientError::Url { .. } => exit::USAGE,
        ClientError::Connect { .. }
        | ClientError::Transport { .. }
        | ClientError::Timeout { .. } => exit::NETWORK,
        ClientError::Status { .. } | ClientError::Unauthorized { .. } => exit::HTTP,
        ClientError::Answer { .. } => exit::PROTOCOL,
        _ => exit::OTHER,
    }
}

async fn act(client: &Client, action: QueueAction) -> Result<(), ClientError> {
    match action {
        QueueAction::Add {
            urls,
            output,
            dir,
            connections,
            checksum,
            paused,
        } => {
            let options = AddOptions {
                out: output,
                dir,
                connections,
                checksum,
                paused,
            };
            let gid = client.add(&urls, &options).await?;
            print_line(&gid);
        }
        QueueAction::List { json } => {
            let entries = client.list().await?;
            for e in &entries {
                print_line(&if json { as_json(e) } else { as_row(e) });
            }
        }
        QueueAction::Pause(s) if s.all => client.pause_all().await?,
        QueueAction::Pause(s) => {
            for gid in &s.gids {
                client.pause(gid).await?;
            }
        }
        QueueAction::Resume(s) if s.all => client.resume_all().await?,
        QueueAction::Resume(s) => {
            for gid in &s.gids {
                client.resume(gid).await?;
            }
        }
        QueueAction::Remove { gids } => {
            for gid in &gids {
                client.remove(gid).await?;
            }
        }
    }
    Ok(())
}

/// `--secret-file`'s first line, else `$DURL_SECRET`.
fn secret(args: &QueueArgs) -> anyhow::Result<Option<String>> {
    if let Some(path) = &args.secret_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            UsageError(format!(
                "cannot read the secret file {}: {e}",
                path.display()
            ))
        })?;
        let line = text.lines().next().unwrap_or_default().trim().to_owned();
        if line.is_empty() {
            return Err(UsageError(format!("the secret file {} is empty", path.display())).into());
        }
        return Ok(Some(line));
    }
    Ok(std::env::var("DURL_SECRET").ok().filter(|s| !s.is_empty()))
}

/// `GID  STATE  HELD/TOTAL (PCT)  RATE  FILE-OR-URL  [error]`.
fn as_row(e: &Entry) -> String {
    let held = indicatif::HumanBytes(e.completed).to_string();
    let progress = match e.total {
        Some(total) => format!(
            "{held}/{} ({}%)",
            indicatif::HumanBytes(total),
            e.completed
                .saturating_mul(100)
                .checked_div(total)
                .unwrap_or(100)
        ),
        None => held,
    };
    let rate = if e.status == "active" {
        format!("{}/s", indicatif::HumanBytes(e.speed))
    } else {
        "-".to_owned()
    };
    let url = redacted(&e.url);
    let what = if e.path.is_empty() { &url } else { &e.path };
    let mut row = format!(
        "{}  {:<8}  {progress:<24}  {rate:>12}  {what}",
        e.gid, e.status
    );
    if let Some(error) = &e.error {
        row.push_str("  (");
        row.push_str(error);
        row.push(')');
    }
    row
}

fn as_json(e: &Entry) -> String {
    serde_json::json!({
        "gid": e.gid,
        "status": e.status,
        "path": e.path,
        "url": redacted(&e.url),
        "total": e.total,
        "completed": e.completed,
        "speed": e.speed,
        "error": e.error,
    })
    .to_string()
}

/// The URL with its password (if any) replaced by `***`.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

#[expect(
    clippy::print_stdout,
    reason = "GIDs and the list are the command's output"
)]
fn print_line(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

#[expect(clippy::print_stderr, reason = "the binary reports a failed call")]
fn report(e: &ClientError) {
    eprintln!("durl: {}", crate::error_line(e));
}

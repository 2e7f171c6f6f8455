//! `durl put`: resolves the arguments (files on the command line and in `-i` lists) into
//! `durl_fetch::PutRequest`s, runs them with the same progress bars, signals and exit codes
//! as `durl get`, and reports.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use durl_fetch::{BatchOptions, CancellationToken, Error, ErrorKind, PutOutcome, PutRequest};

use crate::args::PutArgs;
use crate::batch::{Batch, Tally, failure_json};
use crate::exit::{self, LOGIN_HINT, UsageError};
use crate::network;
use crate::progress::{Mode, Progress};
use crate::put_list::{self, PutEntry};
use crate::stop::Stop;

/// Runs `durl put`.
pub fn run(args: PutArgs) -> anyhow::Result<ExitCode> {
    let stdin_list = args
        .input_file
        .as_ref()
        .is_some_and(|p| p.as_os_str() == "-");
    let network = network::network(&args.net, stdin_list)?;
    let entries = entries(&args)?;
    let stop = Stop::new(network::max_time(&args.net)?);
    let requests = entries
        .iter()
        .map(|(entry, url)| request(&args, &network, &entry.local, url, &stop.cancel))
        .collect::<anyhow::Result<Vec<_>>>()?;
    check_collisions(&args, &entries, &requests)?;
    let runtime = stop.runtime()?;
    let mode = Mode::of(args.quiet, args.progress, args.net.verbose);
    let names: Vec<String> = entries
        .iter()
        .map(|(e, _)| e.local.display().to_string())
        .collect();

    if requests.len() > 1 || args.input_file.is_some() {
        let reporter = Batch::new(mode, names);
        let jobs = usize::from(args.jobs);
        let options = BatchOptions {
            jobs,
            max_connections: jobs,
            per_host: jobs,
        };
        let results = runtime.block_on(durl_fetch::put_all(&requests, options, &reporter));
        reporter.finish();
        let tally = Tally::of(&results, |o| o.already_complete);
        let name = |i: usize| requests[i].local().display().to_string();
        tally.summary(args.quiet, "uploaded", name, &results);
        if args.json {
            print_json(&requests, &results);
        }
        if let Some(expired) = stop.expired() {
            crate::get::report_expired(&expired);
        }
        return Ok(tally.exit_code(|| stop.code()));
    }

    let req = &requests[0];
    let progress = Progress::new(mode, names[0].clone());
    let result = runtime.block_on(durl_fetch::put(req, &progress));
    progress.clear();
    if args.json {
        print_json(&requests, std::slice::from_ref(&result));
    }
    Ok(exit::code(match result {
        Ok(_) => exit::OK,
        Err(e) => {
            progress.failed(&e);
            report_failure(&e, req, stop.expired());
            match e.kind() {
                ErrorKind::Interrupted => stop.code(),
                kind => exit::for_fetch_error(kind),
            }
        }
    }))
}

/// The files to upload, each with its URL: the command line's files, then the list's, each
/// to its own `to=` or else to the command line's URL (its last argument).
fn entries(args: &PutArgs) -> anyhow::Result<Vec<(PutEntry, String)>> {
    let mut targets = args.targets.clone();
    if args.input_file.is_none() && targets.len() < 2 {
        return Err(
            UsageError("durl put needs LOCAL and the URL to upload it to (last)".into()).into(),
        );
    }
    let url = targets
        .pop()
        .map(|u| {
            u.into_os_string().into_string().map_err(|u| {
                UsageError(format!(
                    "the URL {} is not valid UTF-8",
                    Path::new(&u).display()
                ))
            })
        })
        .transpose()?;
    let mut entries: Vec<PutEntry> = targets
        .into_iter()
        .map(|local| PutEntry {
            local,
            to: None,
            line: 0,
        })
        .collect();
    if let Some(path) = &args.input_file {
        let text = crate::input_file::read(path)?;
        let listed = put_list::parse(&text)
            .map_err(|e| UsageError(format!("{}:{}: {}", path.display(), e.line, e.message)))?;
        entries.extend(listed);
    }
    if entries.is_empty() {
        return Err(UsageError("no file to upload".into()).into());
    }
    entries
        .into_iter()
        .map(|entry| {
            let to = entry.to.clone().or_else(|| url.clone()).ok_or_else(|| {
                UsageError(format!(
                    "{}: no to= for {} and no URL on the command line",
                    origin(args, &entry),
                    entry.local.display()
                ))
            })?;
            Ok((entry, to))
        })
        .collect()
}

/// Where an entry comes from, for messages: `LIST:LINE` or the file name.
fn origin(args: &PutArgs, entry: &PutEntry) -> String {
    match (&args.input_file, entry.line) {
        (Some(list), line) if line > 0 => format!("{}:{line}", list.display()),
        _ => entry.local.display().to_string(),
    }
}

/// The same local file twice (two uploads sharing one state file), or two files onto the same
/// FTP path, is an error up front, not a race.
fn check_collisions(
    args: &PutArgs,
    entries: &[(PutEntry, String)],
    requests: &[PutRequest],
) -> Result<(), UsageError> {
    let mut locals: HashMap<PathBuf, usize> = HashMap::new();
    let mut remotes: HashMap<String, usize> = HashMap::new();
    let at = |k: usize| origin(args, &entries[k].0);
    for (i, req) in requests.iter().enumerate() {
        let local = std::fs::canonicalize(req.local()).unwrap_or_else(|_| req.local().to_owned());
        if let Some(&j) = locals.get(&local) {
            return Err(UsageError(format!(
                "{} and {} both upload {}",
                at(j),
                at(i),
                req.local().display()
            )));
        }
        locals.insert(local, i);
        if req.url().scheme() == "ftp" {
            let url = durl_fetch::Redacted(req.url()).to_string();
            if let Some(&j) = remotes.get(&url) {
                return Err(UsageError(format!(
                    "{} and {} would both write {url}",
                    at(j),
                    at(i)
                )));
            }
            remotes.insert(url, i);
        }
    }
    Ok(())
}

/// Turns the arguments into one validated request.
fn request(
    args: &PutArgs,
    network: &durl_fetch::Network,
    local: &Path,
    url: &str,
    cancel: &CancellationToken,
) -> anyhow::Result<PutRequest> {
    let req = PutRequest::new(local, url).map_err(|e| UsageError(crate::error_line(&e)))?;
    if !args.meta.is_empty() && req.url().scheme() == "ftp" {
        return Err(UsageError(format!(
            "--meta is for tus uploads (http/https URLs); {} is FTP, which has no metadata",
            durl_fetch::Redacted(req.url())
        ))
        .into());
    }
    let req = req
        .metadata(args.meta.iter().cloned())
        .overwrite(args.force)
        .limit_rate(args.limit_rate)
        .network(network.clone())
        .cancel_token(cancel.clone());
    Ok(req)
}

/// Prints one JSON object per file on stdout.
fn print_json(requests: &[PutRequest], results: &[Result<PutOutcome, Error>]) {
    let mut out = std::io::stdout().lock();
    for (req, result) in requests.iter().zip(results) {
        let shown = durl_fetch::Redacted(req.url()).to_string();
        let value = match result {
            Ok(o) => serde_json::json!({
                "local": req.local().display().to_string(),
                "url": durl_fetch::Redacted(&o.url).to_string(),
                "bytes": o.bytes,
                "sent": o.sent,
                "resumed_from": o.resumed_from,
                "status": if o.already_complete { "already-complete" } else { "done" },
            }),
            Err(e) => {
                let mut value = failure_json(&shown, e);
                value["local"] = req.local().display().to_string().into();
                value
            }
        };
        let _ = writeln!(out, "{value}");
    }
    let _ = out.flush();
}

/// Prints the one-line error and, where there is one, the one-line hint.
#[expect(clippy::print_stderr, reason = "the binary reports errors on stderr")]
fn report_failure(e: &durl_fetch::Error, req: &PutRequest, expired: Option<String>) {
    let line = match e {
        // In the units of the progress bar.
        durl_fetch::Error::UploadInterrupted {
            url,
            sent,
            server_has,
            ..
        } => match server_has {
            Some(held) => format!(
                "interrupted after sending {} to {url}; the server has {}",
                indicatif::HumanBytes(*sent),
                indicatif::HumanBytes(*held)
            ),
            None => format!(
                "interrupted after sending {} to {url}",
                indicatif::HumanBytes(*sent)
            ),
        },
        e => crate::error_line(e),
    };
    match expired {
        Some(expired) => eprintln!("durl: {expired}: {line}"),
        None => eprintln!("durl: {line}"),
    }
    let hint = match e.kind() {
        ErrorKind::Interrupted | ErrorKind::Network if req.url().scheme() != "ftp" => {
            Some("the upload is remembered beside the file: run the same command again to continue")
        }
        ErrorKind::Interrupted | ErrorKind::Network => {
            Some("the server keeps what it received: run the same command again to continue")
        }
        ErrorKind::LoginRefused => Some(LOGIN_HINT),
        ErrorKind::Exists if req.url().scheme() != "ftp" => Some(
            "the server keeps its file of that name (durl serve replaces files only with --overwrite)",
        ),
        ErrorKind::Exists => Some("use --force to replace the remote file"),
        _ => None,
    };
    if let Some(hint) = hint {
        eprintln!("hint: {hint} ({})", durl_fetch::Redacted(req.url()));
    }
}

//! `durl get`: resolves the arguments into `durl_fetch` requests, runs them, and reports.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use durl_fetch::header::{HeaderValue, REFERER};
use durl_fetch::{CancellationToken, ErrorKind, GetRequest};

use crate::args::GetArgs;
use crate::exit::{self, LOGIN_HINT, LocalError, UsageError};
use crate::input_file::{self, Entry};
use crate::network::{self, secs};
use crate::progress::{Mode, Progress};
use crate::stop::Stop;

/// Runs `durl get`.
pub fn run(mut args: GetArgs) -> anyhow::Result<ExitCode> {
    // wget's `-O -` (durl's -O is curl's flag, so the `-` arrives as a URL).
    if args.remote_name && args.urls.iter().any(|u| u == "-") {
        args.urls.retain(|u| u != "-");
        args.output = Some("-".into());
    }
    let to_stdout = args.output.as_deref() == Some(std::path::Path::new("-"));
    if to_stdout {
        check_stdout_options(&args)?;
    }
    let mut network = network::network(&args.net, args.list_from_stdin())?;
    let entries = entries(&args)?;
    let stop = Stop::new(network::max_time(&args.net)?);
    if let Some(referer) = &args.referer {
        let value = HeaderValue::from_str(referer)
            .map_err(|_| UsageError(format!("invalid --referer {referer:?}")))?;
        let mut headers = network.get_headers().clone();
        headers.insert(REFERER, value);
        network = network.headers(headers);
    }
    let requests = entries
        .iter()
        .map(|entry| request(&args, &network, entry, &stop.cancel))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if args.head {
        if let Some(url) = args.urls.iter().find(|u| !http_url(u)) {
            return Err(UsageError(format!(
                "-I/--head takes http:// and https:// URLs, not {}",
                durl_fetch::redact_text(url)
            ))
            .into());
        }
        return heads(&requests);
    }
    if to_stdout {
        return to_stdout_run(&args, &requests[0], &stop);
    }
    create_dirs(&args, &entries)?;
    let runtime = stop.runtime()?;
    let mode = Mode::of(args.quiet, args.progress, args.net.verbose);
    let names: Vec<String> = entries.iter().map(|e| shown_name(&args, e)).collect();

    if requests.len() > 1 || args.input_file.is_some() {
        let code = crate::batch::run(&args, &entries, &requests, &runtime, names, || stop.code());
        if let Some(expired) = stop.expired() {
            report_expired(&expired);
        }
        return code;
    }
    let req = &requests[0];
    let progress = Progress::new(mode, names[0].clone());
    let result = runtime.block_on(durl_fetch::get(req, &progress));
    progress.clear();
    if args.json {
        crate::batch::print_json(&[(req, &entries[0], &result)]);
    }
    Ok(exit::code(match result {
        Ok(_) => exit::OK,
        Err(e) => {
            progress.failed(&e);
            let kept = partial_kept(&args, &entries[0], progress.destination());
            report_failure(&e, req, stop.expired(), kept);
            match e.kind() {
                ErrorKind::Interrupted => stop.code(),
                kind => exit::for_fetch_error(kind),
            }
        }
    }))
}

/// `-o -` takes one http(s) URL and none of the options that need a file.
fn check_stdout_options(args: &GetArgs) -> Result<(), UsageError> {
    let refused = [
        (args.continue_, "-c/--continue"),
        (args.checksum.is_some(), "--checksum"),
        (args.connections > 1, "-x/--connections above 1"),
        (args.input_file.is_some(), "-i/--input-file"),
    ];
    if let Some((_, name)) = refused.iter().find(|(given, _)| *given) {
        return Err(UsageError(format!(
            "-o - writes to standard output as the bytes arrive: {name} needs a file"
        )));
    }
    if args.urls.len() != 1 {
        return Err(UsageError("-o - takes exactly one URL".into()));
    }
    if !http_url(&args.urls[0]) {
        return Err(UsageError(
            "-o - takes an http:// or https:// URL (FTP downloads need a file)".into(),
        ));
    }
    Ok(())
}

/// Whether `url` is an `http://` or `https://` URL (scheme case aside).
fn http_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// `-o -`: the body on stdout as it arrives (retries within the run go on from the bytes
/// written); progress and messages on stderr.
#[expect(clippy::print_stderr, reason = "the binary reports errors on stderr")]
fn to_stdout_run(args: &GetArgs, req: &GetRequest, stop: &Stop) -> anyhow::Result<ExitCode> {
    let runtime = stop.runtime()?;
    let progress = Progress::new(
        Mode::of(args.quiet, args.progress, args.net.verbose),
        "-".to_owned(),
    );
    let result = runtime.block_on(async {
        let mut out = tokio::io::stdout();
        durl_fetch::stream(req, &mut out, &progress).await
    });
    progress.clear();
    Ok(exit::code(match result {
        Ok(_) => exit::OK,
        Err(e) => {
            progress.failed(&e);
            let line = match &e {
                durl_fetch::Error::Interrupted { durable, .. } => format!(
                    "interrupted after writing {} to standard output",
                    indicatif::HumanBytes(*durable)
                ),
                e => crate::error_line(e),
            };
            match stop.expired() {
                Some(expired) => eprintln!("durl: {expired}: {line}"),
                None => eprintln!("durl: {line}"),
            }
            if e.kind() == ErrorKind::LoginRefused {
                eprintln!("hint: {LOGIN_HINT} ({})", durl_fetch::Redacted(req.url()));
            }
            match e.kind() {
                ErrorKind::Interrupted => stop.code(),
                kind => exit::for_fetch_error(kind),
            }
        }
    }))
}

/// `-I`: prints the response head of each request on stdout (status line, headers, an empty
/// line, with CRLF as curl -I), errors on stderr; the exit code is the first failure's.
#[expect(clippy::print_stderr, reason = "the binary reports errors on stderr")]
fn heads(requests: &[GetRequest]) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let mut code = exit::OK;
    let mut out = std::io::stdout().lock();
    for req in requests {
        let failure = match runtime.block_on(durl_fetch::head(req)) {
            Ok(head) => {
                let mut text = format!("{} {} {}", head.version, head.status, head.reason)
                    .trim_end()
                    .to_owned();
                text.push_str("\r\n");
                for (name, value) in &head.headers {
                    text.push_str(&format!(
                        "{name}: {}\r\n",
                        String::from_utf8_lossy(value.as_bytes())
                    ));
                }
                text.push_str("\r\n");
                out.write_all(text.as_bytes())
                    .and_then(|()| out.flush())
                    .context("cannot write to standard output")?;
                head.refusal()
            }
            Err(e) => {
                eprintln!("durl: {}", crate::error_line(&e));
                Some(e)
            }
        };
        if let Some(e) = failure
            && code == exit::OK
        {
            if e.kind() == ErrorKind::LoginRefused {
                eprintln!("hint: {LOGIN_HINT} ({})", durl_fetch::Redacted(req.url()));
            }
            code = exit::for_fetch_error(e.kind());
        }
    }
    Ok(exit::code(code))
}

/// Says that `--max-time` stopped a list.
#[expect(clippy::print_stderr, reason = "the binary reports errors on stderr")]
pub(crate) fn report_expired(expired: &str) {
    eprintln!(
        "durl: {expired}; the partial downloads are kept: run the same command again to continue"
    );
}

/// The name a transfer shows before the server has answered: `-o`/`out=`, else the URL's.
fn shown_name(args: &GetArgs, entry: &Entry) -> String {
    match entry.out.as_ref().or(args.output.as_ref()) {
        Some(out) => out.display().to_string(),
        None => url::Url::parse(&entry.urls[0])
            .map(|u| durl_fetch::file_name_for(&u))
            .unwrap_or_default(),
    }
}

/// Creates `-d DIR` (and the `dir=` of list entries under it) where missing, as aria2c's
/// `-d`, wget's `-P` and curl's `--create-dirs` do.
fn create_dirs(args: &GetArgs, entries: &[Entry]) -> Result<(), LocalError> {
    let mut dirs: Vec<PathBuf> = entries.iter().map(|e| dir_of(args, e)).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs.iter().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            LocalError(format!(
                "cannot create the directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// The entries to download: the URLs on the command line, then the input file's.
fn entries(args: &GetArgs) -> anyhow::Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = args.urls.iter().map(|u| Entry::url(u)).collect();
    if let Some(path) = &args.input_file {
        let text = input_file::read(path)?;
        let listed = input_file::parse(&text)
            .map_err(|e| UsageError(format!("{}:{}: {}", path.display(), e.line, e.message)))?;
        entries.extend(listed);
    }
    if entries.is_empty() {
        return Err(UsageError("no URL to download".into()).into());
    }
    if entries.len() > 1 && args.output.is_some() {
        return Err(
            UsageError("--output takes a single URL; use out= lines in a list".into()).into(),
        );
    }
    check_collisions(args, &entries)?;
    Ok(entries)
}

/// Two entries that would write the same file are an error up front, not an overwrite.
/// (Names a server gives later through Content-Disposition are guarded by the part-file
/// lock and the no-clobber rule.)
fn check_collisions(args: &GetArgs, entries: &[Entry]) -> Result<(), UsageError> {
    let mut seen: std::collections::HashMap<std::path::PathBuf, usize> = Default::default();
    for (i, entry) in entries.iter().enumerate() {
        let Ok(url) = url::Url::parse(&entry.urls[0]) else {
            continue; // reported by request()
        };
        let name = match &entry.out {
            Some(out) => out.clone(),
            None => durl_fetch::file_name_for(&url).into(),
        };
        let path = dir_of(args, entry).join(name);
        if let Some(&j) = seen.get(&path) {
            let at = |k: usize| match entries[k].line {
                0 => format!("URL {}", entries[k].urls[0]),
                n => format!("line {n}"),
            };
            return Err(UsageError(format!(
                "{} and {} would both write {}",
                at(j),
                at(i),
                path.display()
            )));
        }
        seen.insert(path, i);
    }
    Ok(())
}

/// The directory an entry goes to: `-d`, then the entry's `dir=` under it.
fn dir_of(args: &GetArgs, entry: &Entry) -> std::path::PathBuf {
    let base = args.dir.clone().unwrap_or_default();
    match &entry.dir {
        Some(d) => base.join(d),
        None => base,
    }
}

/// Whether a partial download with its state is on disk for `entry` after a failure: at the
/// destination the transfer named, or at the name known before it started.
fn partial_kept(args: &GetArgs, entry: &Entry, named: Option<PathBuf>) -> bool {
    let before = PathBuf::from(shown_name(args, entry));
    let before = dir_of(args, entry).join(before);
    named.into_iter().chain([before]).any(|path| {
        let mut state = path.into_os_string();
        state.push(".durl-state");
        std::fs::symlink_metadata(PathBuf::from(state)).is_ok_and(|m| m.is_file())
    })
}

/// The hint for a local file error where nothing was kept: what is true of the path.
fn io_hint(e: &durl_fetch::Error) -> Option<String> {
    let durl_fetch::Error::Io { op, path, source } = e.root() else {
        return None;
    };
    if *op == "cannot write to directory" {
        return Some(format!(
            "-o names a directory ({}): give a file name, or -d DIR to download into it",
            path.display()
        ));
    }
    match source.kind() {
        std::io::ErrorKind::InvalidFilename => {
            Some("the name is too long for the file system: give a shorter one with -o".into())
        }
        std::io::ErrorKind::NotFound => {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty())?;
            (!parent.exists()).then(|| {
                format!(
                    "the directory {} does not exist: create it, or use -d DIR (created if missing)",
                    parent.display()
                )
            })
        }
        _ => None,
    }
}

/// Prints the one-line error and, where there is one, the one-line hint. `kept`: a partial
/// with its state is on disk, so running the command again continues it.
#[expect(clippy::print_stderr, reason = "the binary reports errors on stderr")]
pub(crate) fn report_failure(
    e: &durl_fetch::Error,
    req: &GetRequest,
    expired: Option<String>,
    kept: bool,
) {
    let line = match e {
        // In the units of the progress bar.
        durl_fetch::Error::Interrupted { path, durable, .. } => format!(
            "interrupted: {} of {} saved",
            indicatif::HumanBytes(*durable),
            path.display()
        ),
        e => crate::error_line(e),
    };
    match expired {
        Some(expired) => eprintln!("durl: {expired}: {line}"),
        None => eprintln!("durl: {line}"),
    }
    let hint = match e.kind() {
        // Refused before anything was written: there is no partial to continue.
        _ if matches!(e.root(), durl_fetch::Error::NotRegularFile { .. }) => None,
        ErrorKind::Interrupted | ErrorKind::Network | ErrorKind::Io if kept => {
            Some("the partial download is kept: run the same command again to continue".to_owned())
        }
        ErrorKind::Io => io_hint(e),
        ErrorKind::LoginRefused => Some(LOGIN_HINT.to_owned()),
        ErrorKind::Exists => {
            Some("use -c/--continue to complete or check it, or --force to replace it".to_owned())
        }
        _ => None,
    };
    if let Some(hint) = hint {
        eprintln!("hint: {hint} ({})", durl_fetch::Redacted(req.url()));
    }
}

/// Turns the arguments into one validated request for `url`.
pub(crate) fn request(
    args: &GetArgs,
    network: &durl_fetch::Network,
    entry: &Entry,
    cancel: &CancellationToken,
) -> anyhow::Result<GetRequest> {
    let url = entry.urls[0].as_str();
    let mut req = GetRequest::new(url)
        .map_err(|e| UsageError(crate::error_line(&e)))?
        .mirrors(&entry.urls[1..])
        .map_err(|e| UsageError(crate::error_line(&e)))?
        .connections(usize::from(args.connections))
        .limit_rate(args.limit_rate)
        .checksum(entry.checksum.clone().or_else(|| args.checksum.clone()))
        .continue_existing(args.continue_)
        .overwrite(args.force)
        .max_redirects(args.max_redirects)
        .location_trusted(args.location_trusted)
        .checkpoint_interval(
            secs("--checkpoint-interval", args.checkpoint_interval)?,
            u64::MAX,
        )
        .network(network.clone())
        .cancel_token(cancel.clone());
    if let Some(ua) = &args.user_agent {
        req = req.user_agent(ua.clone());
    }
    // No -d: an empty base, so that names print as `file.iso`, not `./file.iso`.
    let dir = dir_of(args, entry);
    req = match entry.out.as_ref().or(args.output.as_ref()) {
        Some(out) => req.output(dir.join(out)),
        None => req.dir(dir),
    };
    Ok(req)
}

//! The `durl` binary: argument parsing, printing and exit codes on top of the `durl-fetch` and
//! `durl-serve` libraries. Only this crate prints.

// The doc comments of the argument structs are clap's --help text, not rustdoc markdown:
// `[get]`, `[user[:password]@]` are literal text there, not links.
#![allow(rustdoc::broken_intra_doc_links)]

mod args;
mod batch;
mod config;
mod daemon;
mod exit;
mod get;
mod help;
mod input_file;
mod network;
mod passwd;
mod progress;
mod put;
mod put_list;
mod queue;
mod serve;
mod stop;
mod verbose;

use std::io::IsTerminal as _;

use anyhow::Context as _;
use std::process::ExitCode;

use std::ffi::OsString;

use clap::{CommandFactory as _, Parser as _};

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let cli = match with_config(args::Cli::parse_from(&argv), &argv) {
        Ok(cli) => cli,
        Err(e) => {
            report(&e);
            return exit::code(exit::for_error(&e));
        }
    };
    let (access_file, quiet_access) = match &cli.command {
        args::Command::Serve(a) => match serve::open_access_log(a) {
            Ok(file) => (file, a.quiet),
            Err(e) => {
                report(&e);
                return exit::code(exit::for_error(&e));
            }
        },
        _ => (None, false),
    };
    init_tracing(access_file, quiet_access);
    let result = match cli.command {
        args::Command::Get(a) => get::run(a),
        args::Command::Put(a) => put::run(a),
        args::Command::Serve(a) => serve::run(a),
        args::Command::Passwd { user } => passwd::run(user.as_deref()),
        args::Command::Completions { shell } => completions(shell),
        args::Command::Man { command } => man(command.as_deref()),
        args::Command::Daemon(a) => daemon::run(a),
        args::Command::Queue(a) => queue::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            report(&e);
            exit::code(exit::for_error(&e))
        }
    }
}

/// The command line with the config file's options for its subcommand put before its own
/// (so that the command line wins), parsed again; `cli` as it is when there are none.
fn with_config(cli: args::Cli, argv: &[OsString]) -> anyhow::Result<args::Cli> {
    let sub = match &cli.command {
        args::Command::Get(_) => "get",
        args::Command::Put(_) => "put",
        args::Command::Serve(_) => "serve",
        args::Command::Daemon(_) => "daemon",
        args::Command::Queue(_) => "queue",
        args::Command::Completions { .. }
        | args::Command::Man { .. }
        | args::Command::Passwd { .. } => return Ok(cli),
    };
    if cli.no_config {
        return Ok(cli);
    }
    let Some((path, explicit)) = config::path(cli.config.as_deref()) else {
        return Ok(cli);
    };
    let extra = config::load(&path, explicit, &args::Cli::command(), sub)?;
    if extra.is_empty() {
        return Ok(cli);
    }
    // The subcommand is the first argument that is not a global option (or its value).
    let mut at = 1;
    while let Some(a) = argv.get(at) {
        match a.to_str() {
            Some("--no-config") => at += 1,
            Some("--config") => at += 2,
            Some(s) if s.starts_with("--config=") => at += 1,
            _ => break,
        }
    }
    let mut spliced = argv[..=at.min(argv.len() - 1)].to_vec();
    spliced.extend(extra);
    spliced.extend_from_slice(argv.get(at + 1..).unwrap_or_default());
    args::Cli::try_parse_from(spliced).map_err(|e| {
        exit::UsageError(format!(
            "with the options of the config file {}: {}",
            path.display(),
            e.render()
                .to_string()
                .trim_start_matches("error: ")
                .trim_end()
        ))
        .into()
    })
}

/// `durl completions SHELL`: the script on stdout.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut args::Cli::command(), "durl", &mut out);
    std::io::Write::flush(&mut out).context("cannot write the completion script")?;
    Ok(exit::code(exit::OK))
}

/// `durl man [COMMAND]`: the manual page (roff) of durl or of `durl COMMAND` on stdout.
fn man(sub: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut command = args::Cli::command();
    command.build();
    let page = match sub.and_then(|name| command.find_subcommand(name)) {
        Some(sub) => sub.clone().name(match sub.get_name() {
            "get" => "durl-get",
            "put" => "durl-put",
            "serve" => "durl-serve",
            "daemon" => "durl-daemon",
            "queue" => "durl-queue",
            _ => "durl-completions",
        }),
        None => command,
    };
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .context("cannot write the manual page")?;
    std::io::Write::flush(&mut out).context("cannot write the manual page")?;
    Ok(exit::code(exit::OK))
}

#[expect(clippy::print_stderr, reason = "main reports the final error")]
fn report(e: &anyhow::Error) {
    eprintln!("durl: {e:#}");
}

/// One line: the error and its causes, joined by ": ".
pub(crate) fn error_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = without_repeated_url(&cause.to_string(), &line);
        let text = in_words(&text);
        // reqwest and hyper sometimes repeat a cause's text in their own message.
        if !text.is_empty() && !line.contains(text) {
            line.push_str(": ");
            line.push_str(text);
        }
        source = cause.source();
    }
    certificate_in_words(&line)
}

/// The HTTP stack's wrapper layers between durl's error and the OS's cause, as a user would
/// say them: the layers that only say "it happened while sending" are dropped, the ones that
/// say which step failed become that step in words.
fn in_words(layer: &str) -> &str {
    match layer {
        "error sending request"
        | "client error (Connect)"
        | "client error (SendRequest)"
        | "error resolving DNS"
        | "error trying to connect" => "",
        "tcp connect error" => "cannot connect",
        "dns error" => "cannot resolve the host name",
        other => other,
    }
}

/// rustls names some certificate errors by their Debug text ("invalid peer certificate:
/// UnknownIssuer", "…: Other(OtherError(CaUsedAsEndEntity))"); this says them in words.
fn certificate_in_words(line: &str) -> String {
    const MARK: &str = "invalid peer certificate: ";
    let Some(at) = line.find(MARK) else {
        return line.to_owned();
    };
    let rest = &line[at + MARK.len()..];
    let name = rest
        .strip_prefix("Other(OtherError(")
        .and_then(|r| r.strip_suffix("))"))
        .unwrap_or(rest);
    let words = match name {
        "UnknownIssuer" => {
            "it is issued by an unknown certificate authority (trust it with --cacert FILE)"
        }
        "CaUsedAsEndEntity" => "it is a CA certificate (CA:TRUE), not a server certificate",
        "BadEncoding" => "its encoding is invalid",
        "Expired" => "it has expired",
        "NotValidYet" => "it is not valid yet",
        "Revoked" => "it has been revoked",
        "UnhandledCriticalExtension" => "it has a critical extension durl does not know",
        "UnknownRevocationStatus" => "its revocation status is unknown",
        "ExpiredRevocationList" => "the revocation list has expired",
        "BadSignature" => "its signature is invalid",
        "UnsupportedSignatureAlgorithm" => "its signature algorithm is not supported",
        "NotValidForName" => "it is not valid for this host name",
        "InvalidPurpose" => "it may not be used by a TLS server",
        "ApplicationVerificationFailure" => "it was refused",
        _ if name.len() < rest.len() => name,
        _ => return line.to_owned(),
    };
    format!(
        "{}the server's certificate was refused: {words}",
        &line[..at]
    )
}

/// `text` without reqwest's " for url (URL)" when `line` names that URL already, so that a
/// message says its URL once.
fn without_repeated_url(text: &str, line: &str) -> String {
    const MARK: &str = " for url (";
    if let Some(start) = text.find(MARK)
        && let Some(len) = text[start + MARK.len()..].find(')')
    {
        let url = &text[start + MARK.len()..start + MARK.len() + len];
        if line.contains(url) {
            return format!(
                "{}{}",
                &text[..start],
                &text[start + MARK.len() + len + 1..]
            );
        }
    }
    text.to_owned()
}

/// Diagnostics through `tracing` go to stderr, filtered by `DURL_LOG` (default: warnings).
/// Colours only on a terminal, and never with `NO_COLOR` set (to anything but "", as
/// no-color.org asks and as the progress bar does). `durl serve`'s access log (target
/// `durl_serve::access`) shows on stderr unless `quiet_access`, and its lines alone — no
/// time, level or target added, they carry their own — are appended to `access_file`.
fn init_tracing(access_file: Option<std::fs::File>, quiet_access: bool) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let default = if quiet_access {
        "warn,durl_serve::access=off"
    } else {
        // `durl serve`'s access log is INFO on its own target; it shows unless --quiet.
        "warn,durl_serve::access=info"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DURL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_filter(filter);
    let file = access_file.map(|file| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("durl_serve::access", tracing::Level::INFO),
            )
    });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_already_named_is_not_repeated() {
        let line = "network error talking to http://h/x";
        let table = [
            (
                "error sending request for url (http://h/x)",
                "error sending request",
            ),
            (
                "error sending request for url (http://other/y)",
                "error sending request for url (http://other/y)",
            ),
            ("connection refused", "connection refused"),
        ];
        for (text, want) in table {
            assert_eq!(super::without_repeated_url(text, line), want);
        }
    }

    /// A stand-in for a layer of reqwest's and hyper's error chains.
    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    fn chain(layers: &[&'static str]) -> Layer {
        let mut layer = None;
        for text in layers.iter().rev() {
            layer = Some(Layer(text, layer.map(Box::new)));
        }
        layer.unwrap()
    }

    #[test]
    fn network_errors_name_the_step_and_the_os_cause_only() {
        let top = "network error talking to http://h/x";
        let table: [(&[&'static str], &str); 3] = [
            (
                &[
                    top,
                    "error sending request for url (http://h/x)",
                    "client error (Connect)",
                    "tcp connect error",
                    "Connection refused (os error 111)",
                ],
                "network error talking to http://h/x: cannot connect: Connection refused (os error 111)",
            ),
            (
                &[
                    top,
                    "error sending request for url (http://h/x)",
                    "client error (Connect)",
                    "dns error",
                    "error resolving DNS",
                    "failed to lookup address information: Name or service not known",
                ],
                "network error talking to http://h/x: cannot resolve the host name: \
                 failed to lookup address information: Name or service not known",
            ),
            (
                &[
                    top,
                    "error decoding response body",
                    "unexpected EOF during chunk size line",
                ],
                "network error talking to http://h/x: error decoding response body: \
                 unexpected EOF during chunk size line",
            ),
        ];
        for (layers, want) in table {
            assert_eq!(super::error_line(&chain(layers)), want);
        }
    }

    #[test]
    fn certificate_errors_are_said_in_words() {
        let table = [
            (
                "x: invalid peer certificate: UnknownIssuer",
                "x: the server's certificate was refused: it is issued by an unknown \
                 certificate authority (trust it with --cacert FILE)",
            ),
            (
                "x: invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))",
                "x: the server's certificate was refused: it is a CA certificate (CA:TRUE), \
                 not a server certificate",
            ),
            (
                "x: invalid peer certificate: Other(OtherError(SomethingNew))",
                "x: the server's certificate was refused: SomethingNew",
            ),
            (
                "x: invalid peer certificate: certificate not valid for name \"a\"",
                "x: invalid peer certificate: certificate not valid for name \"a\"",
            ),
            ("connection refused", "connection refused"),
        ];
        for (line, want) in table {
            assert_eq!(super::certificate_in_words(line), want);
        }
    }
}

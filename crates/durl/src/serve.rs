//! `durl serve`: resolve the arguments into a `durl_serve::Config`, bind, print the URL, and
//! serve until SIGINT or SIGTERM, then drain and exit 0. A second signal during the drain
//! exits at once with 130/143.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use durl_serve::{AccessRule, Accounts, Config, LogFormat, S3Storage, ServeError, TlsConfig};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

use crate::args::ServeArgs;
use crate::exit::{self, UsageError};

/// Opens `durl serve --access-log FILE` for appending, before anything is logged.
///
/// # Errors
///
/// A usage error naming the file and the OS error.
pub fn open_access_log(args: &ServeArgs) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = &args.access_log else {
        return Ok(None);
    };
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(Some)
        .map_err(|e| {
            UsageError(format!(
                "cannot open the access log {}: {e}",
                path.display()
            ))
            .into()
        })
}

/// Runs `durl serve`.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = config(&args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, config))
}

/// Validates the raw arguments: the directory exists, `--auth` is `USER:PASS`, the TLS files
/// load.
fn config(args: &ServeArgs) -> anyhow::Result<Config> {
    let config = match args.dir.to_str().filter(|d| d.starts_with("s3://")) {
        Some(url) => Config::object_store(s3_storage(url, args, |name| std::env::var(name).ok())?),
        None => {
            let meta = std::fs::metadata(&args.dir)
                .with_context(|| format!("cannot serve {}", args.dir.display()))
                .map_err(|e| anyhow::Error::new(UsageError(format!("{e:#}"))))?;
            if !meta.is_dir() {
                return Err(
                    UsageError(format!("{} is not a directory", args.dir.display())).into(),
                );
            }
            Config::new(&args.dir)
        }
    };
    let mut config = config
        .follow_symlinks(args.follow_symlinks)
        .index_file((!args.no_index).then_some(args.index.as_str()))
        .hidden(args.hidden)
        .sandbox_all(args.sandbox == "all")
        .precompute_digests(args.digest)
        .access_log(!args.quiet || args.access_log.is_some())
        .log_format(if args.log_format == "json" {
            LogFormat::Json
        } else {
            LogFormat::Combined
        });
    if args.upload {
        config = config
            .uploads(true)
            .overwrite(args.overwrite)
            .upload_expiry(Duration::from_secs(args.upload_expiry))
            .max_concurrent_uploads(usize::from(args.max_concurrent_uploads));
        if let Some(dir) = &args.upload_dir {
            if config.is_object_store() {
                return Err(UsageError(format!(
                    "--upload-dir {} is for serving a directory: uploads into {} are kept in \
                     the bucket",
                    dir.display(),
                    args.dir.display()
                ))
                .into());
            }
            config = config.upload_dir(dir);
        }
        if let Some(max) = args.max_upload_size {
            config = config.max_upload_size(max);
        }
        if let Some(n) = args.max_uploads_per_ip {
            config = config.max_uploads_per_ip(usize::from(n));
        }
        if let Some(bytes) = args.upload_reserve {
            config = config.upload_reserve(bytes);
        }
        config = config.min_upload_rate(
            args.upload_min_rate,
            Duration::from_secs(args.upload_rate_window),
        );
    }
    config = config.max_connections(usize::try_from(args.max_connections).unwrap_or(usize::MAX));
    if let Some(n) = args.max_connections_per_ip {
        config = config.max_connections_per_ip(usize::try_from(n).unwrap_or(usize::MAX));
    }
    if let Some(auth) = &args.auth {
        let Some((user, password)) = auth.split_once(':').filter(|(user, _)| !user.is_empty())
        else {
            return Err(UsageError("--auth must be USER:PASS".to_owned()).into());
        };
        config = config.basic_auth(user, password);
    }
    if let Some(path) = &args.auth_file {
        let accounts =
            Accounts::from_htpasswd(path).map_err(|e| UsageError(crate::error_line(&e)))?;
        config = config.accounts(accounts);
    }
    for rule in &args.allow {
        let rule = AccessRule::parse(rule).map_err(|e| UsageError(crate::error_line(&e)))?;
        config = config.allow(rule);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let tls =
            TlsConfig::from_pem_files(cert, key).map_err(|e| UsageError(crate::error_line(&e)))?;
        config = config.tls(tls);
    }
    Ok(config)
}

/// `s3://BUCKET[/PREFIX]` with the keys, region and endpoint from the flags, else from the
/// standard AWS variables (read through `var`).
fn s3_storage(
    url: &str,
    args: &ServeArgs,
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<S3Storage> {
    let mut storage = S3Storage::parse(url)
        .map_err(|e| UsageError(format!("cannot serve {url}: {e}")))?
        .allow_http(args.allow_http);
    let nonempty = |name: &str| var(name).filter(|v| !v.is_empty());
    match (
        nonempty("AWS_ACCESS_KEY_ID"),
        nonempty("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(id), Some(secret)) => storage = storage.credentials(&id, &secret),
        (None, None) => {}
        _ => {
            return Err(UsageError(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together".to_owned(),
            )
            .into());
        }
    }
    if let Some(region) = args.s3_region.clone().or_else(|| nonempty("AWS_REGION")) {
        storage = storage.region(&region);
    }
    if let Some(endpoint) = args
        .s3_endpoint
        .clone()
        .or_else(|| nonempty("AWS_ENDPOINT_URL"))
    {
        storage = storage.endpoint(&endpoint);
    }
    storage
        .check()
        .map_err(|e| UsageError(crate::error_line(&e)))?;
    Ok(storage)
}

async fn serve(args: ServeArgs, config: Config) -> anyhow::Result<ExitCode> {
    // tokio's bind sets SO_REUSEADDR (on Unix): after a crash or kill -9, a restart can
    // listen on the same port at once, though connections of the old process linger in
    // TIME_WAIT. The browser upload page relies on it: its origin, and so its localStorage,
    // includes the port.
    let listener = TcpListener::bind((args.bind.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.bind, args.port))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let scheme = if config.is_tls() { "https" } else { "http" };
    announce(&args, scheme, addr);
    let authenticated = args.auth.is_some() || args.auth_file.is_some();
    if let Some(warning) = open_uploads_warning(args.upload, authenticated, addr) {
        warn(&warning);
    }

    // First SIGINT/SIGTERM: graceful shutdown. Second: leave now.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let signals = tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        let _ = stop_tx.send(());
        tokio::select! {
            _ = interrupt.recv() => exit::SIGINT,
            _ = terminate.recv() => exit::SIGTERM,
        }
    });
    let signals_abort = signals.abort_handle();
    let server = durl_serve::run(listener, config, async {
        let _ = stop_rx.await;
    });
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => {
            signals_abort.abort();
            match result {
                // What was given cannot be served: a bad argument (exit 2), in one line.
                Err(
                    e @ (ServeError::ObjectStore { .. }
                    | ServeError::PlainHttpEndpoint { .. }),
                ) => {
                    // The store's answer may hold its XML error document: one line.
                    let line = crate::error_line(&e);
                    Err(UsageError(line.split_whitespace().collect::<Vec<_>>().join(" ")).into())
                }
                result => {
                    result.context("server failed")?;
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        code = signals_second(signals) => Ok(exit::code(code)),
    }
}

/// Waits for the signal task's second signal (it never finishes otherwise).
async fn signals_second(task: tokio::task::JoinHandle<u8>) -> u8 {
    match task.await {
        Ok(code) => code,
        Err(_) => std::future::pending().await,
    }
}

/// The warning for uploads that anyone who reaches a non-loopback address can make.
fn open_uploads_warning(upload: bool, authenticated: bool, addr: SocketAddr) -> Option<String> {
    (upload && !authenticated && !addr.ip().is_loopback()).then(|| {
        format!(
            "--upload without authentication on {addr}, which is not a loopback address: \
             anyone who can reach it can write files into DIR"
        )
    })
}

/// One warning line on stderr.
#[expect(clippy::print_stderr, reason = "a warning for the user")]
fn warn(line: &str) {
    eprintln!("durl: warning: {line}");
}

/// Prints where we serve: the URL on stdout (scripts using `--port 0` read it there).
#[expect(clippy::print_stdout, reason = "the URL is the command's output")]
fn announce(args: &ServeArgs, scheme: &str, addr: SocketAddr) {
    let dir = if args.dir.to_str().is_some_and(|d| d.starts_with("s3://")) {
        args.dir.clone()
    } else {
        std::fs::canonicalize(&args.dir).unwrap_or_else(|_| args.dir.clone())
    };
    println!("Serving {} at {scheme}://{addr}/", dir.display());
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_uploads_are_warned_about_only_off_loopback() {
        let public: SocketAddr = "192.0.2.7:8000".parse().unwrap();
        let any: SocketAddr = "[::]:8000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8000".parse().unwrap();
        let local6: SocketAddr = "[::1]:8000".parse().unwrap();
        let line = open_uploads_warning(true, false, public).unwrap();
        assert!(
            line.contains("192.0.2.7:8000") && line.contains("--upload"),
            "{line}"
        );
        assert!(open_uploads_warning(true, false, any).is_some());
        assert!(
            open_uploads_warning(true, true, public).is_none(),
            "authenticated"
        );
        assert!(
            open_uploads_warning(false, false, public).is_none(),
            "no uploads"
        );
        assert!(open_uploads_warning(true, false, local).is_none());
        assert!(open_uploads_warning(true, false, local6).is_none());
    }
}

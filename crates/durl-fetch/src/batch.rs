//! Many transfers as one job: [`get_all`] for downloads, [`put_all`] for uploads.
//!
//! Up to `jobs` files transfer at once. Before a file starts it takes one permit per
//! connection it will open from a global pool (`max_connections`) and from its host's pool
//! (`per_host`), so `-j 16 -x 8` never opens 128 sockets to one server: a file gets as many
//! connections as the caps allow. Every file keeps its own state (part and state files for
//! downloads, the `.durl-upload` file or the server's size for uploads), so a crash in the
//! middle of a batch continues every file independently, and a file finished earlier is
//! recognised without transferring it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use tokio::sync::Semaphore;
use url::Url;

use crate::events::Reporter;
use crate::{Error, GetRequest, Outcome, PutOutcome, PutRequest, get, http, put};

/// Limits for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Files transferring at once.
    pub jobs: usize,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections to one host.
    pub per_host: usize,
}

impl Default for BatchOptions {
    /// 4 files at once, at most 16 connections, 8 per host.
    fn default() -> Self {
        BatchOptions {
            jobs: 4,
            max_connections: 16,
            per_host: 8,
        }
    }
}

/// Receives the events of every file of a batch; `O` is what one transfer returns
/// ([`Outcome`] for downloads, [`PutOutcome`] for uploads).
pub trait BatchReporter<O = Outcome>: Send + Sync {
    /// The reporter for the file at `index` (called once, when the file starts).
    fn file(&self, index: usize) -> Arc<dyn Reporter>;
    /// The file at `index` is done.
    fn finished(&self, index: usize, result: &Result<O, Error>);
}

/// Downloads every request, `options.jobs` at a time, and returns one result per request,
/// in order. The network settings (timeouts, headers, TLS) of the first request apply to
/// all of them.
///
/// # Errors
/// [`Error::Setup`] when the client cannot be built; every per-file failure is in its result.
pub async fn get_all(
    requests: &[GetRequest],
    options: BatchOptions,
    reporter: &dyn BatchReporter,
) -> Result<Vec<Result<Outcome, Error>>, Error> {
    let Some(first) = requests.first() else {
        return Ok(Vec::new());
    };
    let client = http::client(first)?;
    let client = &client;
    // One limiter for the whole run: `--limit-rate` is shared by every file and connection.
    let limiter = &first.rate_limiter();
    let results = run_each(
        requests,
        |req| (&req.url, req.connections),
        |req| req.cancel.is_cancelled(),
        options,
        reporter,
        |req, granted, file_reporter| async move {
            let mut req = req.clone().connections(granted);
            req.limiter.clone_from(limiter);
            get::get_with(client, &req, file_reporter.as_ref()).await
        },
    )
    .await;
    Ok(results)
}

/// Uploads every request, `options.jobs` at a time (one connection each), and returns one
/// result per request, in order. Each upload resumes on its own, as [`put`] does.
pub async fn put_all(
    requests: &[PutRequest],
    options: BatchOptions,
    reporter: &dyn BatchReporter<PutOutcome>,
) -> Vec<Result<PutOutcome, Error>> {
    // One limiter for the whole run: `--limit-rate` is shared by every file.
    let limiter = &requests.first().and_then(PutRequest::rate_limiter);
    run_each(
        requests,
        |req| (&req.url, 1),
        |req| req.cancel.is_cancelled(),
        options,
        reporter,
        |req, _granted, file_reporter| async move {
            let mut req = req.clone();
            req.limiter.clone_from(limiter);
            put(&req, file_reporter.as_ref()).await
        },
    )
    .await
}

/// Runs `transfer` on every item, `options.jobs` at a time, each after taking the
/// connection permits `wants` asks for (capped by the host's and the global pool), and
/// returns the results in the order of `items`. An item whose run is `cancelled` by the time
/// its turn comes is not started ([`Error::NotStarted`]): nothing is requested or written
/// for it.
async fn run_each<'a, T, O, Fut>(
    items: &'a [T],
    wants: impl Fn(&'a T) -> (&'a Url, usize),
    cancelled: impl Fn(&'a T) -> bool,
    options: BatchOptions,
    reporter: &'a dyn BatchReporter<O>,
    transfer: impl Fn(&'a T, usize, Arc<dyn Reporter>) -> Fut,
) -> Vec<Result<O, Error>>
where
    Fut: Future<Output = Result<O, Error>>,
{
    let max_connections = options.max_connections.max(1);
    let per_host = options.per_host.clamp(1, max_connections);
    let global = Arc::new(Semaphore::new(max_connections));
    let hosts: Mutex<HashMap<String, Arc<Semaphore>>> = Mutex::new(HashMap::new());

    let mut results: Vec<Option<Result<O, Error>>> = items.iter().map(|_| None).collect();
    let mut running = stream::iter(items.iter().enumerate())
        .map(|(index, item)| {
            let (url, connections) = wants(item);
            let global = global.clone();
            let host = {
                let key = format!("{}://{}", url.scheme(), url.authority());
                hosts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(key)
                    .or_insert_with(|| Arc::new(Semaphore::new(per_host)))
                    .clone()
            };
            let (transfer, cancelled) = (&transfer, &cancelled);
            async move {
                // As many connections as this file wants and the caps allow.
                let n = connections.clamp(1, per_host) as u32;
                let _host = host.acquire_many_owned(n).await.expect("never closed");
                let _all = global.acquire_many_owned(n).await.expect("never closed");
                if cancelled(item) {
                    let mut url = url.clone();
                    let _ = url.set_password(None);
                    return (index, Err(Error::NotStarted { url }));
                }
                let result = transfer(item, n as usize, reporter.file(index)).await;
                reporter.finished(index, &result);
                (index, result)
            }
        })
        .buffer_unordered(options.jobs.max(1));
    while let Some((index, result)) = running.next().await {
        results[index] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

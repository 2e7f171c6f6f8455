//! Many downloads as one job: [`get_all`].
//!
//! Up to `jobs` files download at once over one shared client (connections are reused).
//! Before a file starts it takes one permit per connection it will open from a global pool
//! (`max_connections`) and from its host's pool (`per_host`), so `-j 16 -x 8` never opens
//! 128 sockets to one server: a file gets as many connections as the caps allow. Every file
//! keeps its own part and state files, so a crash in the middle of a batch continues every
//! file independently, and a file finished earlier is recognised without transferring it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};
use tokio::sync::Semaphore;

use crate::events::Reporter;
use crate::{Error, GetRequest, Outcome, get, http};

/// Limits for a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// Files downloading at once.
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

/// Receives the events of every file of a batch.
pub trait BatchReporter: Send + Sync {
    /// The reporter for the file at `index` (called once, when the file starts).
    fn file(&self, index: usize) -> Arc<dyn Reporter>;
    /// The file at `index` is done.
    fn finished(&self, index: usize, result: &Result<Outcome, Error>);
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
    let max_connections = options.max_connections.max(1);
    let per_host = options.per_host.clamp(1, max_connections);
    let global = Arc::new(Semaphore::new(max_connections));
    let hosts: Mutex<HashMap<String, Arc<Semaphore>>> = Mutex::new(HashMap::new());

    let mut results: Vec<Option<Result<Outcome, Error>>> = requests.iter().map(|_| None).collect();
    let mut running = stream::iter(requests.iter().enumerate())
        .map(|(index, req)| {
            let client = &client;
            let global = global.clone();
            let host = {
                let key = format!("{}://{}", req.url.scheme(), req.url.authority());
                hosts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(key)
                    .or_insert_with(|| Arc::new(Semaphore::new(per_host)))
                    .clone()
            };
            async move {
                // As many connections as this file wants and the caps allow.
                let n = req.connections.min(per_host) as u32;
                let _host = host.acquire_many_owned(n).await.expect("never closed");
                let _all = global.acquire_many_owned(n).await.expect("never closed");
                let req = req.clone().connections(n as usize);
                let file_reporter = reporter.file(index);
                let result = get::get_with(client, &req, file_reporter.as_ref()).await;
                reporter.finished(index, &result);
                (index, result)
            }
        })
        .buffer_unordered(options.jobs.max(1));
    while let Some((index, result)) = running.next().await {
        results[index] = Some(result);
    }
    Ok(results
        .into_iter()
        .map(|r| r.expect("every request ran"))
        .collect())
}

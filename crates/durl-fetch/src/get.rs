//! `get`: the only place that chooses a download's protocol by the URL's scheme.

use reqwest::Client;

use crate::download::commit::Outcome;
use crate::events::Reporter;
use crate::{Error, GetRequest, ftp, http};

/// Downloads `req`, resuming whatever an earlier run left, and reports through `reporter`.
///
/// # Errors
/// See [`Error`]; on every error the partial download stays on disk for the next run.
pub async fn get(req: &GetRequest, reporter: &dyn Reporter) -> Result<Outcome, Error> {
    let client = http::client(req)?;
    get_with(&client, req, reporter).await
}

/// [`get`] with an HTTP client shared by several downloads (connection reuse).
pub(crate) async fn get_with(
    client: &Client,
    req: &GetRequest,
    reporter: &dyn Reporter,
) -> Result<Outcome, Error> {
    match req.url.scheme() {
        "ftp" => ftp::get(req, reporter).await,
        _ => http::get::get(client, req, reporter).await,
    }
}

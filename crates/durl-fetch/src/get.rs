//! `get`: the only place that chooses a download's protocol by the URL's scheme; the engine
//! ([`crate::download::run`]) does the rest the same for every protocol.

use reqwest::Client;

use crate::download::commit::Outcome;
use crate::events::Reporter;
use crate::ftp::FtpTransport;
use crate::http::transport::HttpTransport;
use crate::{Error, GetRequest, download, http};

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
    let ftp = req.url.scheme() == "ftp";
    if let Some(other) = req.mirrors.iter().find(|m| (m.scheme() == "ftp") != ftp) {
        let mut shown = other.clone();
        let _ = shown.set_password(None);
        return Err(Error::Setup {
            what: format!(
                "mirror {shown} speaks another protocol than {}",
                crate::store::journal::url_key(&req.url)
            ),
            source: None,
        });
    }
    if ftp {
        let transport = FtpTransport::new(req)?;
        download::run(&transport, req, reporter).await
    } else {
        let transport = HttpTransport::new(client, req);
        download::run(&transport, req, reporter).await
    }
}

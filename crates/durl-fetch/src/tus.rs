//! `http(s)://` uploads with the tus 1.0.0 resumable upload protocol
//! (<https://tus.io/protocols/resumable-upload>); section names below are the spec's.
//!
//! 1. `OPTIONS` on the endpoint (Core Protocol › Requests › OPTIONS): `Tus-Extension` and
//!    `Tus-Checksum-Algorithm` (Checksum › Headers) pick the chunk checksum: crc32c (a
//!    CRC at hardware speed, enough against accidental corruption, which is all a checksum
//!    sent beside its body can guard against; `durl serve` offers it), else sha256, else
//!    sha1, else none.
//! 2. The state file `<local>.durl-upload` ([`state`]) names the upload of an earlier run.
//!    If it is there and describes the same local file (length, mtime, SHA-256 of the first
//!    MiB), `HEAD` on the upload (Core Protocol › Requests › HEAD) gives `Upload-Offset`;
//!    `Upload-Length` must be the local length. A 404 or 410 means the upload expired
//!    (Expiration) or was terminated (Termination): a new one is created.
//! 3. Otherwise `POST` to the endpoint (Creation › Requests › POST) with `Upload-Length` and
//!    `Upload-Metadata: filename <base64>` and the caller's pairs ([`metadata`]); the 201's
//!    `Location`, resolved against the endpoint, is the upload. It goes into the state file
//!    (atomically) before any byte.
//! 4. `PATCH` (Core Protocol › Requests › PATCH). With a checksum, chunks sized for about a
//!    second of sending ([`pace`]: a chunk is all or nothing, so a cut costs at most that),
//!    at most [`PutRequest::chunk_size`]; without one, a single `PATCH` for everything left,
//!    since the server keeps what arrives of it (Core Protocol › PATCH: the server "SHOULD
//!    always attempt to store as much of the received data as possible"). Bytes are read
//!    once, one piece ahead, on a blocking thread ([`chunk`]: hashed there when there is a
//!    checksum) and sent from memory, with `Content-Type: application/offset+octet-stream`,
//!    `Upload-Offset` and `Upload-Checksum` (Checksum › Headers); the answer's
//!    `Upload-Offset` is the new offset. A 409 (offset mismatch) makes durl ask `HEAD` again;
//!    a 460 (Checksum › Checksum Mismatch) sends the chunk again, as a retry.
//! 5. At the end the state file is removed and the local file is marked as uploaded
//!    ([`state::mark_uploaded`], an extended attribute): the same command run again answers
//!    "already complete" without a request, unless the file changed or
//!    [`PutRequest::overwrite`] asks to send it again.
//!
//! Every request carries `Tus-Resumable: 1.0.0` (Core Protocol › Headers › Tus-Resumable).
//! Before every chunk the local file's length and mtime are compared with those of the
//! start: a changed file is [`Error::LocalChanged`], never a mix of versions on the server.

mod chunk;
pub(crate) mod metadata;
mod pace;
pub(crate) mod state;

use std::path::PathBuf;

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Client, RequestBuilder, Response, StatusCode, redirect};
use tokio::sync::{mpsc, oneshot};
use url::Url;

use self::chunk::Algo;
use self::state::{Fingerprint, UploadState};
use crate::events::{Event, Reporter, RestartReason};
use crate::store::durable;
use crate::store::journal::url_key;
use crate::store::rate::RateLimiter;
use crate::{Error, PutOutcome, PutRequest, TusProblem, http};

/// The protocol version spoken.
const TUS_VERSION: &str = "1.0.0";
/// The suffix of the state file beside the local file.
pub(crate) const STATE_SUFFIX: &str = ".durl-upload";
/// The size of one piece of a PATCH body handed to the connection (and the rate limit).
const PIECE: usize = 256 << 10;
/// How many 409s (or lost uploads) in a row one attempt puts up with.
const RESYNCS: u32 = 3;

/// Uploads `req.local` to a tus endpoint (see the module docs).
pub(crate) async fn put(req: &PutRequest, reporter: &dyn Reporter) -> Result<PutOutcome, Error> {
    let file = Fingerprint::of(&req.local).map_err(Error::io("cannot read", &req.local))?;
    let state_path = durable::sibling(&req.local, STATE_SUFFIX);
    let saved = UploadState::load(&state_path).map_err(Error::io("cannot read", &state_path))?;
    let mut shown = req.url.clone();
    let _ = shown.set_password(None);
    if saved.is_none()
        && !req.overwrite
        && let Some(done) = state::uploaded_mark(&req.local)
        && done.endpoint == url_key(&req.url)
        && done.file == file
        && let Ok(url) = Url::parse(&done.upload)
    {
        // Sent completely by an earlier run, and unchanged since.
        reporter.report(Event::Finished {
            path: &req.local,
            bytes: file.len,
            already_complete: true,
        });
        return Ok(PutOutcome {
            url,
            bytes: file.len,
            resumed_from: file.len,
            sent: 0,
            already_complete: true,
        });
    }
    let mut upload = Upload {
        req,
        reporter,
        client: client(req)?,
        shown,
        file,
        state_path,
        location: None,
        checksum: None,
        sent: 0,
        resumed_from: None,
        confirmed: None,
        pace: pace::Pace::new(req.chunk_size),
        limiter: req.rate_limiter(),
        chunks: chunk::Reader::new(req.local.clone()),
    };
    if let Some(saved) = saved
        && saved.endpoint == url_key(&req.url)
    {
        if saved.file == upload.file {
            upload.location = Url::parse(&saved.upload)
                .ok()
                .map(|u| with_login(u, &req.url));
        } else {
            reporter.report(Event::Restarted {
                reason: RestartReason::LocalChanged,
            });
        }
    }
    crate::upload::attempts::retrying(req, reporter, &mut upload).await
}

/// The client: no redirects (a moved upload is not followed with its body), the TLS roots
/// and timeouts of downloads, `Tus-Resumable` on every request. The caller's headers are
/// added per request, for the endpoint's origin only ([`Upload::request`]).
fn client(req: &PutRequest) -> Result<Client, Error> {
    // The caller's headers go on each request (`send`): reqwest's default headers keep only
    // the first value of a repeated name.
    let mut headers = HeaderMap::new();
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    let builder = Client::builder()
        .user_agent(concat!("durl/", env!("CARGO_PKG_VERSION")))
        .default_headers(headers)
        .connect_timeout(req.network.connect_timeout)
        .redirect(redirect::Policy::none())
        .referer(false);
    let builder = req.network.apply_proxy(builder)?;
    http::finish_client(
        builder,
        &req.network.root_certificates,
        req.network.insecure,
    )
}

/// Headers the protocol sets itself; a caller's header of the same name is not added.
const PROTOCOL_HEADERS: &[&str] = &[
    "tus-resumable",
    "upload-offset",
    "upload-length",
    "upload-metadata",
    "upload-checksum",
    "content-type",
    "content-length",
];

/// `url` (an upload's `Location`, or one remembered in the state file, which never holds a
/// password) with the endpoint's login when it has the endpoint's origin — scheme, host and
/// port — and without any login otherwise, so the password never goes to another port or
/// in clear over `http` to a host the user reached over `https`.
fn with_login(mut url: Url, endpoint: &Url) -> Url {
    if !http::same_origin(&url, endpoint) {
        let _ = url.set_password(None);
        let _ = url.set_username("");
    } else if url.username().is_empty() || url.username() == endpoint.username() {
        let _ = url.set_username(endpoint.username());
        let _ = url.set_password(endpoint.password());
    }
    url
}

struct Upload<'a> {
    req: &'a PutRequest,
    reporter: &'a dyn Reporter,
    client: Client,
    /// The endpoint without its password.
    shown: Url,
    file: Fingerprint,
    state_path: PathBuf,
    /// The upload's URL, once known.
    location: Option<Url>,
    /// Found out by the first `OPTIONS`.
    checksum: Option<Algo>,
    /// Bytes sent in this run, over all attempts.
    sent: u64,
    /// What the server held when the first attempt looked.
    resumed_from: Option<u64>,
    /// The last offset the server confirmed (`HEAD`, a `PATCH`'s answer, a creation).
    confirmed: Option<u64>,
    /// The size of the next checksummed chunk.
    pace: pace::Pace,
    limiter: Option<std::sync::Arc<RateLimiter>>,
    /// The local file's chunks, the next one read ahead.
    chunks: chunk::Reader,
}

impl crate::upload::attempts::Attempts for Upload<'_> {
    async fn attempt(&mut self) -> Result<PutOutcome, Error> {
        Upload::attempt(self).await
    }

    fn sent(&self) -> u64 {
        self.sent
    }

    fn interrupted(&self) -> Error {
        Error::UploadInterrupted {
            url: self.shown.clone(),
            sent: self.sent,
            server_has: self.confirmed,
        }
    }
}

impl Upload<'_> {
    /// A request to `url`, with the caller's headers and login when `url` has the endpoint's
    /// origin (a `-H 'Authorization: …'`, `-u` or `.netrc` password never goes to another
    /// host, port or scheme). The login is the URL's, else `-u`, else `.netrc`'s
    /// ([`crate::Network::credentials`]), sent as Basic credentials (RFC 7617).
    fn request(&self, method: reqwest::Method, url: &Url) -> RequestBuilder {
        // Without the URL's own login: reqwest would add it as a second Authorization.
        let mut bare = url.clone();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        let mut rb = self.client.request(method, bare);
        if !http::same_origin(url, &self.req.url) {
            return rb;
        }
        if let Some(login) = self.req.network.credentials(url, &self.req.url) {
            rb = rb.basic_auth(&login.user, Some(&login.password));
        }
        let mut headers = self.req.network.headers.clone();
        for name in PROTOCOL_HEADERS {
            headers.remove(*name);
        }
        // Replacing: a `-H 'Authorization: …'` wins over the URL's login, as in curl.
        rb.headers(headers)
    }

    fn protocol(&self, detail: impl Into<String>) -> Error {
        Error::Tus {
            url: self.shown.clone(),
            problem: TusProblem::Protocol(detail.into()),
        }
    }

    /// Find (or create) the upload, then send chunks until the server holds everything.
    async fn attempt(&mut self) -> Result<PutOutcome, Error> {
        if self.checksum.is_none() {
            self.checksum = Some(self.options().await?);
        }
        let len = self.file.len;
        let (mut location, mut offset, created) = self.locate().await?;
        self.confirmed = Some(offset);
        let resumed_from = *self.resumed_from.get_or_insert(offset);
        let already_complete = offset == len && self.sent == 0 && !created;
        self.reporter.report(Event::Started {
            path: &self.req.local,
            total: Some(len),
            resumed_from: offset,
        });
        let mut resyncs = 0;
        while offset < len {
            if !self.file.unchanged(&self.req.local) {
                return Err(Error::LocalChanged {
                    path: self.req.local.clone(),
                });
            }
            let patched = self.patch(&location, offset).await;
            if patched.is_err() {
                self.pace.cut();
            }
            match patched? {
                Patched::To(next) => {
                    offset = next;
                    self.confirmed = Some(offset);
                    resyncs = 0;
                    continue;
                }
                _ if resyncs >= RESYNCS => {
                    return Err(self.protocol("the upload's offset keeps changing"));
                }
                Patched::Conflict => {}
                Patched::Gone => {
                    self.location = None;
                    self.reporter.report(Event::Restarted {
                        reason: RestartReason::UploadGone,
                    });
                }
            }
            resyncs += 1;
            (location, offset, _) = self.locate().await?;
            self.confirmed = Some(offset);
            self.reporter.report(Event::Started {
                path: &self.req.local,
                total: Some(len),
                resumed_from: offset,
            });
        }
        state::mark_uploaded(
            &self.req.local,
            &UploadState::new(&self.req.url, &location, self.file.clone()),
        );
        durable::remove(&self.state_path).map_err(Error::io("cannot remove", &self.state_path))?;
        self.reporter.report(Event::Finished {
            path: &self.req.local,
            bytes: len,
            already_complete,
        });
        let mut url = location;
        let _ = url.set_password(None);
        Ok(PutOutcome {
            url,
            bytes: len,
            resumed_from,
            sent: self.sent,
            already_complete,
        })
    }

    /// Core Protocol › Requests › OPTIONS; a server that does not answer it is used without
    /// checksums.
    async fn options(&self) -> Result<Algo, Error> {
        let resp = self
            .send(self.request(reqwest::Method::OPTIONS, &self.req.url))
            .await?;
        let status = resp.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(http::status_error(&resp));
        }
        if !status.is_success() {
            return Ok(Algo::None);
        }
        let list = |name: &str| -> Vec<String> {
            resp.headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(|s| s.trim().to_ascii_lowercase())
                .collect()
        };
        if !list("tus-extension").iter().any(|e| e == "checksum") {
            return Ok(Algo::None);
        }
        let algorithms = list("tus-checksum-algorithm");
        let has = |a: &str| algorithms.iter().any(|x| x == a);
        Ok(match () {
            () if has("crc32c") => Algo::Crc32c,
            () if has("sha256") => Algo::Sha256,
            () if has("sha1") => Algo::Sha1,
            () => Algo::None,
        })
    }

    /// The upload to continue, its offset, and whether it was just created: the remembered
    /// one if the server still has it, else a new one.
    async fn locate(&mut self) -> Result<(Url, u64, bool), Error> {
        if let Some(location) = self.location.clone() {
            match self.head(&location).await? {
                Some(offset) => return Ok((location, offset, false)),
                None => {
                    self.location = None;
                    self.reporter.report(Event::Restarted {
                        reason: RestartReason::UploadGone,
                    });
                }
            }
        }
        let location = self.create().await?;
        Ok((location, 0, true))
    }

    /// Core Protocol › Requests › HEAD: the offset, or `None` when the upload is gone
    /// (404/410) or is not this file's (another `Upload-Length`).
    async fn head(&self, location: &Url) -> Result<Option<u64>, Error> {
        let resp = self
            .send(self.request(reqwest::Method::HEAD, location))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(None),
            s if !s.is_success() => return Err(http::status_error(&resp)),
            _ => {}
        }
        let offset = number(resp.headers(), "upload-offset")
            .ok_or_else(|| self.protocol("HEAD gave no valid Upload-Offset"))?;
        if number(resp.headers(), "upload-length") != Some(self.file.len) || offset > self.file.len
        {
            return Ok(None);
        }
        Ok(Some(offset))
    }

    /// Creation › Requests › POST; the new upload is written to the state file at once.
    async fn create(&mut self) -> Result<Url, Error> {
        let name = self
            .req
            .local
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pairs = metadata::header(&name, &self.req.metadata);
        let name = metadata::file_name(&name, &self.req.metadata).to_owned();
        let rb = self
            .request(reqwest::Method::POST, &self.req.url)
            .header("upload-length", self.file.len)
            .header("upload-metadata", pairs)
            .header(CONTENT_LENGTH, 0)
            .body(Bytes::new());
        let resp = self.send(rb).await?;
        if resp.status() == StatusCode::CONFLICT {
            return Err(Error::Tus {
                url: self.shown.clone(),
                problem: TusProblem::NameTaken(name),
            });
        }
        if resp.status() != StatusCode::CREATED {
            return Err(http::status_error(&resp));
        }
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| self.req.url.join(v).ok())
            .ok_or_else(|| self.protocol("201 Created without a valid Location"))?;
        if !http::same_origin(&location, &self.req.url)
            && (!self.req.network.headers.is_empty()
                || self
                    .req
                    .network
                    .credentials(&self.req.url, &self.req.url)
                    .is_some())
        {
            // Neither the login nor the caller's headers go there, and the upload would
            // fail without them: say why now.
            return Err(self.protocol(format!(
                "the server put the upload on another origin ({}) than the endpoint; \
                 durl sends the login and -H headers only to the endpoint's scheme, host and port",
                crate::Redacted(&location)
            )));
        }
        let location = with_login(location, &self.req.url);
        UploadState::new(&self.req.url, &location, self.file.clone())
            .store(&self.state_path)
            .map_err(Error::io("cannot write", &self.state_path))?;
        self.location = Some(location.clone());
        Ok(location)
    }

    /// Core Protocol › Requests › PATCH from `offset`: one checksummed chunk, or without a
    /// checksum everything left (see the module docs).
    async fn patch(&mut self, location: &Url, offset: u64) -> Result<Patched, Error> {
        let algo = self.checksum.unwrap_or(Algo::None);
        let rest = self.file.len - offset;
        // `n` bytes in this PATCH, read and fed in pieces of `unit`.
        let (n, unit) = match algo {
            Algo::None => (rest, self.req.chunk_size.min(rest)),
            Algo::Sha1 | Algo::Sha256 | Algo::Crc32c => {
                let n = self.pace.size().min(rest);
                (n, n)
            }
        };
        let end = offset + n;
        let mut rb = self
            .request(reqwest::Method::PATCH, location)
            .header(CONTENT_TYPE, "application/offset+octet-stream")
            .header(CONTENT_LENGTH, n)
            .header("upload-offset", offset);
        // Each piece is read once (and hashed) and sent from memory: the body is exactly the
        // bytes hashed. The next piece is read meanwhile.
        let ahead = self.ahead(offset + unit, end, unit);
        let chunk = self.chunks.take(offset, unit, ahead, algo).await?;
        if let Some(value) = chunk.checksum {
            rb = rb.header("upload-checksum", value);
        }
        let started = std::time::Instant::now();
        let (tx, rx) = mpsc::channel::<Bytes>(4);
        let body = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
        });
        let (done_tx, done_rx) = oneshot::channel::<()>();
        let stall = self.req.network.stall_timeout;
        let url = self.shown.clone();
        let patch = self.with_headers(rb.body(reqwest::Body::wrap_stream(body)))?;
        let id = http::observe_request(&self.req.network, &patch, &patch.url().clone());
        let client = self.client.clone();
        let request = async move {
            let send = client.execute(patch);
            tokio::pin!(send);
            // The stall timeout starts once the body is out (or could not be fed).
            let waited = async move {
                let _ = done_rx.await;
                tokio::time::sleep(stall).await;
            };
            tokio::select! {
                r = &mut send => r.map_err(|e| http::transport_error(&url, e)),
                () = waited => Err(Error::Stalled { url, timeout: stall }),
            }
        };
        let (resp, fed) = {
            let feed = self.feed_all(tx, done_tx, offset + unit, end, unit, chunk.data.clone());
            tokio::pin!(feed);
            tokio::pin!(request);
            // An early answer (before the whole body is read) ends the feeding.
            tokio::select! {
                r = &mut request => (r, Ok(())),
                f = &mut feed => ((&mut request).await, f),
            }
        };
        if let Err(e @ (Error::Io { .. } | Error::LocalChanged { .. })) = fed {
            return Err(e);
        }
        let resp = resp?;
        http::observe_response(&self.req.network, id, &resp);
        fed?;
        self.chunks.recycle(chunk.data);
        match resp.status() {
            StatusCode::CONFLICT => return Ok(Patched::Conflict),
            StatusCode::NOT_FOUND | StatusCode::GONE => return Ok(Patched::Gone),
            s if s.as_u16() == 460 => {
                return Err(Error::Tus {
                    url: self.shown.clone(),
                    problem: TusProblem::ChunkRejected(offset),
                });
            }
            s if !s.is_success() => return Err(http::status_error(&resp)),
            _ => {}
        }
        match number(resp.headers(), "upload-offset") {
            Some(next) if next > offset && next <= offset + n => {
                self.pace.sent(next - offset, started.elapsed());
                Ok(Patched::To(next))
            }
            other => Err(self.protocol(format!(
                "PATCH of {n} bytes at {offset} answered Upload-Offset {other:?}"
            ))),
        }
    }

    /// How much to read ahead once the piece ending at `at` is taken: the next piece of this
    /// `PATCH` (which ends at `end`), else the next chunk's first piece.
    fn ahead(&self, at: u64, end: u64, unit: u64) -> u64 {
        if at < end {
            unit.min(end - at)
        } else {
            // Without a checksum one PATCH goes to the end: nothing follows.
            self.pace.size().min(self.file.len - at)
        }
    }

    /// Feeds the body: `first` (already read), then the pieces from `at` to `end`, each read
    /// once the previous one is in the channel. Returns when all is fed or the request ended
    /// early (its answer says why); the stall timer of the answer starts when this returns.
    async fn feed_all(
        &mut self,
        tx: mpsc::Sender<Bytes>,
        done: oneshot::Sender<()>,
        mut at: u64,
        end: u64,
        unit: u64,
        first: Bytes,
    ) -> Result<(), Error> {
        let _done = done; // dropped on return, whatever the outcome
        if !self.feed(&tx, first).await? {
            return Ok(());
        }
        while at < end {
            if !self.file.unchanged(&self.req.local) {
                return Err(Error::LocalChanged {
                    path: self.req.local.clone(),
                });
            }
            let len = unit.min(end - at);
            let ahead = self.ahead(at + len, end, unit);
            let piece = self.chunks.take(at, len, ahead, Algo::None).await?;
            at += len;
            let fed = self.feed(&tx, piece.data.clone()).await?;
            self.chunks.recycle(piece.data);
            if !fed {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Puts `data` into the body channel in pieces, under the rate limit and the stall
    /// timeout, reporting progress; `false` when the request ended early.
    async fn feed(&mut self, tx: &mpsc::Sender<Bytes>, data: Bytes) -> Result<bool, Error> {
        let mut at = 0;
        while at < data.len() {
            let buf = data.slice(at..data.len().min(at + PIECE));
            if let Some(limiter) = &self.limiter {
                limiter.take(buf.len() as u64).await;
            }
            let len = buf.len();
            match tokio::time::timeout(self.req.network.stall_timeout, tx.send(buf)).await {
                Err(_) => {
                    return Err(Error::Stalled {
                        url: self.shown.clone(),
                        timeout: self.req.network.stall_timeout,
                    });
                }
                // The request ended early; its answer (or error) says why.
                Ok(Err(_)) => return Ok(false),
                Ok(Ok(())) => {}
            }
            at += len;
            self.sent += len as u64;
            self.reporter.report(Event::Progress { bytes: len as u64 });
        }
        Ok(true)
    }

    /// Builds a request and adds the caller's headers (all values of a repeated name) where
    /// tus sets none itself.
    fn with_headers(&self, rb: RequestBuilder) -> Result<reqwest::Request, Error> {
        let mut request = rb
            .build()
            .map_err(|e| http::transport_error(&self.shown, e))?;
        for name in self.req.network.headers.keys() {
            if !request.headers().contains_key(name) {
                for value in self.req.network.headers.get_all(name) {
                    request.headers_mut().append(name.clone(), value.clone());
                }
            }
        }
        Ok(request)
    }

    /// Sends a body-less request; waiting for the answer counts against the stall timeout.
    async fn send(&self, rb: RequestBuilder) -> Result<Response, Error> {
        let request = self.with_headers(rb)?;
        let id = http::observe_request(&self.req.network, &request, &request.url().clone());
        match tokio::time::timeout(self.req.network.stall_timeout, self.client.execute(request))
            .await
        {
            Err(_) => Err(Error::Stalled {
                url: self.shown.clone(),
                timeout: self.req.network.stall_timeout,
            }),
            Ok(Err(e)) => Err(http::transport_error(&self.shown, e)),
            Ok(Ok(resp)) => {
                http::observe_response(&self.req.network, id, &resp);
                Ok(resp)
            }
        }
    }
}

/// What a PATCH achieved.
#[derive(Debug)]
enum Patched {
    /// The server's new offset.
    To(u64),
    /// 409: the offset was not the server's.
    Conflict,
    /// 404/410: the upload is gone.
    Gone,
}

/// A header that holds one non-negative integer (Core Protocol › Headers › Upload-Offset).
pub(crate) fn number(headers: &HeaderMap, name: &str) -> Option<u64> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let text = value.to_str().ok()?.trim();
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_one_plain_integer() {
        let mut h = HeaderMap::new();
        assert_eq!(number(&h, "upload-offset"), None);
        for (value, want) in [
            ("12", Some(12)),
            (" 7 ", Some(7)),
            ("-1", None),
            ("+3", None),
        ] {
            h.insert("upload-offset", HeaderValue::from_static(value));
            assert_eq!(number(&h, "upload-offset"), want, "{value:?}");
        }
        h.append("upload-offset", HeaderValue::from_static("7"));
        assert_eq!(number(&h, "upload-offset"), None);
    }

    #[test]
    fn a_remembered_upload_gets_the_endpoint_password_back() {
        let endpoint = Url::parse("http://ann:pw@h/.durl/uploads/").unwrap();
        let same = Url::parse("http://ann@h/.durl/uploads/x").unwrap();
        assert_eq!(with_login(same, &endpoint).password(), Some("pw"));
        let bare = Url::parse("http://h:80/.durl/uploads/x").unwrap();
        let bare = with_login(bare, &endpoint);
        assert_eq!((bare.username(), bare.password()), ("ann", Some("pw")));
        let other = Url::parse("http://ann@elsewhere/x").unwrap();
        assert_eq!(with_login(other, &endpoint).password(), None);
    }

    #[test]
    fn the_password_stays_within_the_endpoints_origin() {
        // Issue 13, item 13: same host and user, but another port or scheme.
        let endpoint = Url::parse("https://ann:pw@h/.durl/uploads/").unwrap();
        for other in [
            "http://ann@h/.durl/uploads/x",
            "https://ann@h:9999/.durl/uploads/x",
            "http://ann@h:443/.durl/uploads/x",
            "https://ann@h.evil/x",
        ] {
            let url = with_login(Url::parse(other).unwrap(), &endpoint);
            assert_eq!((url.username(), url.password()), ("", None), "{other}");
        }
        let same = with_login(Url::parse("https://h:443/u/x").unwrap(), &endpoint);
        assert_eq!(same.password(), Some("pw"));
    }
}

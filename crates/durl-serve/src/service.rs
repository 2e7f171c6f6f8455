//! The per-request handler: auth, method, target checks, then the file or listing answer
//! from the storage (`storage/`), and the access-log record each response's body writes when
//! it is done.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

use crate::access_log;
use crate::assets;
use crate::auth::{Gate, Identity, Refusal, Right};
use crate::body::Body;
use crate::config::Config;
use crate::digest;
use crate::error::RequestError;
use crate::listing;
use crate::resolve::RequestPath;
use crate::response;
use crate::storage::local::Local;
use crate::storage::object::Objects;
use crate::storage::{Content, Found, ReadHint, Replaced, Storage};
use crate::upload;
use crate::zerocopy::Pending;

/// What every request needs, shared by all connections.
pub(crate) struct Service {
    /// The configuration as given.
    pub(crate) config: Config,
    /// Where the files are.
    pub(crate) storage: Backend,
    /// The tus upload store, when uploads are enabled.
    pub(crate) uploads: Option<upload::Uploads>,
    /// Accounts, rights and login state; `None` when nothing is restricted.
    pub(crate) gate: Option<Gate>,
}

/// The storage backends: one match per request, then one generic pipeline ([`serve`]).
#[derive(Debug)]
pub(crate) enum Backend {
    /// A local directory.
    Local(Local),
    /// An S3-API object store.
    Objects(Objects),
}

impl Service {
    /// Which active files are sandboxed (`Content-Security-Policy: sandbox`).
    fn sandbox(&self) -> response::Sandbox {
        response::Sandbox {
            all: self.config.sandbox_all,
            uploads_on: self.uploads.is_some(),
        }
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Answers one request, and logs it (target `durl_serve::access`, level INFO). `sendfile`:
/// the connection's sendfile queue, if it has one (plain-text connections).
pub(crate) async fn handle<B>(
    shared: Arc<Service>,
    request: Request<B>,
    peer: SocketAddr,
    sendfile: Option<Pending>,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    let started = Instant::now();
    let (parts, body) = request.into_parts();
    let log = shared.config.access_log
        && tracing::enabled!(target: "durl_serve::access", tracing::Level::INFO);
    // The record takes what it needs of the request before the handler consumes it.
    let mut record = log.then(|| {
        let target = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
        access_log::Record::new(
            shared.config.log_format,
            peer,
            &parts.method,
            target,
            parts.version,
            &parts.headers,
            started,
        )
    });
    let (mut response, user) = respond(
        &shared,
        peer,
        &parts.method,
        &parts.uri,
        parts.headers,
        body,
    )
    .await;
    // HTTP/2 frames the body itself, so only HTTP/1.x bodies can go out by sendfile.
    if let Some(pending) = sendfile
        && (parts.version == Version::HTTP_11 || parts.version == Version::HTTP_10)
    {
        response.body_mut().use_sendfile(pending);
    }
    if let Some(mut record) = record.take() {
        record.answered(user, response.status().as_u16());
        response.body_mut().log_when_done(record);
    }
    response
}

/// Steps 1–2 of the pipeline here; steps 3–8 in [`prepare`] on the blocking pool. Also
/// returns the authenticated user, if any.
async fn respond<B>(
    shared: &Arc<Service>,
    peer: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    body: B,
) -> (Response<Body>, Option<String>)
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    let mut identity = Identity::Anonymous;
    if let Some(gate) = &shared.gate {
        identity = match gate.identify(&headers, peer.ip()).await {
            Ok(identity) => identity,
            Err(Refusal::Unauthorized) => return (response::unauthorized(), None),
            Err(Refusal::TooMany(wait)) => return (response::too_many_logins(wait), None),
        };
        // Nothing allowed at all: refused before the path is even looked at.
        if !gate.may_anything(&identity) {
            return (refuse(gate, &identity), None);
        }
    }
    let user = identity.user().map(str::to_owned);
    let answer = answer_for(shared, peer, method, uri, headers, body, identity).await;
    (answer, user)
}

/// 401 when logging in could help (anonymous, and there are accounts), else 403.
fn refuse(gate: &Gate, identity: &Identity) -> Response<Body> {
    if *identity == Identity::Anonymous && gate.has_accounts() {
        response::unauthorized()
    } else {
        response::status(StatusCode::FORBIDDEN)
    }
}

/// The answer to a request from `identity`, whose credentials (if any) are checked.
async fn answer_for<B>(
    shared: &Arc<Service>,
    peer: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    body: B,
    identity: Identity,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    // The tus endpoint (upload/), when uploads are on: its own methods and rules. Without
    // --upload the path is an ordinary (nonexistent) file. The write right is checked there
    // for the upload's directory; here only that the user may write somewhere.
    if let Some(store) = &shared.uploads
        && upload::is_upload_path(uri.path())
    {
        if let Some(gate) = &shared.gate
            && !gate.may_write_somewhere(&identity)
        {
            return refuse(gate, &identity);
        }
        let who = upload::Requester {
            gate: shared.gate.as_ref(),
            identity: &identity,
        };
        return upload::handle(store, who, peer.ip(), method, uri.path(), &headers, body).await;
    }
    // The upload page's script and style (assets.rs), when uploads are on; without, these
    // paths are ordinary (nonexistent) files too. The listing's style sheet whenever there
    // are listings.
    if (shared.uploads.is_some() && assets::is_upload_asset_path(uri.path()))
        || (shared.config.list_directories && uri.path() == assets::LISTING_STYLE_PATH)
    {
        return assets::answer(method, uri.path(), &headers);
    }
    // Step 1: GET and HEAD only (RFC 9110 §9.1: 405 for a method we know but do not allow).
    if method != Method::GET && method != Method::HEAD {
        return response::method_not_allowed();
    }
    let target_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    if target_len > shared.config.limits.max_target_bytes {
        return response::status(RequestError::TargetTooLong.status());
    }
    // Step 2a: decode and check the path (pure).
    let request = match RequestPath::parse(uri.path()) {
        Ok(request) => request,
        Err(e) => return response::status(e.status()),
    };
    // Dotfiles (`.git/`, `.env`) are not served unless asked for: 404, as if absent.
    if !shared.config.hidden && request.is_hidden() {
        return response::status(StatusCode::NOT_FOUND);
    }
    // Read right here, or (for a directory) below: files are checked again in `prepare`.
    if let Some(gate) = &shared.gate
        && !gate.may_list(&identity, request.segments())
    {
        return refuse(gate, &identity);
    }
    // Step 2b onwards: the storage (storage/), one generic pipeline per backend.
    let query = uri.query();
    match &shared.storage {
        Backend::Local(local) => {
            serve(shared, local, method, &headers, &request, query, &identity).await
        }
        Backend::Objects(objects) => {
            serve(
                shared, objects, method, &headers, &request, query, &identity,
            )
            .await
        }
    }
}

/// The response, or the status answer for the error (500s are logged).
fn answer(prepared: Result<Response<Body>, RequestError>) -> Response<Body> {
    match prepared {
        Ok(response) => response,
        Err(e) => {
            let status = e.status();
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                tracing::warn!(error = %e, source = ?std::error::Error::source(&e), "request failed");
            }
            response::status(status)
        }
    }
}

/// Steps 2b–9 over `storage`: the file's answer, an index page, a listing or a redirect.
async fn serve<S: Storage>(
    shared: &Service,
    storage: &S,
    method: &Method,
    headers: &HeaderMap,
    request: &RequestPath,
    query: Option<&str>,
    identity: &Identity,
) -> Response<Body> {
    // A file the storage opens without waiting (a local file in the kernel's caches) is
    // answered right here; the body then reads or sends cached data inline too, and goes to
    // the blocking pool only for what is on disk. A request for a digest may hash the file,
    // and a file needs the read right on itself (the check before this one also let through
    // directories leading to one).
    if !digest::asked(headers)
        && shared
            .gate
            .as_ref()
            .is_none_or(|g| g.may(identity, request.segments(), Right::Read))
        && let Some(file) = storage.open_now(request)
    {
        return answer(
            response::file(method, headers, file, shared.sandbox())
                .await
                .map_err(Into::into),
        );
    }
    let prepared = prepare(shared, storage, method, headers, request, query, identity).await;
    let replaced =
        |p: &Result<_, RequestError>| matches!(p, Err(RequestError::Io(e)) if Replaced::is(e));
    if !replaced(&prepared) {
        return answer(prepared);
    }
    // The file changed between its stat and its first read (an object overwritten in
    // between): what the answer was prepared from is gone, so evaluate the request again
    // against what the path names now, once.
    let prepared = prepare(shared, storage, method, headers, request, query, identity).await;
    if replaced(&prepared) {
        // Replaced twice within one request: the client may try again in a moment.
        let mut busy = response::status(StatusCode::SERVICE_UNAVAILABLE);
        busy.headers_mut().insert(
            http::header::RETRY_AFTER,
            http::HeaderValue::from_static("1"),
        );
        return busy;
    }
    answer(prepared)
}

/// Resolves the path and builds the answer.
async fn prepare<S: Storage>(
    shared: &Service,
    storage: &S,
    method: &Method,
    headers: &HeaderMap,
    request: &RequestPath,
    query: Option<&str>,
    identity: &Identity,
) -> Result<Response<Body>, RequestError> {
    let config = &shared.config;
    // Whether the user may read `r` (anyone may without --auth).
    let may_read = |r: &RequestPath| {
        shared
            .gate
            .as_ref()
            .is_none_or(|g| g.may(identity, r.segments(), Right::Read))
    };
    // A file the user may not read gets a refusal, not its bytes.
    let readable = may_read(request);
    let hint = if readable {
        ReadHint::of(method, headers)
    } else {
        ReadHint::None
    };
    let found = match storage.open(request, hint).await {
        // No favicon.ico in the root: the embedded icon rather than a 404 on every visit.
        Err(e)
            if e.status() == StatusCode::NOT_FOUND
                && request.segments() == [b"favicon.ico".to_vec()] =>
        {
            return Ok(assets::answer(method, assets::FAVICON_PATH, headers));
        }
        found => found?,
    };
    match found {
        Found::File(file) => {
            // "/file.txt/" names a directory that does not exist.
            if request.has_trailing_slash() {
                return Err(RequestError::NotFound);
            }
            if let Some(gate) = &shared.gate
                && !readable
            {
                return Ok(refuse(gate, identity));
            }
            file_answer(shared, method, headers, file).await
        }
        Found::Dir(dir) => {
            if !config.list_directories && config.index.is_none() {
                return Err(RequestError::NotFound);
            }
            if !request.is_root() && !request.has_trailing_slash() {
                // Relative links in the listing (and in an index page) need the slash.
                return Ok(response::redirect(&request.href(true)));
            }
            if let Some(index) = &config.index
                && may_read(&request.child(index.as_bytes()))
            {
                let index = request.child(index.as_bytes());
                match storage.open(&index, ReadHint::of(method, headers)).await {
                    Ok(Found::File(file)) => {
                        return file_answer(shared, method, headers, file).await;
                    }
                    // A directory named index.html, or none: the listing.
                    Ok(Found::Dir(_)) => {}
                    Err(e) if e.status() == StatusCode::NOT_FOUND => {}
                    Err(e) => return Err(e),
                }
            }
            if !config.list_directories {
                return Err(RequestError::NotFound);
            }
            let mut entries = storage.list(dir, request).await?;
            // A user never sees an entry they cannot read.
            if let Some(gate) = &shared.gate {
                entries.retain(|e| {
                    let child = request.child(&e.name);
                    gate.may(identity, child.segments(), Right::Read)
                        || (e.is_dir && gate.may_list(identity, child.segments()))
                });
            }
            let view = listing::View::from_request(query, headers);
            // The upload area where this user may upload: into the directory shown.
            let upload = shared
                .uploads
                .as_ref()
                .filter(|_| {
                    shared
                        .gate
                        .as_ref()
                        .is_none_or(|g| g.may(identity, request.segments(), Right::Write))
                })
                .map(|store| listing::UploadArea {
                    overwrite: store.settings().overwrite,
                });
            let (page, content_type) = listing::render(entries, request, view, upload);
            Ok(response::listing(
                page,
                content_type,
                method == Method::HEAD,
            ))
        }
    }
}

/// The answer for an open file, with the digests asked for (RFC 9530).
async fn file_answer<F: Content>(
    shared: &Service,
    method: &Method,
    headers: &HeaderMap,
    file: F,
) -> Result<Response<Body>, RequestError> {
    let wanted = if digest::asked(headers) {
        digest::wanted(headers)
    } else {
        digest::Wanted::default()
    };
    let digests = if wanted.repr.is_some() || wanted.content.is_some() {
        file.digests().await
    } else {
        None
    };
    let mut response = response::file(method, headers, file, shared.sandbox()).await?;
    if let Some(digests) = digests {
        let status = response.status();
        let h = response.headers_mut();
        // The digest is of the whole representation, so a 206 carries it too (RFC 9530
        // §3); the content is the representation only in a whole-file 200 to a GET.
        if status == StatusCode::OK || status == StatusCode::PARTIAL_CONTENT {
            let repr = wanted.repr.or(wanted.content);
            if let Some(algorithm) = repr {
                h.insert("repr-digest", digests.field(algorithm));
            }
        }
        if let Some(algorithm) = wanted.content
            && status == StatusCode::OK
            && method == Method::GET
        {
            h.insert("content-digest", digests.field(algorithm));
        }
    }
    Ok(response)
}

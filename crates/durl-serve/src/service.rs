//! The per-request handler: auth, method, target checks, then resolution and the file or
//! listing answer on the blocking pool, and one access-log line per request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};

use crate::assets;
use crate::body::Body;
use crate::error::RequestError;
use crate::listener::Shared;
use crate::listing;
use crate::resolve::{self, RequestPath, Target};
use crate::response;
use crate::upload;
use crate::zerocopy::Pending;

/// Longest request target written to the access log; longer ones are cut.
const LOGGED_TARGET: usize = 512;

/// Answers one request, and logs it (target `durl_serve::access`, level INFO). `sendfile`:
/// the connection's sendfile queue, if it has one (plain-text connections).
pub(crate) async fn handle<B>(
    shared: Arc<Shared>,
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
    let mut response = respond(&shared, &parts.method, &parts.uri, parts.headers, body).await;
    // HTTP/2 frames the body itself, so only HTTP/1.x bodies can go out by sendfile.
    if let Some(pending) = sendfile
        && (parts.version == Version::HTTP_11 || parts.version == Version::HTTP_10)
    {
        response.body_mut().use_sendfile(pending);
    }
    if shared.config.access_log
        && tracing::enabled!(target: "durl_serve::access", tracing::Level::INFO)
    {
        let target = parts.uri.path_and_query().map_or("", |pq| pq.as_str());
        let (target, cut) = match target.char_indices().nth(LOGGED_TARGET) {
            Some((i, _)) => (&target[..i], "..."),
            None => (target, ""),
        };
        let length = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        tracing::info!(
            target: "durl_serve::access",
            "{peer} \"{} {target}{cut} {:?}\" {} {length} {}us",
            parts.method,
            parts.version,
            response.status().as_u16(),
            started.elapsed().as_micros(),
        );
    }
    response
}

/// Steps 1–2 of the pipeline here; steps 3–8 in [`prepare`] on the blocking pool.
async fn respond<B>(
    shared: &Arc<Shared>,
    method: &Method,
    uri: &Uri,
    headers: HeaderMap,
    body: B,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display,
{
    if let Some(auth) = &shared.config.auth
        && !auth.allows(&headers)
    {
        return response::unauthorized();
    }
    // The tus endpoint (upload/), when uploads are on: its own methods and rules. Without
    // --upload the path is an ordinary (nonexistent) file.
    if let Some(store) = &shared.uploads
        && upload::is_upload_path(uri.path())
    {
        return upload::handle(store, method, uri.path(), &headers, body).await;
    }
    // The upload page's script and style (assets.rs), when uploads are on; without, these
    // paths are ordinary (nonexistent) files too.
    if shared.uploads.is_some() && assets::is_asset_path(uri.path()) {
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
    // Step 2b onwards touch the file system. A regular file whose path is in the kernel's
    // caches opens right here without blocking; the body then reads or sends cached data
    // inline too, and goes to the blocking pool only for what is on disk.
    if let Some((file, meta, path)) = resolve::open_cached(&shared.root_dir, &shared.root, &request)
    {
        return answer(
            response::file(method, &headers, file, &meta, &path, false).map_err(Into::into),
        );
    }
    // Everything else: one trip to the blocking pool, which also reads the first chunk of
    // the body if it is not cached.
    let shared = Arc::clone(shared);
    let method = method.clone();
    let prepared =
        tokio::task::spawn_blocking(move || prepare(&shared, &method, &headers, &request)).await;
    match prepared {
        Ok(prepared) => answer(prepared),
        Err(join) => {
            tracing::error!(error = %join, "request handler panicked");
            response::status(StatusCode::INTERNAL_SERVER_ERROR)
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

/// Resolves the path and builds the answer. Blocking.
fn prepare(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    request: &RequestPath,
) -> Result<Response<Body>, RequestError> {
    let target = resolve::open(
        &shared.root_dir,
        &shared.root,
        request,
        shared.config.follow_symlinks,
    )?;
    match target {
        Target::File { file, meta, path } => {
            // "/file.txt/" names a directory that does not exist.
            if request.has_trailing_slash() {
                return Err(RequestError::NotFound);
            }
            Ok(response::file(method, headers, file, &meta, &path, true)?)
        }
        Target::Dir { dir } => {
            if !shared.config.list_directories {
                return Err(RequestError::NotFound);
            }
            if !request.is_root() && !request.has_trailing_slash() {
                // Relative links in the listing need the trailing slash.
                return Ok(response::redirect(&request.href(true)));
            }
            let page = listing::render(dir, request, shared.uploads.is_some())?;
            Ok(response::html(page, method == Method::HEAD))
        }
    }
}

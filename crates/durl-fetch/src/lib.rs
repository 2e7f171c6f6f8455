//! Resumable, crash-safe HTTP/HTTPS and FTP downloads and uploads: the engine behind `durl get`
//! and `durl put`.
//!
//! A download finishes with exactly the bytes of one version of the remote file, fetching each
//! byte once, whatever happens on the way: dropped connections, stalls, servers that ignore or
//! botch `Range`, files that change on the server, and `kill -9` at any moment.
//!
//! # How `get` works
//! Steps 4 and 5 are HTTP's; for `ftp://` they are: log in (the URL's user, else
//! [`Network::login`], else `.netrc`, else `anonymous`), `SIZE` and `MDTM` as length and
//! version (a partial of another `SIZE` or `MDTM` is dropped), `REST <offset>` + `RETR`, and a
//! transfer that ends before or goes on past `SIZE` is never completed.
//! 1. **Destination.** The given file, or a safe name in the given directory
//!    (`filename`): the URL's, if an earlier run left something under it; otherwise the
//!    first GET is sent and its `Content-Disposition` (else the URL) names the file.
//! 2. **Lock.** `<out>.durl-part` is opened and locked; a second process gets
//!    [`Error::Locked`].
//! 3. **Recover.** `<out>.durl-state` (`journal`) is loaded and checked against the URL and
//!    the part file; its `durable` bytes are kept, anything after them dropped.
//! 4. **Request.** `GET` with `Range: bytes=N-` and `If-Range` (a strong ETag, or a
//!    Last-Modified date that is strong per RFC 9110 §8.8.2.2), `Accept-Encoding: identity`,
//!    and the login (the URL's, [`Network::login`] or `.netrc`'s, chosen per URL by origin:
//!    [`Network`]) as Basic credentials.
//! 5. **Check.** A 206 is used only if its `Content-Range` starts at or before N, its length
//!    matches and its validators match (`content_range`, `validator`); a 200 rewrites from
//!    byte 0; a 416 with `bytes */N` means complete.
//! 6. **Stream.** Chunks go to the part file; silence past the stall timeout is an error; a
//!    body longer than announced is cut.
//! 7. **Checkpoint.** Every second: `sync_data` the part file on the writer's helper
//!    thread, then atomically replace the state file. The state never claims a byte that is
//!    not durable.
//! 8. **Split** (with [`GetRequest::connections`] > 1): when the length is known and the
//!    version can be proven on every connection (HTTP: a validator for `If-Range`; FTP:
//!    `SIZE` and `MDTM`), the missing bytes are planned into segments (`plan`) and fetched
//!    over several connections; a connection that finishes takes over half of the largest
//!    remaining segment. The state records the held ranges (`ranges`). The segment engine
//!    is the same for both protocols: each opens "the bytes of this version from START" its
//!    own way (a ranged GET; `REST` + `RETR` on a control connection of its own), and every
//!    stream writes at its own running offset, never past the end its protocol announced.
//! 9. **Retry.** Retryable errors ([`Error::is_retryable`]) back off exponentially with jitter
//!    (or as `Retry-After` says) and continue from the last written byte.
//! 10. **Verify and commit.** fsync the part file, check the optional checksum
//!     (`verify`), rename it to the destination, fsync the directory, remove the state.
//!
//! # How `put` works
//! [`put`] uploads a local file to an `ftp://` URL: `SIZE` says how much the server holds, the
//! tail of that prefix is read back and compared with the local file, the rest is sent
//! (`REST` + `STOR`, or `APPE`), and the final `SIZE` (and `HASH`, where offered) must match.
//! A longer or different remote file is refused unless [`PutRequest::overwrite`]. FTPS
//! (`AUTH TLS`) is [`PutRequest::ftp_tls`] / [`GetRequest::ftp_tls`]. To an `http(s)://` URL,
//! [`put`] speaks tus 1.0 (`POST`, then `PATCH` chunks with `Upload-Checksum`; `HEAD` to
//! resume), remembering the upload in `<local>.durl-upload`.
//!
//! # Settings, logins and the rest
//! [`Network`] holds what downloads and uploads share: retries, back-off, timeouts, headers,
//! TLS roots, FTPS, the login and `.netrc` (chosen per URL by one rule:
//! the URL's own login and [`Network::login`] only to the origin named, a `.netrc` entry only
//! to its host), proxies, and a [`WireObserver`] that sees every HTTP head (`durl -v`).
//! [`head`] returns a URL's response head (`durl get -I`); [`stream`] writes a download to
//! any `AsyncWrite` as it arrives (`durl get -o -`). URLs are shown through [`Redacted`], the
//! one place passwords are stripped.
//!
//! The library never prints: progress and notices go to a [`Reporter`].
//!
//! # Example
//! ```no_run
//! # async fn example() -> Result<(), durl_fetch::Error> {
//! let req = durl_fetch::GetRequest::new("https://example.com/big.iso")?
//!     .output("big.iso")
//!     .retries(5);
//! let outcome = durl_fetch::get(&req, &()).await?;
//! assert_eq!(outcome.path, std::path::Path::new("big.iso"));
//! # Ok(())
//! # }
//! ```

mod batch;
mod download;
mod error;
mod events;
mod ftp;
#[doc(hidden)]
pub mod fuzzing;
mod get;
mod http;
#[doc(hidden)]
pub mod netrc;
mod network;
mod redact;
mod request;
mod store;
mod tls;
mod tus;
mod upload;

// Modules whose items the CLI and the tests reach by path (state files, ranges, names);
// not a stable API.
#[doc(hidden)]
pub use download::{plan, ranges};
#[doc(hidden)]
pub use http::{content_range, filename, validator};
#[doc(hidden)]
pub use store::{journal, verify};

pub use batch::{BatchOptions, BatchReporter, get_all, put_all};
pub use download::commit::Outcome;
pub use download::mirrors::DropReason;
pub use error::{Error, ErrorKind, RemoteConflict, Reply, TransportError, TusProblem};
pub use events::{Event, Reporter, RestartReason};
pub use get::get;
pub use http::head::{Head, head};
pub use http::stream::stream;
pub use network::{Network, Wire, WireObserver};
pub use redact::{Redacted, redact_text, redacted};
pub use request::{Destination, GetRequest};
pub use reqwest::header;
pub use tokio_util::sync::CancellationToken;
pub use upload::{PutOutcome, PutRequest, put};
pub use verify::{Algorithm, Checksum};

//! Resumable, crash-safe HTTP/HTTPS and FTP downloads and uploads: the engine behind `durl get`
//! and `durl put`.
//!
//! A download finishes with exactly the bytes of one version of the remote file, fetching each
//! byte once, whatever happens on the way: dropped connections, stalls, servers that ignore or
//! botch `Range`, files that change on the server, and `kill -9` at any moment.
//!
//! # How `get` works
//! One engine (`download`) does every step for both protocols; only step 6 speaks HTTP or FTP,
//! through a transport (`http::transport`, `ftp::transport`).
//! 1. **Protocol.** [`get`] picks the transport by the URL's scheme, the one place that does;
//!    mirrors ([`GetRequest::mirrors`]) must speak the same protocol.
//! 2. **Destination.** The given file, or a safe name in the given directory (`filename`):
//!    the URL's, if an earlier run left something under it; otherwise, over HTTP, the first
//!    GET is sent now and its `Content-Disposition` names the file (its body is then used: no
//!    second request).
//! 3. **Finished already?** A file durl finished (its mark) whose remote version is unchanged
//!    (HTTP: `Range: bytes=LEN-` with `If-Range` answered 416; FTP: the same `SIZE` and
//!    `MDTM`) is complete without a transfer; any other existing file needs
//!    [`GetRequest::continue_existing`] or [`GetRequest::overwrite`].
//! 4. **Lock.** `<out>.durl-part` is opened and locked; a second process gets
//!    [`Error::Locked`].
//! 5. **Recover or adopt.** `<out>.durl-state` (`journal`, format 3; formats 1 and 2 of
//!    earlier releases are read) is loaded and checked against the URL and the part file; its
//!    `durable` bytes are kept, anything after them dropped. With `-c` and no state, the last
//!    64 KiB of an existing file are fetched again and compared; a match makes it the part
//!    file, a mismatch starts from byte 0 with a message.
//! 6. **Open.** Each attempt asks the transport for the bytes from the first one missing (up
//!    to the next held range), of the [`Version`] held, which the transport minted and alone
//!    compares. HTTP: `GET` with `Range: bytes=N-` and `If-Range` (a strong ETag, or a
//!    Last-Modified date strong per RFC 9110 §8.8.2.2), `Accept-Encoding: identity`; what a
//!    206, 200 or 416 means is one pure function (`http::classify`, RFC 9110 §14.4, §15.3.7,
//!    §15.5.17); a 200 that carries the validator held is asked again once with `Range`
//!    alone (a CDN that ignores entity tags in `If-Range`; its origin is remembered for the
//!    run); `Want-Repr-Digest` asks for the RFC 9530 digest (`http::digest`), which becomes
//!    part of the version; the login goes only to the origin named. FTP: log in (the URL's user, else
//!    [`Network::login`] on that server, else `.netrc`, else `anonymous`), `TYPE I`, `EPSV`
//!    or `PASV`, `SIZE` and `MDTM` checked against the version held, `REST <N>` + `RETR`.
//!    The answer is a body (from where, to where), the whole file (the range was ignored:
//!    start again from 0), "complete", another version (a mirror is dropped, else the partial
//!    is), or a restart with its reason. Without a strong validator the request also asks for
//!    the 64 KiB held before the offset, which must repeat the partial's bytes (else the file
//!    changed: start again from 0).
//! 7. **Stream.** Each stream writes at its own running offset, never past the end its
//!    transport announced (a longer body is a protocol error, never file content); silence
//!    past the stall timeout is an error; an FTP data connection must end exactly at `SIZE`.
//! 8. **Checkpoint.** Every second: `sync_data` the part file on the writer's helper thread,
//!    then atomically replace the state file. The state never claims a byte that is not
//!    durable.
//! 9. **Split** (with [`GetRequest::connections`] > 1): when the length is known and the
//!    version can be proven on every connection (HTTP: a validator for `If-Range`; FTP:
//!    `SIZE` and `MDTM`), the missing bytes are planned into segments (`plan`) and fetched
//!    over several connections (each of its own for FTP), round-robin over the mirrors; a
//!    connection that finishes takes over half of the largest remaining segment. One writer
//!    owns the part file; the state records the held ranges (`ranges`).
//! 10. **Retry.** Retryable errors ([`Error::is_retryable`]) back off exponentially with
//!     jitter (or as `Retry-After` says) and continue from the last written byte; a mirror
//!     that fails three times in a row is dropped while another remains.
//! 11. **Verify and commit.** fsync the part file, check the optional checksum and the
//!     remote's digest recorded with the version (`verify`), rename it to the destination,
//!     fsync the directory, mark it, remove the state.
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
mod filename;
mod ftp;
#[doc(hidden)]
pub mod fuzzing;
mod get;
mod http;
mod netrc;
mod network;
mod redact;
mod request;
mod store;
mod tls;
mod tus;
mod upload;
mod version;

pub use batch::{BatchOptions, BatchReporter, get_all, put_all};
pub use download::commit::Outcome;
pub use download::mirrors::DropReason;
pub use error::{Error, ErrorKind, RemoteConflict, Reply, TransportError, TusProblem};
pub use events::{Event, Reporter, RestartReason};
pub use filename::file_name_for;
pub use get::get;
pub use http::head::{Head, head};
pub use http::stream::stream;
pub use network::{Network, Wire, WireObserver};
pub use redact::{Redacted, redact_text, redacted};
pub use request::{Destination, GetRequest};
pub use reqwest::header;
pub use store::verify::{Algorithm, Checksum};
pub use tokio_util::sync::CancellationToken;
pub use tus::metadata::{MetadataError, UploadMetadata};
pub use upload::{PutOutcome, PutRequest, put};
pub use version::Version;

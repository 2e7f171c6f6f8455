//! A fault-injecting HTTP/1.1 (and HTTPS) server for durl's tests, a small FTP one
//! ([`FtpServer`]) for faults a real server will not make, [`Vsftpd`], a real FTP(S)
//! server started for a test, and [`SeaweedFs`], a real S3-API object store.
//!
//! [`FaultServer`] listens on `127.0.0.1:0` on its own thread and runtime,
//! so it serves `#[test]` and `#[tokio::test]` alike, and stops when dropped.
//! The HTTP layer is written by hand on raw TCP so that it can misbehave in
//! ways a real HTTP library would refuse to: wrong lengths, resets, stalls,
//! ignored ranges (see [`Fault`]). Without faults it is a correct RFC 9110
//! server for GET and HEAD, with single byte ranges, `If-Range` and the
//! other conditional headers.
//!
//! Bodies come from a deterministic corpus ([`pattern_bytes`]) generated on
//! the fly, and the server counts the body bytes it actually wrote, so a
//! test can check that a resumed download fetched only what was missing.
//!
//! ```no_run
//! use durl_testkit::{FaultServer, Fault, Resource, pattern_bytes};
//!
//! let server = FaultServer::start();
//! server.put("/file.bin", Resource::pattern(7, 1 << 20));
//! server.push_fault("/file.bin", Fault::CutAfter(1000));
//! let url = server.url("/file.bin");
//! // ... run the client against `url`: the first GET is cut after 1000 bytes,
//! // the client resumes with `Range: bytes=1000-` ...
//! let expected = pattern_bytes(7, 0..1 << 20);
//! # let _ = (url, expected);
//! assert_eq!(server.body_bytes_served("/file.bin"), 1 << 20);
//! assert_eq!(server.log()[1].header("range"), Some("bytes=1000-"));
//! ```

mod connection;
mod corpus;
mod fault;
mod ftp;
mod ftp_files;
mod ftp_session;
mod proxy;
mod range;
mod request;
mod resource;
mod response;
mod seaweedfs;
mod server;
mod state;
mod tls;
mod validators;
mod vsftpd;

pub use corpus::{Body, pattern_byte, pattern_bytes};
pub use fault::Fault;
pub use ftp::{DEFAULT_MDTM, FtpFault, FtpServer, Retr};
pub use proxy::{Asked, Proxy};
pub use resource::{DEFAULT_LAST_MODIFIED_UNIX, Redirect, Resource};
pub use seaweedfs::{S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, SeaweedFs};
pub use server::FaultServer;
pub use state::Served;
pub use vsftpd::{Vsftpd, VsftpdOptions};

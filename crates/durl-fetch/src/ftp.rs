//! `ftp://` as a transport of the download engine ([`crate::download`]), which keeps the part
//! file, state file, retries, mirrors, `-c` and commit the same as for HTTP: login (RFC 959
//! §4.1.1 `USER`/`PASS`; the URL's user, else [`crate::GetRequest::login`] for the request's
//! own server, else `.netrc`, else `anonymous`), `TYPE I`, passive mode (RFC 2428 `EPSV` if
//! `FEAT` offers it, else `PASV`), `SIZE` and `MDTM` (RFC 3659 §4, §3) as length and
//! validator (`MDTM` is the state's `last-modified`), then `REST <offset>` (RFC 3659 §5) and
//! `RETR`, on one connection or one per segment ([`transport`]). A partial whose `SIZE` or
//! `MDTM` changed is discarded; without `REST` the download starts again from 0; a transfer
//! longer or shorter than `SIZE` is never completed. Uploads are [`put`].

mod data;
pub(crate) mod put;
mod session;
mod target;
mod transport;

pub(crate) use transport::FtpTransport;

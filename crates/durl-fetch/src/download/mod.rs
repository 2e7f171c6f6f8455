//! The protocol-free download engine: what is planned, fetched in segments over a
//! [`transport::Transport`], and committed is the same for every protocol. Nothing here
//! names an HTTP or FTP library (`.ci/run` checks it).

pub(crate) mod commit;
pub(crate) mod mirrors;
pub mod plan;
pub mod ranges;
pub(crate) mod split;
pub(crate) mod transport;

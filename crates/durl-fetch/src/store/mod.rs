//! Local durability, no network: the part file and its writer, the state file, the mark on
//! a finished file, atomic replacement, checksums, the rate limiter and the retry policy.

pub(crate) mod durable;
pub(crate) mod journal;
pub(crate) mod mark;
pub(crate) mod part;
pub(crate) mod rate;
pub(crate) mod retry;
pub(crate) mod verify;

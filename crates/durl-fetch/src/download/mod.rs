//! The protocol-free download engine: what is planned, fetched in segments over a
//! [`transport::Transport`], and committed is the same for every protocol. Nothing here
//! names an HTTP or FTP library (`.ci/run` checks it).

pub(crate) mod attempts;
pub(crate) mod commit;
pub(crate) mod mirrors;
pub(crate) mod plan;
pub(crate) mod prepare;
pub(crate) mod ranges;
pub(crate) mod split;
pub(crate) mod transport;

use crate::events::Reporter;
use crate::{Error, GetRequest};
use commit::Outcome;
use prepare::Prepared;
use transport::Transport;

/// Downloads `req` through `transport`: prepare (destination, lock, recover, adopt), then
/// the attempts (one stream or segments, retries, restarts, mirrors), then the commit.
pub(crate) async fn run<T: Transport>(
    transport: &T,
    req: &GetRequest,
    reporter: &dyn Reporter,
) -> Result<Outcome, Error> {
    let start = match prepare::prepare(transport, req, reporter).await? {
        Prepared::Done(outcome) => return Ok(outcome),
        Prepared::Start(start) => start,
    };
    let (attempts, first) = attempts::Attempts::new(req, transport, reporter, *start);
    attempts.run(first).await
}

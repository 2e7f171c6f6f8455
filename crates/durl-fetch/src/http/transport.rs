//! HTTP(S) as a [`Transport`]: a ranged GET with `If-Range` for the bytes asked, its answer
//! read by [`super::classify`].

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Client, Response};
use url::Url;

use super::validator::Validators;
use super::{Asked, Held, RangeAsk, Verdict};
use crate::download::transport::{Ask, Body, Opened, Transport};
use crate::events::RestartReason;
use crate::{Error, GetRequest};

/// Opens bodies with one client.
pub(crate) struct HttpTransport<'a> {
    pub(crate) client: &'a Client,
    pub(crate) req: &'a GetRequest,
}

/// A response body.
pub(crate) struct HttpBody {
    resp: Response,
    url: Url,
    stall: Duration,
}

impl HttpBody {
    /// The body of `resp` (read with the stall timeout).
    pub(crate) fn new(resp: Response, stall: Duration) -> HttpBody {
        HttpBody {
            url: resp.url().clone(),
            resp,
            stall,
        }
    }
}

impl Body for HttpBody {
    async fn next_chunk(&mut self, _max: u64) -> Result<Option<Bytes>, Error> {
        super::next_chunk(&mut self.resp, self.stall, &self.url).await
    }

    /// HTTP bounds every body by its framing: nothing to check at the end.
    async fn close(self, _reached: u64) -> Result<(), Error> {
        Ok(())
    }
}

impl Transport for HttpTransport<'_> {
    type Body = HttpBody;

    async fn open(&self, url: &Url, ask: Ask<'_>) -> Result<Opened<HttpBody>, Error> {
        let version = ask.version;
        let range: Range<u64> = ask.start..ask.end;
        let resp = super::send(
            self.client,
            self.req,
            url,
            false,
            RangeAsk::Bounded {
                range,
                if_range: version.validators.if_range.as_deref(),
            },
        )
        .await?;
        let seen = Validators::from_headers(resp.headers());
        let asked = Asked {
            start: ask.start,
            ranged: true,
            length: version.length,
        };
        let same = version.validators.same_version_as(&seen);
        match super::classify(&resp, asked, same) {
            Verdict::Partial { range, .. } => Ok(Opened::Body {
                range,
                body: HttpBody::new(resp, self.req.network.stall_timeout),
            }),
            // RFC 9110 §13.1.5: a 200 to a request with If-Range means the file changed (or
            // the server ignores ranges): never mix its bytes with the segments.
            Verdict::Whole {
                held: Held::SameVersion,
                ..
            } => Ok(Opened::Restart(RestartReason::RangeIgnored)),
            Verdict::Whole { .. } | Verdict::Changed => Ok(Opened::Changed),
            Verdict::Complete { .. } => Ok(Opened::Restart(RestartReason::RangeNotSatisfiable)),
            Verdict::Restart(reason) => Ok(Opened::Restart(reason)),
            Verdict::Invalid(detail) => Err(Error::BadRange {
                url: resp.url().clone(),
                detail,
            }),
            Verdict::Failed => Err(super::status_error(&resp)),
        }
    }
}

//! HTTP(S) as a [`Transport`]: a GET (ranged, with `If-Range` when a version is held) for the
//! bytes asked, its answer read by [`super::classify`].

use std::time::Duration;

use bytes::Bytes;
use reqwest::{Client, Response};
use url::Url;

use super::validator::Validators;
use super::{Asked, Held, RangeAsk, Verdict};
use crate::download::transport::{Ask, Body, Opened, Remote, Transport};
use crate::store::journal::State;
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

    /// The first GET's `Content-Disposition` names a file saved into a directory.
    const NAMES_FILE: bool = true;

    async fn open(&self, url: &Url, ask: Ask<'_>) -> Result<Opened<HttpBody>, Error> {
        let held = ask.version.map(|v| Validators::from_version(&v.version));
        let if_range = held.as_ref().and_then(|v| v.if_range.as_deref());
        let range = match ask.end {
            Some(end) => RangeAsk::Bounded {
                range: ask.start..end,
                if_range,
            },
            None if ask.start > 0 || ask.version.is_some() => RangeAsk::From {
                start: ask.start,
                if_range,
            },
            None => RangeAsk::None,
        };
        let ranged = !matches!(range, RangeAsk::None);
        let resp = super::send(self.client, self.req, url, false, range).await?;
        let seen = Validators::from_headers(resp.headers());
        let asked = Asked {
            start: ask.start,
            ranged,
            length: ask.version.and_then(|v| v.length),
        };
        let same = held.as_ref().is_none_or(|v| v.same_version_as(&seen));
        let verdict = super::classify(&resp, asked, same);
        let remote = |length: Option<u64>| Remote {
            url: resp.url().clone(),
            length,
            splittable: seen.if_range.is_some() && accepts_ranges(&resp),
            name: super::content_disposition(&resp),
            version: seen.to_version(),
        };
        match verdict {
            Verdict::Partial { range, length } => Ok(Opened::Body {
                remote: remote(length),
                from: range.start,
                end: Some(range.end),
                body: HttpBody::new(resp, self.req.network.stall_timeout),
            }),
            // RFC 9110 §15.3.1: a 200 carries the whole representation, from byte 0; §13.1.5:
            // to a request with If-Range it means the file changed, or the range was ignored.
            Verdict::Whole { length, held } => Ok(Opened::Whole {
                remote: remote(length),
                same_version: held != Held::OtherVersion,
                body: HttpBody::new(resp, self.req.network.stall_timeout),
            }),
            Verdict::Complete { length } => Ok(Opened::Complete { length }),
            Verdict::Changed => Ok(Opened::Changed),
            Verdict::Restart(reason) => Ok(Opened::Restart(reason)),
            Verdict::Invalid(detail) => Err(Error::BadRange {
                url: resp.url().clone(),
                detail,
            }),
            Verdict::Failed => Err(super::status_error(&resp)),
        }
    }

    /// `Range: bytes=LEN-` with `If-Range` is answered 416 `bytes */LEN` exactly when the
    /// validator matches and the length is unchanged (RFC 9110 §13.1.5, §15.5.17).
    async fn unchanged(&self, url: &Url, state: &State, length: u64) -> bool {
        let ask = Ask {
            start: length,
            end: None,
            version: Some(state),
        };
        matches!(
            self.open(url, ask).await,
            Ok(Opened::Complete { length: l }) if l == length
        )
    }

    /// A strong validator that `If-Range` can carry (RFC 9110 §13.1.5).
    fn proves(&self, state: &State) -> bool {
        Validators::from_version(&state.version).if_range.is_some()
    }
}

/// RFC 9110 §14.3: `Accept-Ranges: bytes` says the server takes byte ranges.
fn accepts_ranges(resp: &Response) -> bool {
    resp.headers()
        .get_all(reqwest::header::ACCEPT_RANGES)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|unit| unit.trim().eq_ignore_ascii_case("bytes"))
}

//! HTTP(S) as a [`Transport`]: a GET (ranged, with `If-Range` when a version is held) for the
//! bytes asked, its answer read by [`super::classify`].

use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Client, Response};
use url::{Origin, Url};

use super::validator::Validators;
use super::{Asked, Held, RangeAsk, Verdict};
use crate::download::transport::{Ask, Body, Learnt, Opened, Remote, Transport};
use crate::store::journal::State;
use crate::store::verify::Checksum;
use crate::version::Version;
use crate::{Error, GetRequest};

/// Opens bodies with one client.
pub(crate) struct HttpTransport<'a> {
    client: &'a Client,
    req: &'a GetRequest,
    /// Origins that answered a ranged request with `If-Range` by a 200 of the version held
    /// (CDNs that honour only dates there): later requests to them, the segments of a split
    /// download included, send `Range` alone and check the validators of every 206.
    ignore_if_range: Mutex<Vec<Origin>>,
}

/// One request's answer, read.
struct Answer {
    resp: Response,
    seen: Validators,
    verdict: Verdict,
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
        if if_range.is_some() && self.ignores_if_range(url) {
            let answer = self.ask(url, ask, held.as_ref(), None).await?;
            return self.opened(answer);
        }
        let answer = self.ask(url, ask, held.as_ref(), if_range).await?;
        // RFC 9110 §13.1.5 says a 200 to `Range` + `If-Range` means another version, but some
        // CDNs answer so whenever `If-Range` holds an entity tag. When the 200 carries exactly
        // the validator held, the same range is asked again once without `If-Range`, and its
        // 206 is used only if it carries that validator too.
        let cdn = matches!(
            answer.verdict,
            Verdict::Whole {
                held: Held::SameVersion,
                ..
            }
        ) && held.as_ref().is_some_and(|h| h.proves_same(&answer.seen));
        if !cdn {
            return self.opened(answer);
        }
        drop(answer);
        self.remember_ignores_if_range(url);
        let answer = self.ask(url, ask, held.as_ref(), None).await?;
        self.opened(answer)
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

    /// The `Repr-Digest` recorded with the version (RFC 9530 §3), sha-256 preferred.
    fn digest(&self, state: &State) -> Option<Checksum> {
        Validators::from_version(&state.version).digests.checksum()
    }

    /// A `Repr-Digest` first seen on a later answer of the version held (a server that
    /// computes digests in the background, as `durl serve` does for large files) is kept; one
    /// that disagrees with the digest held is another version (RFC 9530 §2: one
    /// representation, one digest per algorithm). Whatever request asked for the answer: a
    /// segment's 206 sent before another segment taught the digest is checked here too.
    fn learn(&self, held: &Version, seen: &Version) -> Learnt {
        let before = Validators::from_version(held);
        let later = Validators::from_version(seen);
        if !before.digests.agree(&later.digests) {
            return Learnt::Conflict;
        }
        if !before.digests.is_empty() || later.digests.is_empty() {
            return Learnt::Nothing;
        }
        let mut version = held.clone();
        for (name, value) in later.to_version().iter() {
            if name.starts_with(super::validator::DIGEST_PREFIX) {
                version.set(name, value.to_owned());
            }
        }
        Learnt::More(version)
    }
}

impl<'a> HttpTransport<'a> {
    pub(crate) fn new(client: &'a Client, req: &'a GetRequest) -> HttpTransport<'a> {
        HttpTransport {
            client,
            req,
            ignore_if_range: Mutex::new(Vec::new()),
        }
    }

    fn ignores_if_range(&self, url: &Url) -> bool {
        let known = self
            .ignore_if_range
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        known.contains(&url.origin())
    }

    fn remember_ignores_if_range(&self, url: &Url) {
        let mut known = self
            .ignore_if_range
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !known.contains(&url.origin()) {
            known.push(url.origin());
        }
    }

    /// Sends one GET for what `ask` describes, with `if_range` (when the version `held` has
    /// one to send), and reads its answer. Without `If-Range` nothing but the answer's own
    /// validators proves its version: they must be those held, exactly.
    async fn ask(
        &self,
        url: &Url,
        ask: Ask<'_>,
        held: Option<&Validators>,
        if_range: Option<&str>,
    ) -> Result<Answer, Error> {
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
        let seen = Validators::from_answer(resp.status(), resp.headers());
        let asked = Asked {
            start: ask.start,
            ranged,
            length: ask.version.and_then(|v| v.length),
        };
        let same = match held {
            None => true,
            Some(held) if held.if_range.is_some() && if_range.is_none() => held.proves_same(&seen),
            Some(held) => held.same_version_as(&seen),
        };
        let verdict = super::classify(&resp, asked, same);
        Ok(Answer {
            resp,
            seen,
            verdict,
        })
    }

    /// What an answer means for the engine.
    fn opened(&self, answer: Answer) -> Result<Opened<HttpBody>, Error> {
        let Answer {
            resp,
            seen,
            verdict,
        } = answer;
        let remote = |length: Option<u64>| Remote {
            url: resp.url().clone(),
            length,
            splittable: seen.if_range.is_some() && accepts_ranges(&resp),
            name: super::content_disposition(&resp),
            version: seen.to_version(),
        };
        let stall = self.req.network.stall_timeout;
        match verdict {
            Verdict::Partial { range, length } => Ok(Opened::Body {
                remote: remote(length),
                from: range.start,
                end: Some(range.end),
                body: HttpBody::new(resp, stall),
            }),
            // RFC 9110 §15.3.1: a 200 carries the whole representation, from byte 0; §13.1.5:
            // to a request with If-Range it means the file changed, or the range was ignored.
            Verdict::Whole { length, held } => Ok(Opened::Whole {
                remote: remote(length),
                same_version: held != Held::OtherVersion,
                body: HttpBody::new(resp, stall),
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

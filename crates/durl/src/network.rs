//! The options `durl get` and `durl put` share ([`NetworkArgs`]), validated once per run and
//! applied to every request with [`apply!`].

use std::path::PathBuf;
use std::time::Duration;

use durl_fetch::header::{HeaderMap, HeaderName, HeaderValue, IF_RANGE, RANGE};

use crate::args::NetworkArgs;
use crate::exit::UsageError;

/// [`NetworkArgs`], validated.
#[derive(Debug)]
pub struct Network {
    pub retries: u32,
    pub retry_delay: Duration,
    pub stall_timeout: Duration,
    pub connect_timeout: Duration,
    pub headers: HeaderMap,
    pub cacert: Option<PathBuf>,
    pub insecure: bool,
    pub ftp_tls: bool,
}

impl Network {
    /// Checks the durations and parses the headers.
    pub fn new(args: &NetworkArgs) -> Result<Network, UsageError> {
        Ok(Network {
            retries: args.retries,
            retry_delay: secs("--retry-delay", args.retry_delay)?,
            stall_timeout: secs("--stall-timeout", args.stall_timeout)?,
            connect_timeout: secs("--connect-timeout", args.connect_timeout)?,
            headers: headers(&args.headers)?,
            cacert: args.cacert.clone(),
            insecure: args.insecure,
            ftp_tls: args.ftp_ssl,
        })
    }
}

/// Sets [`Network`]'s options on a `durl_fetch::GetRequest` or `PutRequest` (both have these
/// setters, from the library's shared settings): `apply!(request, &network)`.
macro_rules! apply {
    ($req:expr, $net:expr) => {{
        let net: &$crate::network::Network = $net;
        let req = $req
            .retries(net.retries)
            .retry_delay(net.retry_delay, std::time::Duration::from_secs(60))
            .stall_timeout(net.stall_timeout)
            .connect_timeout(net.connect_timeout)
            .headers(net.headers.clone())
            .insecure(net.insecure)
            .ftp_tls(net.ftp_tls);
        match &net.cacert {
            Some(ca) => req.root_certificate(ca),
            None => req,
        }
    }};
}
pub(crate) use apply;

/// `--max-time`, checked.
pub fn max_time(args: &NetworkArgs) -> Result<Option<Duration>, UsageError> {
    args.max_time.map(|v| secs("--max-time", v)).transpose()
}

/// A positive number of seconds from option `name`.
pub(crate) fn secs(name: &str, v: f64) -> Result<Duration, UsageError> {
    if v.is_finite() && v > 0.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(UsageError(format!(
            "{name} must be a positive number of seconds, not {v}"
        )))
    }
}

/// Parses `-H "Name: value"` arguments; a name given twice is sent twice. `Range` and
/// `If-Range` are refused: durl asks for ranges itself (to resume and to split).
fn headers(raw: &[String]) -> Result<HeaderMap, UsageError> {
    let mut map = HeaderMap::new();
    for h in raw {
        let bad = || UsageError(format!("invalid header {h:?}: expected \"Name: value\""));
        let (name, value) = h.split_once(':').ok_or_else(bad)?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
        if name == RANGE || name == IF_RANGE {
            return Err(UsageError(format!(
                "-H {h:?}: durl sets {name} itself (it resumes and splits downloads by range); \
                 remove this header"
            )));
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    #[test]
    fn headers_repeat_and_range_is_refused() {
        let raw = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let map = super::headers(&raw(&["X-A: 1", "x-a: 2", "Y: 3"])).unwrap();
        let values: Vec<_> = map
            .get_all("x-a")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(values, ["1", "2"]);
        for bad in [
            "Range: bytes=0-10",
            "if-range: \"x\"",
            "no colon",
            "Bad Name: x",
        ] {
            assert!(super::headers(&raw(&[bad])).is_err(), "{bad}");
        }
        let e = super::headers(&raw(&["Range: bytes=0-10"])).unwrap_err();
        assert!(e.0.contains("durl sets range itself"), "{}", e.0);
    }
}

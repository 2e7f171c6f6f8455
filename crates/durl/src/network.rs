//! The options `durl get` and `durl put` share ([`NetworkArgs`], from the command line and the
//! config file), validated once per run into one [`durl_fetch::Network`] that every request of
//! the run holds.

use std::path::PathBuf;
use std::time::Duration;

use durl_fetch::header::{HeaderMap, HeaderName, HeaderValue, IF_RANGE, RANGE};

use crate::args::NetworkArgs;
use crate::exit::UsageError;

/// The largest back-off delay, which also caps a server's `Retry-After`.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// [`NetworkArgs`], validated: durations checked, headers parsed, the password read from
/// standard input for `--password-stdin` (once, before anything else reads it; `stdin_list`
/// says that a `-i -` list needs stdin too, which is refused).
pub fn network(args: &NetworkArgs, stdin_list: bool) -> Result<durl_fetch::Network, UsageError> {
    let (user, password) = login(args, stdin_list)?;
    let mut net = durl_fetch::Network::default()
        .retries(args.retries)
        .retry_delay(secs("--retry-delay", args.retry_delay)?, MAX_RETRY_DELAY)
        .stall_timeout(secs("--stall-timeout", args.stall_timeout)?)
        .connect_timeout(secs("--connect-timeout", args.connect_timeout)?)
        .headers(headers(&args.headers)?)
        .insecure(args.insecure)
        .ftp_tls(args.ftp_ssl)
        .login(user, password)
        .netrc(netrc_path(args));
    if let Some(ca) = &args.cacert {
        net = net.root_certificate(ca);
    }
    if args.verbose {
        net = net.observe_wire(std::sync::Arc::new(crate::verbose::Verbose));
    }
    Ok(net)
}

/// The user and password of `--user` and `--password-stdin`.
fn login(
    args: &NetworkArgs,
    stdin_list: bool,
) -> Result<(Option<String>, Option<String>), UsageError> {
    let (user, mut password) = match args.user.as_deref() {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((user, password)) => (Some(user.to_owned()), Some(password.to_owned())),
            None => (Some(u.to_owned()), None),
        },
    };
    if user.as_deref() == Some("") {
        return Err(UsageError("--user needs a user name".into()));
    }
    if args.password_stdin {
        if stdin_list {
            return Err(UsageError(
                "--password-stdin and -i - cannot both read standard input".into(),
            ));
        }
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| UsageError(format!("cannot read the password from stdin: {e}")))?;
        password = Some(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    Ok((user, password))
}

/// The `.netrc` to consult: `--netrc-file`, else `$NETRC`, else `~/.netrc`.
fn netrc_path(args: &NetworkArgs) -> Option<PathBuf> {
    if let Some(path) = &args.netrc_file {
        return Some(path.clone());
    }
    if let Some(path) = std::env::var_os("NETRC").filter(|v| !v.is_empty()) {
        return Some(path.into());
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|home| std::path::Path::new(&home).join(".netrc"))
}

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

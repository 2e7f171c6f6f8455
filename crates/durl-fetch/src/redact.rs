//! The one rule for showing a URL: without its password ([`Redacted`]). Errors, hints,
//! `--json`, verbose output and the state files all write URLs through it, so a password given
//! in `scheme://user:password@host/` is never printed or stored (the user name stays: it says
//! which login was used). The idea of uv's `DisplaySafeUrl`.

use std::fmt;

use url::Url;

/// Displays a URL without its password.
///
/// ```
/// let url = url::Url::parse("ftp://bob:s3cret@host/f").unwrap();
/// assert_eq!(durl_fetch::Redacted(&url).to_string(), "ftp://bob@host/f");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Redacted<'a>(pub &'a Url);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.password().is_none() {
            return f.write_str(self.0.as_str());
        }
        f.write_str(redacted(self.0).as_str())
    }
}

/// `url` without its password.
pub fn redacted(url: &Url) -> Url {
    let mut url = url.clone();
    // Fails only for URLs that cannot have a login (no host), which then have no password.
    let _ = url.set_password(None);
    url
}

/// `text`, a URL that may not parse, with the password of its `scheme://user:password@`
/// removed (the user stays), as [`Redacted`] shows a parsed one (RFC 3986 §3.2.1: the
/// userinfo ends at the authority's last `@`; the authority ends at `/`, `?` or `#`).
pub(crate) fn redact_text(text: &str) -> String {
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else {
        return text.to_owned();
    };
    let rest = &text[scheme_end..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let Some(at) = authority.rfind('@') else {
        return text.to_owned();
    };
    match authority[..at].find(':') {
        Some(colon) => format!(
            "{}{}",
            &text[..scheme_end + colon],
            &text[scheme_end + at..]
        ),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_goes_and_everything_else_stays() {
        let table = [
            ("ftp://bob:s3cret@host/f", "ftp://bob@host/f"),
            ("https://a:b@h:8443/p?q=1#x", "https://a@h:8443/p?q=1#x"),
            ("https://:only@h/", "https://h/"),
            ("http://user@h/", "http://user@h/"),
            ("http://h/a%20b", "http://h/a%20b"),
            ("https://u:p%40ss@[::1]:9/", "https://u@[::1]:9/"),
        ];
        for (given, shown) in table {
            let url = Url::parse(given).unwrap();
            assert_eq!(Redacted(&url).to_string(), shown, "{given}");
            assert_eq!(redacted(&url).as_str(), shown, "{given}");
        }
    }

    #[test]
    fn text_that_does_not_parse_loses_its_password_too() {
        let table = [
            ("http://u:s3cret@host:badport/x", "http://u@host:badport/x"),
            ("ftp://u:p:q@h@x/f", "ftp://u@x/f"),
            ("http://:pw@h", "http://@h"),
            ("http://h/a:b@c", "http://h/a:b@c"),
            ("http://u@h/", "http://u@h/"),
            ("not a url", "not a url"),
            ("x://a:b@", "x://a@"),
        ];
        for (given, shown) in table {
            assert_eq!(redact_text(given), shown, "{given}");
        }
    }
}

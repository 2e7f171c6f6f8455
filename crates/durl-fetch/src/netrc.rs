//! `.netrc` files (pure): the login and password to use for a host.
//!
//! The format of ftp(1) and curl: whitespace-separated tokens; `machine NAME` starts an entry
//! and `default` the entry for every other host; `login`, `password` and `account` take one
//! value each; `macdef NAME` defines a macro that runs to the next empty line (skipped). A
//! value may be double-quoted, with `\"` and `\\` escapes, to hold spaces. The first entry
//! for a host wins, and `default` is only used when no `machine` entry matches.

/// One `machine` (or `default`) entry.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The host, or `None` for `default`.
    pub machine: Option<String>,
    /// The `login`, if given.
    pub login: Option<String>,
    /// The `password`, if given.
    pub password: Option<String>,
}

impl std::fmt::Debug for Entry {
    // The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("machine", &self.machine)
            .field("login", &self.login)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The entries of a `.netrc` text, in order. Unknown tokens are skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    let mut tokens = Tokens { rest: text };
    while let Some(token) = tokens.next_token() {
        match token.as_str() {
            "machine" => entries.push(Entry {
                machine: Some(tokens.next_token().unwrap_or_default()),
                login: None,
                password: None,
            }),
            "default" => entries.push(Entry {
                machine: None,
                login: None,
                password: None,
            }),
            "login" | "password" | "account" => {
                let value = tokens.next_token();
                let Some(entry) = entries.last_mut() else {
                    continue; // before any machine: ignored, as ftp(1) does
                };
                match token.as_str() {
                    "login" => entry.login = value,
                    "password" => entry.password = value,
                    _ => {}
                }
            }
            "macdef" => tokens.skip_macro(),
            _ => {}
        }
    }
    entries
}

/// The entry for `host` (case-insensitive), else the `default` entry. With `login`, only an
/// entry for that login (or without a login) matches.
pub fn lookup<'a>(entries: &'a [Entry], host: &str, login: Option<&str>) -> Option<&'a Entry> {
    let login_fits = |e: &&Entry| match (login, &e.login) {
        (Some(want), Some(have)) => want == have,
        _ => true,
    };
    entries
        .iter()
        .filter(|e| {
            e.machine
                .as_deref()
                .is_some_and(|m| m.eq_ignore_ascii_case(host))
        })
        .find(login_fits)
        .or_else(|| {
            entries
                .iter()
                .filter(|e| e.machine.is_none())
                .find(login_fits)
        })
}

/// A user and a password, each maybe missing.
pub(crate) type Pair = (Option<String>, Option<String>);

/// The login for `host`, in this order: the URL's user and password, then the ones given
/// (`--user`, `--password-stdin`), then the `.netrc` entry for the host (for a known user,
/// only its password). `None` means anonymous. A password without any user is ignored.
pub(crate) fn choose(
    url: Pair,
    given: Pair,
    entries: &[Entry],
    host: &str,
) -> Option<(String, String)> {
    let user = url.0.or(given.0);
    let password = url.1.or(given.1);
    let entry = lookup(entries, host, user.as_deref());
    let user = user.or_else(|| entry?.login.clone())?;
    let password = password.or_else(|| entry?.password.clone());
    Some((user, password.unwrap_or_default()))
}

struct Tokens<'a> {
    rest: &'a str,
}

impl Tokens<'_> {
    fn next_token(&mut self) -> Option<String> {
        self.rest = self.rest.trim_start();
        let mut chars = self.rest.char_indices();
        let (_, first) = chars.next()?;
        if first == '"' {
            let mut value = String::new();
            let mut escaped = false;
            for (i, c) in chars {
                match c {
                    _ if escaped => {
                        value.push(c);
                        escaped = false;
                    }
                    '\\' => escaped = true,
                    '"' => {
                        self.rest = &self.rest[i + 1..];
                        return Some(value);
                    }
                    _ => value.push(c),
                }
            }
            self.rest = "";
            return Some(value);
        }
        let end = self
            .rest
            .find(char::is_whitespace)
            .unwrap_or(self.rest.len());
        let token = self.rest[..end].to_owned();
        self.rest = &self.rest[end..];
        Some(token)
    }

    /// Skips a macro definition: its name, then every line up to an empty one.
    fn skip_macro(&mut self) {
        match self.rest.find("\n\n") {
            Some(i) => self.rest = &self.rest[i + 2..],
            None => self.rest = "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(machine: Option<&str>, login: Option<&str>, password: Option<&str>) -> Entry {
        Entry {
            machine: machine.map(str::to_owned),
            login: login.map(str::to_owned),
            password: password.map(str::to_owned),
        }
    }

    #[test]
    fn parses_machines_default_quotes_and_macros() {
        let table: &[(&str, Vec<Entry>)] = &[
            (
                "machine a.example login bob password s3cret\n",
                vec![e(Some("a.example"), Some("bob"), Some("s3cret"))],
            ),
            // one token per line, other orders, account ignored
            (
                "machine\nb\npassword\npw\naccount x\nlogin\nann\n",
                vec![e(Some("b"), Some("ann"), Some("pw"))],
            ),
            (
                "machine h login u password \"two words \\\"q\\\" \\\\\"\ndefault login anonymous password me@\n",
                vec![
                    e(Some("h"), Some("u"), Some("two words \"q\" \\")),
                    e(None, Some("anonymous"), Some("me@")),
                ],
            ),
            // a macro's body is not read as tokens
            (
                "macdef init\ncd /pub\nmachine evil login x\n\nmachine h login u\n",
                vec![e(Some("h"), Some("u"), None)],
            ),
            // tokens before any machine are ignored; unknown tokens skipped
            (
                "login x password y\nmachine h port 21\n",
                vec![e(Some("h"), None, None)],
            ),
            ("", vec![]),
            ("machine", vec![e(Some(""), None, None)]),
        ];
        for (text, want) in table {
            assert_eq!(parse(text), *want, "{text:?}");
        }
    }

    #[test]
    fn lookup_prefers_the_host_then_default_and_respects_the_login() {
        let entries = parse(
            "machine h login ann password a\nmachine H login bob password b\n\
             default login anonymous password me@\n",
        );
        let found = |host, login| lookup(&entries, host, login).map(|e| e.password.clone());
        assert_eq!(found("h", None), Some(Some("a".into())));
        assert_eq!(found("h", Some("bob")), Some(Some("b".into())));
        assert_eq!(found("other", None), Some(Some("me@".into())));
        assert_eq!(found("other", Some("carl")), None);
        assert_eq!(lookup(&parse("machine h login u\n"), "x", None), None);
    }

    #[test]
    fn the_url_comes_first_then_the_given_login_then_netrc_then_anonymous() {
        let entries = parse("machine h login nu password np\nmachine k login ku\n");
        let s = |v: &str| Some(v.to_owned());
        // (URL's, given, host) -> the login chosen
        type Row = (
            Pair,
            Pair,
            &'static str,
            Option<(&'static str, &'static str)>,
        );
        let table: &[Row] = &[
            (
                (s("uu"), s("up")),
                (s("gu"), s("gp")),
                "h",
                Some(("uu", "up")),
            ),
            // a URL user without a password takes the given password
            ((s("uu"), None), (s("gu"), s("gp")), "h", Some(("uu", "gp"))),
            ((None, None), (s("gu"), s("gp")), "h", Some(("gu", "gp"))),
            // a known user takes netrc's password only from its own entry
            ((None, None), (s("nu"), None), "h", Some(("nu", "np"))),
            ((None, None), (s("gu"), None), "h", Some(("gu", ""))),
            ((s("uu"), None), (None, None), "h", Some(("uu", ""))),
            // no user anywhere: netrc's login and password
            ((None, None), (None, None), "h", Some(("nu", "np"))),
            ((None, None), (None, s("gp")), "h", Some(("nu", "gp"))),
            ((None, None), (None, None), "k", Some(("ku", ""))),
            ((None, None), (None, None), "other", None),
            ((None, None), (None, s("gp")), "other", None),
        ];
        for (url, given, host, want) in table {
            let got = choose(url.clone(), given.clone(), &entries, host);
            let want = want.map(|(u, p)| (u.to_owned(), p.to_owned()));
            assert_eq!(got, want, "{url:?} {given:?} {host}");
        }
    }

    #[test]
    fn debug_never_shows_the_password() {
        let text = format!("{:?}", parse("machine h login u password hunter2"));
        assert!(
            !text.contains("hunter2") && text.contains("redacted"),
            "{text}"
        );
    }
}

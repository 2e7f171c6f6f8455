//! Rights per user and path: `USER:RIGHTS:PATH` rules (`alice:rw:/`, `bob:r:/public`,
//! `*:r:/public` for anonymous and every user). Read lets a user GET, HEAD and list;
//! write lets them upload. A rule covers its path and everything below it; a user's
//! rights are the union of the rules naming them and the `*` rules.

use crate::error::ServeError;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// GET, HEAD, listings.
    Read,
    /// Uploads.
    Write,
}

/// One `--allow` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    /// The user, or `None` for `*` (everyone, anonymous included).
    user: Option<String>,
    read: bool,
    write: bool,
    /// The path's segments below the root.
    path: Vec<Vec<u8>>,
}

impl AccessRule {
    /// Parses `USER:RIGHTS:PATH`: USER a name or `*`, RIGHTS `r`, `w` or `rw`, PATH absolute.
    ///
    /// # Errors
    ///
    /// [`ServeError::AccessRule`] naming the rule and what is wrong with it.
    pub fn parse(rule: &str) -> Result<Self, ServeError> {
        let bad = |reason: &str| ServeError::AccessRule {
            rule: rule.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = rule.splitn(3, ':');
        let (Some(user), Some(rights), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected USER:RIGHTS:PATH"));
        };
        if user.is_empty() {
            return Err(bad("empty user (use * for everyone)"));
        }
        let (read, write) = match rights {
            "r" => (true, false),
            "w" => (false, true),
            "rw" | "wr" => (true, true),
            _ => return Err(bad("RIGHTS must be r, w or rw")),
        };
        if !path.starts_with('/') {
            return Err(bad("PATH must start with /"));
        }
        let mut segments = Vec::new();
        for segment in path.split('/') {
            match segment {
                "" | "." => {}
                ".." => return Err(bad("PATH must not contain ..")),
                s => segments.push(s.as_bytes().to_vec()),
            }
        }
        Ok(Self {
            user: (user != "*").then(|| user.to_owned()),
            read,
            write,
            path: segments,
        })
    }

    /// Whether this rule gives `user` (`None`: anonymous) `right` on `segments`.
    pub(crate) fn grants(&self, user: Option<&str>, segments: &[Vec<u8>], right: Right) -> bool {
        let who = match &self.user {
            None => true,
            Some(u) => user == Some(u.as_str()),
        };
        let what = match right {
            Right::Read => self.read,
            Right::Write => self.write,
        };
        who && what && segments.starts_with(&self.path)
    }

    /// Whether this rule lets `user` read something strictly below `segments` (so the
    /// directory at `segments` may be listed, showing the way there).
    pub(crate) fn leads_below(&self, user: Option<&str>, segments: &[Vec<u8>]) -> bool {
        self.read
            && self.names(user)
            && self.path.len() > segments.len()
            && self.path.starts_with(segments)
    }

    /// Whether this rule lets `user` write somewhere.
    pub(crate) fn writes(&self, user: Option<&str>) -> bool {
        self.write && self.names(user)
    }

    /// Whether this rule names `user` or everyone, for any path.
    pub(crate) fn names(&self, user: Option<&str>) -> bool {
        self.user.is_none() || self.user.as_deref() == user
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<Vec<u8>> {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect()
    }

    #[test]
    fn parse_table() {
        for bad in [
            "alice",
            "alice:r",
            ":r:/",
            "alice:x:/",
            "alice:r:rel",
            "alice:r:/a/../b",
        ] {
            let e = AccessRule::parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        let r = AccessRule::parse("bob:r:/public//docs/").unwrap();
        assert_eq!(r.path, segs("/public/docs"));
        assert!(AccessRule::parse("*:rw:/").unwrap().user.is_none());
    }

    #[test]
    fn grants_by_user_right_and_subtree() {
        let alice = AccessRule::parse("alice:rw:/").unwrap();
        let bob = AccessRule::parse("bob:r:/public").unwrap();
        let anyone = AccessRule::parse("*:r:/public/open").unwrap();
        #[rustfmt::skip]
        let cases: &[(&AccessRule, Option<&str>, &str, Right, bool)] = &[
            (&alice, Some("alice"), "/", Right::Write, true),
            (&alice, Some("alice"), "/x/y", Right::Read, true),
            (&alice, Some("bob"), "/x", Right::Read, false),
            (&alice, None, "/", Right::Read, false),
            (&bob, Some("bob"), "/public", Right::Read, true),
            (&bob, Some("bob"), "/public/a/b", Right::Read, true),
            (&bob, Some("bob"), "/publicity", Right::Read, false),   // whole segments only
            (&bob, Some("bob"), "/", Right::Read, false),
            (&bob, Some("bob"), "/public", Right::Write, false),
            (&anyone, None, "/public/open/f", Right::Read, true),
            (&anyone, Some("carol"), "/public/open", Right::Read, true),
            (&anyone, None, "/public", Right::Read, false),
        ];
        for (rule, user, path, right, want) in cases {
            assert_eq!(
                rule.grants(*user, &segs(path), *right),
                *want,
                "{rule:?} {user:?} {path} {right:?}"
            );
        }
        assert!(bob.leads_below(Some("bob"), &segs("/")));
        assert!(
            !bob.leads_below(Some("bob"), &segs("/public")),
            "granted there, not below"
        );
        assert!(!bob.leads_below(Some("bob"), &segs("/other")));
        assert!(!bob.leads_below(Some("carol"), &segs("/")));
        assert!(anyone.leads_below(None, &segs("/public")));
    }
}

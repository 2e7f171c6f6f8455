//! Who is asking, and what they may do.
//!
//! Accounts come from `--auth USER:PASS` ([`BasicAuth`], compared in constant time) and an
//! htpasswd-syntax file ([`Accounts`], slow salted hashes: `htpasswd.rs`); rights from
//! `--allow USER:RIGHTS:PATH` rules (`rights.rs`). Without rules, every account may read
//! and write everything and anonymous requests nothing (401), as with `--auth` alone. With
//! rules, a request needs a rule granting its user (or `*`) the right on its path; refused,
//! an anonymous request gets 401 (a login may help) and a logged-in one 403. A directory
//! above a readable path may be listed, showing only the entries that lead there.
//!
//! A hash is checked on the blocking pool, once: a successful `user:password` is remembered
//! (as a keyed SHA-256, never in clear), since browsers send it with every request. Failed
//! logins are logged (target `durl_serve::auth`) and rate-limited per client address
//! (`limiter.rs`: 429 with `Retry-After`).

mod basic;
mod htpasswd;
mod limiter;
mod rights;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::HeaderMap;
use sha2::{Digest as _, Sha256};

pub use basic::BasicAuth;
pub(crate) use htpasswd::Hash;
pub use rights::{AccessRule, Right};

use crate::error::ServeError;
use limiter::Limiter;

/// Accounts loaded from an htpasswd-syntax file.
#[derive(Debug, Clone, Default)]
pub struct Accounts {
    users: HashMap<String, Hash>,
}

impl Accounts {
    /// Reads `path`: one `user:hash` per line (argon2id, bcrypt or SHA-512-crypt).
    ///
    /// # Errors
    ///
    /// [`ServeError::AuthFileRead`] if it cannot be read, [`ServeError::AuthFile`] naming the
    /// first bad line (plaintext, MD5 and SHA-1 hashes are refused).
    pub fn from_htpasswd(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServeError::AuthFileRead {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            users: htpasswd::parse(path, &text)?,
        })
    }

    /// How many accounts.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Who a request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// No credentials.
    Anonymous,
    /// A checked account.
    User(String),
}

impl Identity {
    /// The user name, if any.
    pub(crate) fn user(&self) -> Option<&str> {
        match self {
            Self::Anonymous => None,
            Self::User(u) => Some(u),
        }
    }
}

/// Why credentials were not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Wrong or unknown: 401.
    Unauthorized,
    /// Too many failures from this address: 429 for this long.
    TooMany(Duration),
}

/// The server's accounts, rules and login state.
#[derive(Debug)]
pub(crate) struct Gate {
    shortcut: Option<BasicAuth>,
    accounts: Arc<HashMap<String, Hash>>,
    rules: Vec<AccessRule>,
    /// Keyed SHA-256 of `user:password` pairs that verified.
    verified: Mutex<HashSet<[u8; 32]>>,
    key: [u8; 32],
    limiter: Limiter,
}

/// Most remembered logins (the set is emptied when full).
const REMEMBERED: usize = 4096;

impl Gate {
    /// The gate for this configuration; `None` when nothing is restricted.
    pub(crate) fn new(
        shortcut: Option<BasicAuth>,
        accounts: Option<Accounts>,
        rules: Vec<AccessRule>,
    ) -> Option<Self> {
        let accounts = accounts.map(|a| a.users).unwrap_or_default();
        if shortcut.is_none() && accounts.is_empty() && rules.is_empty() {
            return None;
        }
        Some(Self {
            shortcut,
            accounts: Arc::new(accounts),
            rules,
            verified: Mutex::default(),
            key: rand::random(),
            limiter: Limiter::default(),
        })
    }

    /// Whether there are accounts at all (else a refusal is a 403, logging in cannot help).
    pub(crate) fn has_accounts(&self) -> bool {
        self.shortcut.is_some() || !self.accounts.is_empty()
    }

    /// Checks the request's credentials, if it has any.
    pub(crate) async fn identify(
        &self,
        headers: &HeaderMap,
        ip: IpAddr,
    ) -> Result<Identity, Refusal> {
        let Some(presented) = basic::presented(headers) else {
            return Ok(Identity::Anonymous);
        };
        if let Some(wait) = self.limiter.waiting(ip, Instant::now()) {
            return Err(Refusal::TooMany(wait));
        }
        let user = presented
            .iter()
            .position(|&b| b == b':')
            .map(|i| String::from_utf8_lossy(&presented[..i]).into_owned());
        let ok = match &user {
            None => false,
            Some(user) => self.check(user, &presented).await,
        };
        if ok {
            self.limiter.succeed(ip);
            return Ok(Identity::User(user.unwrap_or_default()));
        }
        let failures = self.limiter.fail(ip, Instant::now());
        tracing::warn!(
            target: "durl_serve::auth",
            "failed login from {ip} as {:?} ({failures} in a row)",
            user.as_deref().unwrap_or("")
        );
        Err(Refusal::Unauthorized)
    }

    /// Whether `presented` (`user:password`) is a valid login of `user`.
    async fn check(&self, user: &str, presented: &[u8]) -> bool {
        if let Some(shortcut) = &self.shortcut
            && shortcut.matches(presented)
        {
            return true;
        }
        let Some(hash) = self.accounts.get(user).cloned() else {
            return false;
        };
        let mut keyed = Sha256::new();
        keyed.update(self.key);
        keyed.update(presented);
        let fingerprint: [u8; 32] = keyed.finalize().into();
        if self.lock().contains(&fingerprint) {
            return true;
        }
        let password = presented[user.len() + 1..].to_vec();
        let ok = tokio::task::spawn_blocking(move || hash.verify(&password))
            .await
            .unwrap_or(false);
        if ok {
            let mut verified = self.lock();
            if verified.len() >= REMEMBERED {
                verified.clear();
            }
            verified.insert(fingerprint);
        }
        ok
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `who` has `right` on `segments`.
    pub(crate) fn may(&self, who: &Identity, segments: &[Vec<u8>], right: Right) -> bool {
        if self.rules.is_empty() {
            return who.user().is_some();
        }
        self.rules
            .iter()
            .any(|r| r.grants(who.user(), segments, right))
    }

    /// Whether `who` may list the directory at `segments`: they may read it, or something
    /// below it (then the listing shows only the way there).
    pub(crate) fn may_list(&self, who: &Identity, segments: &[Vec<u8>]) -> bool {
        self.may(who, segments, Right::Read)
            || self
                .rules
                .iter()
                .any(|r| r.leads_below(who.user(), segments))
    }

    /// Whether `who` may upload into some directory.
    pub(crate) fn may_write_somewhere(&self, who: &Identity) -> bool {
        if self.rules.is_empty() {
            return who.user().is_some();
        }
        self.rules.iter().any(|r| r.writes(who.user()))
    }

    /// Whether `who` has any right anywhere (the page's script, style and icon).
    pub(crate) fn may_anything(&self, who: &Identity) -> bool {
        if self.rules.is_empty() {
            return who.user().is_some();
        }
        self.rules.iter().any(|r| r.names(who.user()))
    }
}

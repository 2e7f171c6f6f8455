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
use std::sync::atomic::{AtomicU64, Ordering};
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
    /// Verified in place of an unknown user's hash (one of the accounts' own, so of the same
    /// kind and cost), so that an unknown user costs the same time as a wrong password and
    /// answers do not tell which user names exist.
    dummy: Option<Hash>,
    /// Hash verifications run, for tests (timing-free proof that both cases cost one).
    verifications: AtomicU64,
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
        let dummy = accounts
            .iter()
            .min_by(|a, b| a.0.cmp(b.0))
            .map(|(_, hash)| hash.clone());
        Some(Self {
            shortcut,
            dummy,
            verifications: AtomicU64::new(0),
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
            // An unknown user: the same work as a wrong password (one verification, never
            // successful), so that the answer's timing does not tell the user is unknown.
            if let Some(dummy) = self.dummy.clone() {
                let password = presented[user.len() + 1..].to_vec();
                self.verifications.fetch_add(1, Ordering::Relaxed);
                let _ = tokio::task::spawn_blocking(move || dummy.verify(&password)).await;
            }
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
        self.verifications.fetch_add(1, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl passwd -6 -salt alicesalt alice-pw` and the same for bob.
    const USERS: &str = "\
alice:$6$alicesalt$HFdxLk8wA2OrrIRe2fi88/dNWjVgW3Rgo//Lrtub09NaZ00EjCmK5ofIco9Wv57xiylXKDqqLmvAlfRMjg85W/
bob:$6$bobsalt$rt.1WAPDQAm9w/bMx2NAc4Xf.JZ4.BiqVAcw2L1UeNjI8OkCzNXRPzkbFYvaOOnzK6liKZXUOSixQpLTF1l3K/
";

    fn basic(login: &str) -> HeaderMap {
        use base64::Engine as _;
        let mut headers = HeaderMap::new();
        let value = base64::engine::general_purpose::STANDARD.encode(login);
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Basic {value}").parse().unwrap(),
        );
        headers
    }

    #[tokio::test]
    async fn an_unknown_user_costs_one_verification_like_a_wrong_password() {
        let users = htpasswd::parse(Path::new("users"), USERS).unwrap();
        let gate = Gate::new(None, Some(Accounts { users }), Vec::new()).unwrap();
        let ip = IpAddr::from([127, 0, 0, 1]);
        let count = || gate.verifications.load(Ordering::Relaxed);
        for (login, ok, verifications) in [
            ("alice:wrong", false, 1),
            ("mallory:wrong", false, 1),
            ("mallory:alice-pw", false, 1),
            ("alice:alice-pw", true, 1),
            // Remembered: no verification the second time.
            ("alice:alice-pw", true, 0),
            ("bob:bob-pw", true, 1),
        ] {
            let before = count();
            let identity = gate.identify(&basic(login), ip).await;
            assert_eq!(identity.is_ok(), ok, "{login}");
            assert_eq!(count() - before, verifications, "{login}");
        }
    }
}

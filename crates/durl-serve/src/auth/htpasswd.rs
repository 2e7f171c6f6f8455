//! Accounts from an htpasswd-syntax file: one `user:hash` per line, `#` comments and blank
//! lines skipped. Accepted hashes are the salted, slow ones — argon2id (`$argon2id$`, PHC
//! string), bcrypt (`$2a$`, `$2b$`, `$2y$`) and SHA-512-crypt (`$6$`); plaintext, unsalted
//! SHA-1 (`{SHA}`), MD5 (`$apr1$`, `$1$`) and DES crypt are refused with the line's number.

use std::collections::HashMap;
use std::path::Path;

use argon2::password_hash::PasswordVerifier as _;

use crate::error::ServeError;

/// A stored password hash of a kind we verify.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Hash {
    /// `$argon2id$…`.
    Argon2id(String),
    /// `$2a$`, `$2b$`, `$2y$`.
    Bcrypt(String),
    /// `$6$…`.
    Sha512Crypt(String),
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Argon2id(_) => "Argon2id",
            Self::Bcrypt(_) => "Bcrypt",
            Self::Sha512Crypt(_) => "Sha512Crypt",
        };
        write!(f, "{kind}(..)")
    }
}

impl Hash {
    /// Classifies a stored hash; `Err` says why it is refused.
    pub(crate) fn parse(text: &str) -> Result<Self, &'static str> {
        if text.starts_with("$argon2id$") {
            Ok(Self::Argon2id(text.to_owned()))
        } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| text.starts_with(p)) {
            Ok(Self::Bcrypt(text.to_owned()))
        } else if text.starts_with("$6$") {
            Ok(Self::Sha512Crypt(text.to_owned()))
        } else if text.starts_with("{SHA}") {
            Err("unsalted SHA-1 ({SHA}) is refused")
        } else if text.starts_with("$apr1$") || text.starts_with("$1$") {
            Err("MD5-crypt is refused")
        } else if text.starts_with("$argon2") {
            Err("only the argon2id variant of argon2 is accepted")
        } else if text.starts_with('$') {
            Err("unknown hash scheme")
        } else {
            Err("a plaintext password or DES crypt is refused")
        }
    }

    /// Whether `password` matches. Slow by design (tens of milliseconds): call it from the
    /// blocking pool.
    pub(crate) fn verify(&self, password: &[u8]) -> bool {
        match self {
            Self::Argon2id(h) => argon2::Argon2::default()
                .verify_password(password, h.as_str())
                .is_ok(),
            Self::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            Self::Sha512Crypt(h) => sha_crypt::ShaCrypt::default()
                .verify_password(password, h.as_str())
                .is_ok(),
        }
    }
}

/// Parses an htpasswd-syntax file's text. `path` names the file in errors.
pub(crate) fn parse(path: &Path, text: &str) -> Result<HashMap<String, Hash>, ServeError> {
    let mut users = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| ServeError::AuthFile {
            path: path.to_owned(),
            line: i + 1,
            reason: reason.to_owned(),
        };
        let Some((user, hash)) = line.split_once(':') else {
            return Err(bad("expected USER:HASH"));
        };
        if user.is_empty() {
            return Err(bad("empty user name"));
        }
        let hash = Hash::parse(hash).map_err(|reason| {
            bad(&format!(
                "{reason}; use argon2id, bcrypt or SHA-512-crypt (durl passwd prints one)"
            ))
        })?;
        if users.insert(user.to_owned(), hash).is_some() {
            return Err(bad(&format!("user {user:?} is listed twice")));
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `openssl passwd -6 -salt saltsalt secret`.
    const SHA512: &str = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";

    #[test]
    fn hashes_of_each_kind_verify() {
        let sha = Hash::parse(SHA512).unwrap();
        assert!(sha.verify(b"secret") && !sha.verify(b"Secret"));
        let bcrypt = Hash::parse(&bcrypt::hash("pw", 4).unwrap()).unwrap();
        assert!(matches!(bcrypt, Hash::Bcrypt(_)));
        assert!(bcrypt.verify(b"pw") && !bcrypt.verify(b"pw2"));
        use argon2::password_hash::PasswordHasher as _;
        let argon = argon2::Argon2::default()
            .hash_password(b"pw")
            .unwrap()
            .to_string();
        let argon = Hash::parse(&argon).unwrap();
        assert!(matches!(argon, Hash::Argon2id(_)));
        assert!(argon.verify(b"pw") && !argon.verify(b"px"));
        assert!(!format!("{argon:?}").contains('$'), "Debug hides the hash");
    }

    #[test]
    fn weak_or_malformed_lines_are_refused_with_their_number() {
        let path = Path::new("users");
        let ok = format!("# accounts\n\nalice:{SHA512}\n");
        assert_eq!(parse(path, &ok).unwrap().len(), 1);
        #[rustfmt::skip]
        let cases: &[(&str, &str)] = &[
            ("bob:plain", "plaintext"),
            ("bob:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "SHA-1"),
            ("bob:$apr1$abc$def", "MD5"),
            ("bob:$1$abc$def", "MD5"),
            ("bob:$argon2i$v=19$m=16,t=2,p=1$c2FsdA$aGFzaA", "argon2id"),
            ("bob:$5$salt$hash", "unknown"),
            ("bob", "USER:HASH"),
            (":$6$x$y", "empty user"),
        ];
        for (line, why) in cases {
            let text = format!("alice:{SHA512}\n{line}\n");
            let e = parse(path, &text).unwrap_err().to_string();
            assert!(e.contains("users line 2") && e.contains(why), "{line}: {e}");
        }
        let twice = format!("alice:{SHA512}\nalice:{SHA512}\n");
        assert!(
            parse(path, &twice)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }
}

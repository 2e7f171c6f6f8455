//! `durl passwd [USER]`: an argon2id hash (PHC string, random salt, the argon2 crate's
//! default parameters) of a password read without echo, for `durl serve --auth-file`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

use anyhow::Context as _;
use argon2::password_hash::PasswordHasher as _;

use crate::exit::UsageError;

/// Runs `durl passwd`.
pub fn run(user: Option<&str>) -> anyhow::Result<ExitCode> {
    if let Some(user) = user
        && (user.is_empty() || user.contains(':'))
    {
        return Err(UsageError(format!(
            "{user:?} cannot be a user name (empty, or has ':')"
        ))
        .into());
    }
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        if first != again {
            return Err(UsageError("the two passwords differ".to_owned()).into());
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if password.is_empty() {
        return Err(UsageError("empty password".to_owned()).into());
    }
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))?;
    print(user, &hash.to_string())?;
    Ok(ExitCode::SUCCESS)
}

#[expect(clippy::print_stdout, reason = "the hash is the command's output")]
fn print(user: Option<&str>, hash: &str) -> anyhow::Result<()> {
    match user {
        Some(user) => println!("{user}:{hash}"),
        None => println!("{hash}"),
    }
    std::io::stdout().flush().context("cannot write the hash")
}

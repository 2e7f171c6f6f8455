//! The config file: default options in long-flag syntax, read before the command line.
//!
//! ```text
//! # ~/.config/durl/config
//! retries = 20            # every command that has --retries
//! header = "X-Team: ops"  # repeatable options may be given on several lines
//! [get]
//! limit-rate = 2M
//! continue = true         # a flag: true or false
//! [serve]
//! port = 9000
//! ```
//!
//! [`parse`] is pure; [`arguments`] checks every key against the command's options and turns
//! the lines for one subcommand into `--key=value` arguments, which `main` puts before the
//! command line's own (the command line wins: clap keeps the last value of an option).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::exit::UsageError;

/// The sections, one per subcommand that takes options from the file.
const SECTIONS: &[&str] = &["get", "put", "serve", "daemon", "queue"];

/// One `key = value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// `None` above the first section header: for every command that has the option.
    pub section: Option<String>,
    pub key: String,
    pub value: String,
    /// 1-based.
    pub line: usize,
}

/// A line that is not a comment, a section header or `key = value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses the file's text. Blank lines and lines starting with `#` are skipped; a value may be
/// in double quotes (with `\"` and `\\` inside), else it ends at ` #` or the line's end.
pub fn parse(text: &str) -> Result<Vec<Setting>, ParseError> {
    let mut section = None;
    let mut settings = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| ParseError { line, message };
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(rest) = t.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| err(format!("expected a section header like [get], not {t:?}")))?
                .trim();
            if !SECTIONS.contains(&name) {
                return Err(err(format!(
                    "unknown section [{name}]: the sections are [get], [put], [serve], [daemon] and [queue]"
                )));
            }
            section = Some(name.to_owned());
            continue;
        }
        let (key, value) = t
            .split_once('=')
            .ok_or_else(|| err(format!("expected `option = value`, not {t:?}")))?;
        let key = key.trim().trim_start_matches("--");
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(err(format!("{key:?} is not an option name")));
        }
        let value = value_of(value.trim()).map_err(err)?;
        settings.push(Setting {
            section: section.clone(),
            key: key.to_owned(),
            value,
            line,
        });
    }
    Ok(settings)
}

/// A value: `"quoted"` (escapes `\"`, `\\`) or bare up to a ` #` comment.
fn value_of(v: &str) -> Result<String, String> {
    let Some(rest) = v.strip_prefix('"') else {
        let bare = match v.find(" #") {
            Some(i) => &v[..i],
            None => v,
        };
        return Ok(bare.trim_end().to_owned());
    };
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\')) => out.push(e),
                _ => return Err("only \\\" and \\\\ may follow a backslash".into()),
            },
            '"' => {
                let tail = chars.as_str().trim();
                if tail.is_empty() || tail.starts_with('#') {
                    return Ok(out);
                }
                return Err(format!("unexpected {tail:?} after the closing quote"));
            }
            c => out.push(c),
        }
    }
    Err("missing the closing quote".into())
}

/// The file to read: `--config FILE` or `DURL_CONFIG` (must exist), else
/// `$XDG_CONFIG_HOME/durl/config`, else `~/.config/durl/config` (used when present).
pub fn path(explicit: Option<&Path>) -> Option<(PathBuf, bool)> {
    if let Some(p) = explicit {
        return Some((p.to_owned(), true));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".config"))
        })?;
    Some((base.join("durl").join("config"), false))
}

/// Reads and checks the file at `path` and returns the arguments it gives subcommand `sub`.
/// A missing default file gives none; a missing explicit one is an error.
pub fn load(
    path: &Path,
    explicit: bool,
    command: &clap::Command,
    sub: &str,
) -> Result<Vec<OsString>, UsageError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(Vec::new()),
        Err(e) => {
            return Err(UsageError(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )));
        }
    };
    let settings = parse(&text)
        .map_err(|e| UsageError(format!("{}:{}: {}", path.display(), e.line, e.message)))?;
    arguments(&settings, command, sub)
        .map_err(|(line, message)| UsageError(format!("{}:{line}: {message}", path.display())))
}

/// Checks every setting against the options of its section's command (or, above the first
/// section, of any command) and returns those for `sub` as `--key=value` / `--flag`.
pub fn arguments(
    settings: &[Setting],
    command: &clap::Command,
    sub: &str,
) -> Result<Vec<OsString>, (usize, String)> {
    let mut args = Vec::new();
    for s in settings {
        let sections: Vec<&str> = match &s.section {
            Some(name) => vec![name.as_str()],
            None => SECTIONS.to_vec(),
        };
        let mut known = false;
        for name in sections {
            let Some(arg) = command
                .find_subcommand(name)
                .and_then(|c| option(c, &s.key))
            else {
                continue;
            };
            known = true;
            let value = setting_value(arg, s)?;
            if name == sub
                && let Some(value) = value
            {
                args.push(value);
            }
        }
        if !known {
            let scope = match &s.section {
                Some(name) => format!("durl {name}"),
                None => "durl get, put, serve or daemon".to_owned(),
            };
            return Err((s.line, format!("unknown option {:?} for {scope}", s.key)));
        }
    }
    Ok(args)
}

/// The option called `--key` (or an alias of it) of `command`, if a config file may set it.
fn option<'a>(command: &'a clap::Command, key: &str) -> Option<&'a clap::Arg> {
    command.get_arguments().find(|a| {
        !a.is_positional()
            && !matches!(
                a.get_id().as_str(),
                "help" | "version" | "config" | "no_config"
            )
            && (a.get_long() == Some(key)
                || a.get_all_aliases().is_some_and(|all| all.contains(&key)))
    })
}

/// The argument for one setting: `--long=value`, `--long` for a flag set to true, nothing for
/// a flag set to false.
fn setting_value(arg: &clap::Arg, s: &Setting) -> Result<Option<OsString>, (usize, String)> {
    let long = arg.get_long().unwrap_or(&s.key);
    if arg.get_action().takes_values() {
        return Ok(Some(format!("--{long}={}", s.value).into()));
    }
    match s.value.as_str() {
        "true" | "yes" => Ok(Some(format!("--{long}").into())),
        "false" | "no" => Ok(None),
        v => Err((
            s.line,
            format!(
                "{:?} is a flag: its value is true or false, not {v:?}",
                s.key
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn setting(section: Option<&str>, key: &str, value: &str, line: usize) -> Setting {
        Setting {
            section: section.map(str::to_owned),
            key: key.to_owned(),
            value: value.to_owned(),
            line,
        }
    }

    #[test]
    fn parses_lines_sections_quotes_and_comments() {
        let text = "# comment\n\nretries = 20\n[get]\nlimit-rate = 2M # two MiB\n\
                    header = \"X-A: b # not a comment\"\n  --continue=true\n[serve]\nport=9000\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                setting(None, "retries", "20", 3),
                setting(Some("get"), "limit-rate", "2M", 5),
                setting(Some("get"), "header", "X-A: b # not a comment", 6),
                setting(Some("get"), "continue", "true", 7),
                setting(Some("serve"), "port", "9000", 9),
            ]
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        let table: &[(&str, usize, &str)] = &[
            ("retries 20", 1, "expected `option = value`"),
            ("\n[fetch]", 2, "unknown section [fetch]"),
            ("[get", 1, "section header"),
            ("header = \"X: y", 1, "closing quote"),
            ("header = \"X\" y", 1, "after the closing quote"),
            ("header = \"a\\nb\"", 1, "backslash"),
            ("re tries = 2", 1, "not an option name"),
        ];
        for (text, line, message) in table {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}");
            assert!(e.message.contains(message), "{text:?}: {}", e.message);
        }
    }

    #[test]
    fn settings_become_arguments_for_their_command() {
        let cmd = crate::args::Cli::command();
        let settings = parse(
            "retries = 20\nquiet = true\n[get]\nlimit-rate = 2M\ncontinue = false\n\
             header = X: 1\nheader = X: 2\n[serve]\nport = 9000\n",
        )
        .unwrap();
        let args = |sub| -> Vec<String> {
            arguments(&settings, &cmd, sub)
                .unwrap()
                .into_iter()
                .map(|a| a.into_string().unwrap())
                .collect()
        };
        assert_eq!(
            args("get"),
            [
                "--retries=20",
                "--quiet",
                "--limit-rate=2M",
                "--header=X: 1",
                "--header=X: 2"
            ]
        );
        assert_eq!(args("put"), ["--retries=20", "--quiet"]);
        assert_eq!(args("serve"), ["--quiet", "--port=9000"]);
    }

    #[test]
    fn unknown_keys_and_bad_flag_values_are_errors_with_their_line() {
        let cmd = crate::args::Cli::command();
        let table: &[(&str, usize, &str)] = &[
            (
                "retriess = 2",
                1,
                "unknown option \"retriess\" for durl get, put, serve or daemon",
            ),
            (
                "[serve]\nretries = 2",
                2,
                "unknown option \"retries\" for durl serve",
            ),
            ("[get]\nconfig = x", 2, "unknown option \"config\""),
            ("[get]\nurls = x", 2, "unknown option \"urls\""),
            ("[get]\nquiet = 1", 2, "is a flag"),
        ];
        for (text, line, message) in table {
            let settings = parse(text).unwrap();
            let (l, m) = arguments(&settings, &cmd, "get").unwrap_err();
            assert_eq!(l, *line, "{text:?}");
            assert!(m.contains(message), "{text:?}: {m}");
        }
    }

    #[test]
    fn aliases_are_accepted_as_keys() {
        let cmd = crate::args::Cli::command();
        let settings = parse("[get]\nretry = 3\nsilent = true\n").unwrap();
        let args: Vec<_> = arguments(&settings, &cmd, "get").unwrap();
        assert_eq!(args, [OsString::from("--retries=3"), "--quiet".into()]);
    }
}

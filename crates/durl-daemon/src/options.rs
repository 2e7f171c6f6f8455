//! aria2 option structs (`{"dir": "...", "split": "4", ...}`, every value a string) to and
//! from durl's per-download and global settings. Pure code with table tests.
//!
//! Option names and value formats are aria2's (aria2c(1), "Options" and "RPC interface ›
//! aria2.changeGlobalOption"). Options durl has no use for are accepted and ignored, as
//! aria2 ignores the options it does not know in an RPC call.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The options of one download that durl acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownloadOptions {
    /// `dir`: where the file goes (default: the daemon's `--dir`).
    pub dir: Option<PathBuf>,
    /// `out`: the file name inside `dir` (default: from the server or the URL).
    pub out: Option<String>,
    /// `split` / `max-connection-per-server`: connections (1 to 32).
    pub connections: Option<u8>,
    /// `checksum`: `ALGO=HEX` (`sha-256=…`, as aria2 writes it).
    pub checksum: Option<String>,
    /// `header`: extra request header lines (`Name: value`).
    pub headers: Vec<String>,
    /// `max-download-limit`: bytes per second (`None`: unlimited).
    pub max_download_limit: Option<u64>,
}

/// The daemon-wide options `aria2.changeGlobalOption` can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalOptions {
    /// `max-concurrent-downloads`: downloads running at once.
    pub max_concurrent_downloads: usize,
    /// `max-overall-download-limit`: bytes per second for all downloads (`None`: unlimited).
    pub max_overall_download_limit: Option<u64>,
    /// `max-download-limit`: the default per-download limit of new downloads.
    pub max_download_limit: Option<u64>,
}

impl Default for GlobalOptions {
    fn default() -> Self {
        GlobalOptions {
            max_concurrent_downloads: 5,
            max_overall_download_limit: None,
            max_download_limit: None,
        }
    }
}

/// A bad option value, named as aria2 names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad value for option {name}: {value:?} ({why})")]
pub struct OptionError {
    /// The option.
    pub name: String,
    /// Its value as given.
    pub value: String,
    /// What is wrong with it.
    pub why: &'static str,
}

fn bad(name: &str, value: &str, why: &'static str) -> OptionError {
    OptionError {
        name: name.to_owned(),
        value: value.to_owned(),
        why,
    }
}

/// The string value of an option: aria2 clients send strings, some send numbers.
fn text(name: &str, v: &Value) -> Result<String, OptionError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(bad(name, &v.to_string(), "not a string")),
    }
}

/// A rate as aria2 writes it: bytes per second, with an optional `K` or `M` suffix (1024,
/// 1024²); `0` means unlimited.
pub fn parse_rate(name: &str, value: &str) -> Result<Option<u64>, OptionError> {
    let v = value.trim();
    let (digits, unit) = match v.as_bytes().last() {
        Some(b'k' | b'K') => (&v[..v.len() - 1], 1024),
        Some(b'm' | b'M') => (&v[..v.len() - 1], 1024 * 1024),
        _ => (v, 1),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| bad(name, value, "expected a number of bytes, e.g. 500K or 2M"))?;
    let bytes = n
        .checked_mul(unit)
        .ok_or_else(|| bad(name, value, "too large"))?;
    Ok((bytes > 0).then_some(bytes))
}

fn parse_connections(name: &str, value: &str) -> Result<u8, OptionError> {
    match value.trim().parse::<u8>() {
        Ok(n @ 1..=32) => Ok(n),
        _ => Err(bad(name, value, "expected 1 to 32")),
    }
}

/// A header line aria2 accepts: `Name: value` with a token name.
fn check_header(value: &str) -> Result<(), OptionError> {
    let ok = value.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    });
    if ok && !value.contains(['\r', '\n']) {
        Ok(())
    } else {
        Err(bad("header", value, "expected NAME: VALUE"))
    }
}

/// What an options struct asks beyond the download's settings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Extra {
    /// `pause=true`: add the download paused.
    pub pause: bool,
}

impl DownloadOptions {
    /// Applies an aria2 options struct on top of `self`.
    ///
    /// # Errors
    /// The first option with a bad value; `self` is then unchanged.
    pub fn apply(&mut self, options: &Map<String, Value>) -> Result<Extra, OptionError> {
        let mut next = self.clone();
        let mut extra = Extra::default();
        for (name, value) in options {
            match name.as_str() {
                "dir" => {
                    let dir = text(name, value)?;
                    if dir.is_empty() {
                        return Err(bad(name, &dir, "empty"));
                    }
                    next.dir = Some(PathBuf::from(dir));
                }
                "out" => {
                    let out = text(name, value)?;
                    // The engine keeps the file inside `dir`: a name, not a path.
                    if out.is_empty() || out.contains('/') || out == "." || out == ".." {
                        return Err(bad(name, &out, "expected a file name without '/'"));
                    }
                    next.out = Some(out);
                }
                "split" | "max-connection-per-server" => {
                    next.connections = Some(parse_connections(name, &text(name, value)?)?);
                }
                "checksum" => {
                    let c = text(name, value)?;
                    c.parse::<durl_fetch::Checksum>()
                        .map_err(|_| bad(name, &c, "expected ALGO=HEX, e.g. sha-256=…"))?;
                    next.checksum = Some(c);
                }
                "header" => {
                    // aria2 takes one string or a list of them.
                    let lines = match value {
                        Value::Array(items) => items
                            .iter()
                            .map(|v| text(name, v))
                            .collect::<Result<Vec<_>, _>>()?,
                        v => vec![text(name, v)?],
                    };
                    for line in &lines {
                        check_header(line)?;
                    }
                    next.headers = lines;
                }
                "max-download-limit" => {
                    next.max_download_limit = parse_rate(name, &text(name, value)?)?;
                }
                "pause" => extra.pause = parse_bool(name, &text(name, value)?)?,
                _ => {}
            }
        }
        *self = next;
        Ok(extra)
    }

    /// The options as aria2's `getOption` shows them (strings), with `dir` resolved against
    /// the daemon's default.
    pub fn to_struct(&self, default_dir: &std::path::Path) -> Map<String, Value> {
        let mut m = Map::new();
        let dir = self.dir.as_deref().unwrap_or(default_dir);
        m.insert("dir".into(), dir.display().to_string().into());
        if let Some(out) = &self.out {
            m.insert("out".into(), out.clone().into());
        }
        let split = self.connections.unwrap_or(1).to_string();
        m.insert("split".into(), split.clone().into());
        m.insert("max-connection-per-server".into(), split.into());
        if let Some(c) = &self.checksum {
            m.insert("checksum".into(), c.clone().into());
        }
        if !self.headers.is_empty() {
            m.insert("header".into(), self.headers.join("\n").into());
        }
        m.insert(
            "max-download-limit".into(),
            self.max_download_limit.unwrap_or(0).to_string().into(),
        );
        m
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, OptionError> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(name, value, "expected true or false")),
    }
}

impl GlobalOptions {
    /// Applies an aria2 options struct (`changeGlobalOption`).
    ///
    /// # Errors
    /// The first option with a bad value; `self` is then unchanged.
    pub fn apply(&mut self, options: &Map<String, Value>) -> Result<(), OptionError> {
        let mut next = *self;
        for (name, value) in options {
            let v = text(name, value)?;
            match name.as_str() {
                "max-concurrent-downloads" => {
                    next.max_concurrent_downloads = match v.trim().parse::<usize>() {
                        Ok(n @ 1..=1024) => n,
                        _ => return Err(bad(name, &v, "expected 1 to 1024")),
                    };
                }
                "max-overall-download-limit" => {
                    next.max_overall_download_limit = parse_rate(name, &v)?;
                }
                "max-download-limit" => next.max_download_limit = parse_rate(name, &v)?,
                _ => {}
            }
        }
        *self = next;
        Ok(())
    }

    /// The options as `getGlobalOption` shows them.
    pub fn to_struct(&self, dir: &std::path::Path) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("dir".into(), dir.display().to_string().into());
        m.insert(
            "max-concurrent-downloads".into(),
            self.max_concurrent_downloads.to_string().into(),
        );
        m.insert(
            "max-overall-download-limit".into(),
            self.max_overall_download_limit
                .unwrap_or(0)
                .to_string()
                .into(),
        );
        m.insert(
            "max-download-limit".into(),
            self.max_download_limit.unwrap_or(0).to_string().into(),
        );
        m
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn rates_as_aria2_writes_them() {
        let table: &[(&str, Option<Option<u64>>)] = &[
            ("0", Some(None)),
            ("1000", Some(Some(1000))),
            ("500K", Some(Some(500 * 1024))),
            ("2m", Some(Some(2 << 20))),
            ("", None),
            ("1.5M", None),
            ("-1", None),
            ("99999999999999999999", None),
        ];
        for (input, want) in table {
            assert_eq!(parse_rate("r", input).ok(), *want, "{input}");
        }
    }

    #[test]
    fn download_options_from_a_struct() {
        let mut o = DownloadOptions::default();
        let extra = o
            .apply(&map(json!({
                "dir": "/tmp/x", "out": "a.bin", "split": "4",
                "checksum": "sha-256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "header": ["X-A: 1", "X-B: 2"], "max-download-limit": "1M", "pause": "true",
                "continue": "true"
            })))
            .unwrap();
        assert!(extra.pause);
        assert_eq!(o.dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(o.out.as_deref(), Some("a.bin"));
        assert_eq!(o.connections, Some(4));
        assert_eq!(o.headers, ["X-A: 1", "X-B: 2"]);
        assert_eq!(o.max_download_limit, Some(1 << 20));
        let shown = o.to_struct(std::path::Path::new("/d"));
        assert_eq!(shown["split"], "4");
        assert_eq!(shown["max-download-limit"], "1048576");
    }

    #[test]
    fn a_bad_value_changes_nothing() {
        let table = [
            json!({"split": "0"}),
            json!({"split": "33"}),
            json!({"out": "../etc/passwd"}),
            json!({"out": "a/b"}),
            json!({"checksum": "sha-256=zz"}),
            json!({"header": "no colon"}),
            json!({"header": "X: a\r\nY: b"}),
            json!({"max-download-limit": "fast"}),
            json!({"pause": "yes"}),
            json!({"dir": ""}),
        ];
        for input in table {
            let mut o = DownloadOptions {
                out: Some("keep".into()),
                ..DownloadOptions::default()
            };
            let before = o.clone();
            assert!(o.apply(&map(input.clone())).is_err(), "{input}");
            assert_eq!(o, before, "{input}");
        }
    }

    #[test]
    fn global_options() {
        let mut g = GlobalOptions::default();
        g.apply(&map(json!({
            "max-concurrent-downloads": "16",
            "max-overall-download-limit": "2M",
            "max-download-limit": 1024
        })))
        .unwrap();
        assert_eq!(g.max_concurrent_downloads, 16);
        assert_eq!(g.max_overall_download_limit, Some(2 << 20));
        assert_eq!(g.max_download_limit, Some(1024));
        assert!(
            g.apply(&map(json!({"max-concurrent-downloads": "0"})))
                .is_err()
        );
        assert_eq!(g.max_concurrent_downloads, 16);
    }
}

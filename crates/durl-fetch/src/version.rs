//! [`Version`]: what identifies one version of a remote file, minted and compared by the
//! transport that fetched it (HTTP: its `etag`, `last-modified` and the `if-range` value it
//! may send, RFC 9110 §8.8; FTP: `mdtm`, RFC 3659 §3, with the length from `SIZE`). The engine
//! and the state file carry it without reading it.

/// Named values that identify one version of a remote file; their meaning belongs to the
/// transport that minted them. The state file stores each as a `version NAME VALUE` line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Version {
    values: Vec<(String, String)>,
}

impl Version {
    /// No value: nothing tells two versions apart (only the length can).
    pub fn new() -> Version {
        Version::default()
    }

    /// This version with `name` set to `value` (replacing an earlier value of that name).
    #[must_use]
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Version {
        self.set(name, value.into());
        self
    }

    /// Sets `name` to `value`, replacing an earlier value of that name.
    pub fn set(&mut self, name: &str, value: String) {
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.values.push((name.to_owned(), value)),
        }
    }

    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether there is no value at all.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values as (name, value), in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_named_and_replaced() {
        let v = Version::new().with("etag", "\"a\"").with("mdtm", "x");
        assert_eq!(v.get("etag"), Some("\"a\""));
        let v = v.with("etag", "\"b\"");
        assert_eq!(
            v.iter().collect::<Vec<_>>(),
            [("etag", "\"b\""), ("mdtm", "x")]
        );
        assert!(!v.is_empty() && Version::new().is_empty());
        assert_eq!(v.get("last-modified"), None);
    }
}

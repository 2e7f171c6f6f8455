//! What a listing request asks for (pure, table-tested): the order (`?sort=name|size|
//! modified&order=asc|desc`, links in the page's header row, no script needed) and the
//! format (`?format=json`, or an `Accept` field that asks for JSON and not HTML).

use std::cmp::Ordering;

use http::HeaderMap;
use http::header::ACCEPT;

use super::Entry;

/// The column a listing is sorted by; directories always come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortKey {
    /// By name, case-insensitively (then byte-wise).
    Name,
    /// By size (directories by name).
    Size,
    /// By modification time.
    Modified,
}

impl SortKey {
    /// The query value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Size => "size",
            Self::Modified => "modified",
        }
    }

    /// The order a first click on this column asks for: names A→Z, the largest and the
    /// newest first.
    pub(crate) fn first_descending(self) -> bool {
        self != Self::Name
    }
}

/// The representation asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The HTML page.
    Html,
    /// The JSON document for scripts.
    Json,
}

/// A listing request's view: order and format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct View {
    /// The column sorted by.
    pub(crate) sort: SortKey,
    /// Whether in descending order.
    pub(crate) descending: bool,
    /// HTML or JSON.
    pub(crate) format: Format,
}

impl View {
    /// Reads the query string (unknown keys and values are ignored) and `Accept`.
    pub(crate) fn from_request(query: Option<&str>, headers: &HeaderMap) -> Self {
        let mut view = Self {
            sort: SortKey::Name,
            descending: false,
            format: if wants_json(headers) {
                Format::Json
            } else {
                Format::Html
            },
        };
        let mut order = None;
        for pair in query.unwrap_or("").split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (key, value) {
                ("sort", "name") => view.sort = SortKey::Name,
                ("sort", "size") => view.sort = SortKey::Size,
                ("sort", "modified" | "mtime") => view.sort = SortKey::Modified,
                ("order", "asc") => order = Some(false),
                ("order", "desc") => order = Some(true),
                ("format", "json") => view.format = Format::Json,
                ("format", "html") => view.format = Format::Html,
                _ => {}
            }
        }
        view.descending = order.unwrap_or_else(|| view.sort.first_descending());
        view
    }

    /// The query of the header link for `key`: the other order if it is the current
    /// column, its first order otherwise.
    pub(crate) fn link(self, key: SortKey) -> String {
        let descending = if key == self.sort {
            !self.descending
        } else {
            key.first_descending()
        };
        let order = if descending { "desc" } else { "asc" };
        format!("?sort={}&order={order}", key.as_str())
    }

    /// Sorts `entries`: directories first, then by the column, ties by name.
    pub(crate) fn sort(self, entries: &mut [Entry]) {
        entries.sort_by(|a, b| {
            b.is_dir.cmp(&a.is_dir).then_with(|| {
                let by_column = match self.sort {
                    SortKey::Name => Ordering::Equal,
                    SortKey::Size => a.size.cmp(&b.size),
                    SortKey::Modified => a.modified.cmp(&b.modified),
                };
                let ordered = by_column.then_with(|| by_name(a, b));
                if self.descending {
                    ordered.reverse()
                } else {
                    ordered
                }
            })
        });
    }
}

fn by_name(a: &Entry, b: &Entry) -> Ordering {
    let fold = |e: &Entry| e.name.to_ascii_lowercase();
    fold(a).cmp(&fold(b)).then_with(|| a.name.cmp(&b.name))
}

/// RFC 9110 §12.5.1: JSON when `application/json` is acceptable (q > 0) and `text/html`
/// is not named; browsers name text/html, scripts that ask for JSON do not.
fn wants_json(headers: &HeaderMap) -> bool {
    let mut json = false;
    for value in headers.get_all(ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or("").trim();
            let refused = params.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            if media.eq_ignore_ascii_case("text/html") {
                return false;
            }
            if media.eq_ignore_ascii_case("application/json") && !refused {
                json = true;
            }
        }
    }
    json
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn formats_from_accept_and_the_query() {
        #[rustfmt::skip]
        let cases: &[(Option<&str>, &str, Format)] = &[
            (None, "", Format::Html),
            (None, "application/json", Format::Json),
            (None, "Application/JSON; charset=utf-8", Format::Json),
            (None, "application/json;q=0", Format::Html),
            (None, "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", Format::Html),
            (None, "application/json, text/html", Format::Html),
            (None, "*/*", Format::Html),
            (Some("format=json"), "", Format::Json),
            (Some("sort=size&format=json"), "text/html", Format::Json),
            (Some("format=html"), "application/json", Format::Html),
        ];
        for (query, accept_value, want) in cases {
            let view = View::from_request(*query, &accept(accept_value));
            assert_eq!(view.format, *want, "{query:?} {accept_value:?}");
        }
    }

    #[test]
    fn sort_from_the_query_and_the_header_links() {
        let none = HeaderMap::new();
        let v = View::from_request(None, &none);
        assert_eq!((v.sort, v.descending), (SortKey::Name, false));
        assert_eq!(v.link(SortKey::Name), "?sort=name&order=desc");
        assert_eq!(v.link(SortKey::Size), "?sort=size&order=desc");
        let v = View::from_request(Some("sort=modified"), &none);
        assert_eq!((v.sort, v.descending), (SortKey::Modified, true));
        assert_eq!(v.link(SortKey::Modified), "?sort=modified&order=asc");
        assert_eq!(v.link(SortKey::Name), "?sort=name&order=asc");
        let v = View::from_request(Some("order=desc&sort=size&junk&sort=bogus"), &none);
        assert_eq!((v.sort, v.descending), (SortKey::Size, true));
    }

    fn entry(name: &str, is_dir: bool, size: Option<u64>, modified: i64) -> Entry {
        Entry {
            is_dir,
            name: name.as_bytes().to_vec(),
            size,
            modified: Some(modified),
            etag: None,
        }
    }

    fn names(view: View, entries: &mut [Entry]) -> Vec<String> {
        view.sort(entries);
        entries
            .iter()
            .map(|e| String::from_utf8_lossy(&e.name).into_owned())
            .collect()
    }

    #[test]
    fn directories_first_in_every_order() {
        let mut entries = vec![
            entry("b.txt", false, Some(10), 300),
            entry("A.txt", false, Some(30), 100),
            entry("zdir", true, None, 50),
            entry("c.txt", false, Some(20), 200),
            entry("adir", true, None, 400),
        ];
        let none = HeaderMap::new();
        let view = |q| View::from_request(Some(q), &none);
        #[rustfmt::skip]
        let cases: &[(&str, [&str; 5])] = &[
            ("sort=name", ["adir", "zdir", "A.txt", "b.txt", "c.txt"]),
            ("sort=name&order=desc", ["zdir", "adir", "c.txt", "b.txt", "A.txt"]),
            ("sort=size&order=asc", ["adir", "zdir", "b.txt", "c.txt", "A.txt"]),
            ("sort=size", ["zdir", "adir", "A.txt", "c.txt", "b.txt"]),
            ("sort=modified", ["adir", "zdir", "b.txt", "c.txt", "A.txt"]),
            ("sort=modified&order=asc", ["zdir", "adir", "A.txt", "c.txt", "b.txt"]),
        ];
        for (query, want) in cases {
            assert_eq!(names(view(query), &mut entries), want, "{query}");
        }
    }
}

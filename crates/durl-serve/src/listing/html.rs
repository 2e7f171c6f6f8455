//! The HTML listing page: breadcrumbs, a table with a header row whose column titles are
//! sort links (no script needed), directories first, name, size and modification time (UTC,
//! and how long ago). Styled by the embedded sheet at [`assets::LISTING_STYLE_PATH`] (light
//! and dark, narrow screens); with uploads on, the upload area that the script at
//! [`assets::SCRIPT_PATH`] drives. The page has no inline script or style, so the
//! Content-Security-Policy of [`crate::response::html`] holds. Names are HTML-escaped for
//! the text and percent-encoded for the links.

use std::fmt::Write as _;

use super::Entry;
use super::query::{SortKey, View};
use crate::assets;
use crate::date;
use crate::resolve::{RequestPath, encode_segment};
use crate::upload;

/// The upload area of a listing, shown where the user may upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct UploadArea {
    /// The server replaces files on request (`--overwrite`): the page may offer "Replace".
    pub(crate) overwrite: bool,
}

/// The page for `entries` (sorted) at `request`; `now` in Unix seconds for the ages.
pub(crate) fn page(
    request: &RequestPath,
    entries: &[Entry],
    view: View,
    upload: Option<UploadArea>,
    now: i64,
) -> String {
    let title = escape(&request.display());
    let mut html = String::with_capacity(2048 + entries.len() * 320);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"color-scheme\" content=\"light dark\">\
         <title>Index of {title}</title>\
         <link rel=\"stylesheet\" href=\"{}\">",
        assets::LISTING_STYLE_PATH
    );
    if upload.is_some() {
        let _ = write!(
            html,
            "<link rel=\"stylesheet\" href=\"{}\">\
             <script src=\"{}\" defer></script>",
            assets::STYLE_PATH,
            assets::SCRIPT_PATH
        );
    }
    html.push_str("</head>\n<body>\n");
    breadcrumbs(&mut html, request);
    let _ = writeln!(html, "<main>\n<h1>Index of {title}</h1>");
    if let Some(area) = upload {
        upload_area(&mut html, request, area);
    }
    table(&mut html, request, entries, view, now);
    let files = entries.iter().filter(|e| !e.is_dir).count();
    let dirs = entries.len() - files;
    let _ = writeln!(
        html,
        "</main>\n<footer>{dirs} {}, {files} {}</footer>\n</body></html>",
        plural(dirs, "directory", "directories"),
        plural(files, "file", "files"),
    );
    html
}

fn plural<'a>(n: usize, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A trail of links from the root to the current directory (WAI-ARIA breadcrumb pattern).
fn breadcrumbs(html: &mut String, request: &RequestPath) {
    html.push_str("<nav class=\"crumbs\" aria-label=\"Breadcrumb\"><ol>");
    let segments = request.segments();
    let current = |last: bool| if last { " aria-current=\"page\"" } else { "" };
    let _ = write!(
        html,
        "<li><a href=\"/\"{}>Root</a></li>",
        current(segments.is_empty())
    );
    let mut href = String::from("/");
    for (i, segment) in segments.iter().enumerate() {
        href.push_str(&encode_segment(segment));
        href.push('/');
        let _ = write!(
            html,
            "<li><a href=\"{}\"{}>{}</a></li>",
            escape(&href),
            current(i + 1 == segments.len()),
            escape(&String::from_utf8_lossy(segment))
        );
    }
    html.push_str("</ol></nav>\n");
}

/// The table: a header row of sort links, the parent, then the entries.
fn table(html: &mut String, request: &RequestPath, entries: &[Entry], view: View, now: i64) {
    let order = if view.descending {
        "descending"
    } else {
        "ascending"
    };
    let _ = writeln!(
        html,
        "<table>\n<caption class=\"sr\">Contents of {}, sorted by {} ({order})</caption>",
        escape(&request.display()),
        view.sort.as_str()
    );
    html.push_str("<thead><tr>");
    for (key, label, class) in [
        (SortKey::Name, "Name", "name"),
        (SortKey::Size, "Size", "size"),
        (SortKey::Modified, "Modified (UTC)", "modified"),
    ] {
        let (sorted, arrow) = if key == view.sort {
            let arrow = if view.descending {
                " \u{25be}"
            } else {
                " \u{25b4}"
            };
            (format!(" aria-sort=\"{order}\""), arrow)
        } else {
            (String::new(), "")
        };
        let _ = write!(
            html,
            "<th scope=\"col\" class=\"{class}\"{sorted}><a href=\"{}\">{label}{arrow}</a></th>",
            escape(&view.link(key))
        );
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    if !request.is_root() {
        html.push_str(
            "<tr class=\"parent\"><td class=\"name\"><a href=\"../\">Parent directory</a></td>\
             <td class=\"size\"></td><td class=\"modified\"></td></tr>\n",
        );
    }
    if entries.is_empty() {
        html.push_str("<tr><td class=\"empty\" colspan=\"3\">This directory is empty.</td></tr>\n");
    }
    for entry in entries {
        row(html, entry, now);
    }
    html.push_str("</tbody></table>\n");
}

fn row(html: &mut String, entry: &Entry, now: i64) {
    let name = String::from_utf8_lossy(&entry.name);
    let slash = if entry.is_dir { "/" } else { "" };
    // "./" keeps a name like "a:b" from being read as a URL scheme.
    let href = format!("./{}{slash}", encode_segment(&entry.name));
    let class = if entry.is_dir { "dir" } else { "file" };
    let size = match entry.size {
        Some(n) => format!("<data value=\"{n}\">{}</data>", human_size(n)),
        None => "<span aria-label=\"directory\">\u{2014}</span>".to_owned(),
    };
    let modified = entry.modified.map_or_else(String::new, |secs| {
        format!(
            "<time datetime=\"{}\">{}</time><span class=\"ago\">{}</span>",
            date::rfc3339(secs),
            date::display(secs),
            date::relative(secs, now)
        )
    });
    let _ = writeln!(
        html,
        "<tr class=\"{class}\"><td class=\"name\"><a href=\"{}\">{}{slash}</a></td>\
         <td class=\"size\">{size}</td><td class=\"modified\">{modified}</td></tr>",
        escape(&href),
        escape(&name)
    );
}

/// The upload area: hidden until the script runs (without it the picker could do nothing).
/// Files go into the directory shown (`data-directory`, checked again by the server);
/// `data-overwrite` tells the script it may offer "Replace" on a name conflict.
fn upload_area(html: &mut String, request: &RequestPath, area: UploadArea) {
    let _ = writeln!(
        html,
        "<section id=\"durl-upload\" data-endpoint=\"{}/\" data-directory=\"{}\"{} hidden>\
         <h2>Upload to {}</h2>",
        upload::PREFIX,
        escape(&request.href(true)),
        if area.overwrite {
            " data-overwrite"
        } else {
            ""
        },
        escape(&request.display()),
    );
    html.push_str(
        "<label class=\"durl-drop\">Drop files here or choose them: \
         <input type=\"file\" multiple></label>\n\
         <ul class=\"durl-uploads\"></ul></section>\n\
         <noscript><p>Uploading from this page needs JavaScript.</p></noscript>\n",
    );
}

/// Escapes text for HTML element content and double-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Bytes, then KiB/MiB/GiB/TiB with one decimal.
fn human_size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    #[expect(clippy::cast_precision_loss, reason = "display only")]
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;

    fn entry(name: &[u8], is_dir: bool, size: Option<u64>) -> Entry {
        Entry {
            is_dir,
            name: name.to_vec(),
            size,
            modified: Some(1_000_000_000),
            etag: None,
        }
    }

    fn view(query: &str) -> View {
        View::from_request(Some(query), &HeaderMap::new())
    }

    fn path(p: &str) -> RequestPath {
        RequestPath::parse(p).unwrap()
    }

    #[test]
    fn escapes_names_and_links_them() {
        let mut entries = vec![
            entry(b"b<script>.txt", false, Some(3)),
            entry(b"z dir", true, None),
            entry(b"a&\"q\".txt", false, Some(2048)),
        ];
        view("").sort(&mut entries);
        let html = page(
            &path("/x/%3Cy%3E/"),
            &entries,
            view(""),
            None,
            1_000_000_120,
        );
        assert!(html.contains("Index of /x/&lt;y&gt;/"));
        assert!(!html.contains("<script"));
        assert!(html.contains("<a href=\"./b%3Cscript%3E.txt\">b&lt;script&gt;.txt</a>"));
        assert!(html.contains("<a href=\"./a%26%22q%22.txt\">a&amp;&quot;q&quot;.txt</a>"));
        assert!(html.contains("2.0 KiB"));
        let dir = html.find("z dir/").unwrap();
        let a = html.find("a&amp;").unwrap();
        let b = html.find("b&lt;").unwrap();
        assert!(dir < a && a < b, "directories first, then by name");
        assert!(html.contains("href=\"../\""));
        assert!(html.contains("<time datetime=\"2001-09-09T01:46:40Z\">2001-09-09 01:46</time>"));
        assert!(html.contains("2 minutes ago"));
        assert!(!html.contains("durl-upload"));
        assert!(html.contains("1 directory, 2 files"));
    }

    #[test]
    fn header_row_links_sort_and_says_which_is_current() {
        let html = page(&path("/"), &[], view("sort=size"), None, 0);
        assert!(html.contains(
            "<th scope=\"col\" class=\"size\" aria-sort=\"descending\">\
             <a href=\"?sort=size&amp;order=asc\">Size \u{25be}</a></th>"
        ));
        assert!(html.contains("<a href=\"?sort=name&amp;order=asc\">Name</a>"));
        assert!(html.contains("<a href=\"?sort=modified&amp;order=desc\">Modified (UTC)</a>"));
        assert!(html.contains("This directory is empty."));
        assert!(!html.contains("Parent directory"), "no parent at the root");
    }

    #[test]
    fn breadcrumbs_link_every_ancestor() {
        let html = page(&path("/a%20b/c&d/e/"), &[], view(""), None, 0);
        assert!(html.contains(
            "<ol><li><a href=\"/\">Root</a></li>\
             <li><a href=\"/a%20b/\">a b</a></li>\
             <li><a href=\"/a%20b/c%26d/\">c&amp;d</a></li>\
             <li><a href=\"/a%20b/c%26d/e/\" aria-current=\"page\">e</a></li></ol>"
        ));
        let root = page(&path("/"), &[], view(""), None, 0);
        assert!(root.contains("<li><a href=\"/\" aria-current=\"page\">Root</a></li></ol>"));
    }

    #[test]
    fn no_inline_script_or_style_with_or_without_uploads() {
        let entries = [entry(b"a.txt", false, Some(1))];
        for upload in [false, true] {
            let html = page(
                &path("/"),
                &entries,
                view(""),
                upload.then_some(UploadArea { overwrite: false }),
                0,
            );
            assert!(html.contains("<link rel=\"stylesheet\" href=\"/.durl/listing.css\">"));
            assert_eq!(html.matches("<script").count(), usize::from(upload));
            assert!(!html.contains("<style") && !html.contains("style="));
            let handler = html.match_indices(" on").any(|(i, _)| {
                let rest = &html[i + 3..];
                let name = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
                name > 0 && rest[name..].starts_with('=')
            });
            assert!(!handler, "no inline event handlers");
        }
    }

    #[test]
    fn the_upload_area_links_its_script_and_says_where_files_go() {
        let entries = [entry(b"a.txt", false, Some(1))];
        let root = page(
            &path("/"),
            &entries,
            view(""),
            Some(UploadArea { overwrite: false }),
            0,
        );
        assert!(root.contains("<script src=\"/.durl/upload.js\" defer></script>"));
        assert!(root.contains("<link rel=\"stylesheet\" href=\"/.durl/upload.css\">"));
        assert!(root.contains("data-endpoint=\"/.durl/uploads/\""));
        assert!(root.contains("<input type=\"file\" multiple>"));
        assert!(root.contains("data-directory=\"/\" hidden><h2>Upload to /</h2>"));
        assert!(root.find("durl-upload").unwrap() < root.find("<table>").unwrap());
        assert!(root.contains("<a href=\"./a.txt\">a.txt</a>"));
        let sub = page(
            &path("/sub/"),
            &entries,
            view(""),
            Some(UploadArea { overwrite: false }),
            0,
        );
        assert!(sub.contains("data-directory=\"/sub/\" hidden><h2>Upload to /sub/</h2>"));
        let odd = page(
            &path("/a%20%22b%22/"),
            &entries,
            view(""),
            Some(UploadArea { overwrite: true }),
            0,
        );
        assert!(odd.contains(
            "data-directory=\"/a%20%22b%22/\" data-overwrite hidden>\
             <h2>Upload to /a &quot;b&quot;/</h2>"
        ));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}

//! HTML directory listings: entries sorted (directories first, then by name), names
//! HTML-escaped for the text and percent-encoded for the links, sizes shown. With uploads
//! on, the page also has an upload area (file picker and drop zone) that the script at
//! [`assets::SCRIPT_PATH`] drives; the page itself has no inline script or style, so the
//! Content-Security-Policy of [`crate::response::html`] holds.

use std::fmt::Write as _;
use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::{AtFlags, Dir, FileType};

use crate::assets;
use crate::resolve::{RequestPath, encode_segment};
use crate::upload;

/// One row of a listing.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Sorted first, so directories come before files.
    is_file: bool,
    /// The raw file name.
    name: Vec<u8>,
    /// Size in bytes (files only).
    size: Option<u64>,
}

/// Renders the listing of the directory open as `dir` (resolved from the root's descriptor,
/// `resolve::open`), addressed as `request`, with the upload area if `upload`. Entries are
/// read from that descriptor and looked at relative to it, never by path. Blocking: call it
/// from `spawn_blocking`.
pub(crate) fn render(dir: OwnedFd, request: &RequestPath, upload: bool) -> io::Result<String> {
    let mut entries = Vec::new();
    let mut stream = Dir::new(dir)?;
    while let Some(entry) = stream.read() {
        let entry = entry?;
        let name = entry.file_name();
        if matches!(name.to_bytes(), b"." | b"..") {
            continue;
        }
        // Follow links for the type and size; a dangling link shows as a file without size.
        let stat = rustix::fs::statat(stream.fd()?, name, AtFlags::empty()).ok();
        let kind = stat.map(|s| FileType::from_raw_mode(s.st_mode));
        entries.push(Entry {
            is_file: kind != Some(FileType::Directory),
            name: name.to_bytes().to_vec(),
            size: stat
                .filter(|_| kind == Some(FileType::RegularFile))
                .map(|s| u64::try_from(s.st_size).unwrap_or(0)),
        });
    }
    entries.sort_unstable();
    let root = request.is_root();
    Ok(page(
        &request.display(),
        !root,
        &entries,
        upload.then_some(root),
    ))
}

/// The page. `upload`: whether to show the upload area, and whether this is the root (where
/// uploads land).
fn page(title: &str, parent: bool, entries: &[Entry], upload: Option<bool>) -> String {
    let title = escape(title);
    let mut html = String::with_capacity(1024 + entries.len() * 128);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>Index of {title}</title>"
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
    let _ = write!(html, "</head>\n<body><h1>Index of {title}</h1>\n");
    if let Some(root) = upload {
        upload_area(&mut html, root);
    }
    html.push_str("<table>\n");
    if parent {
        html.push_str("<tr><td><a href=\"../\">../</a></td><td></td></tr>\n");
    }
    for entry in entries {
        let name = String::from_utf8_lossy(&entry.name);
        let slash = if entry.is_file { "" } else { "/" };
        // "./" keeps a name like "a:b" from being read as a URL scheme.
        let href = format!("./{}{slash}", encode_segment(&entry.name));
        let size = entry.size.map(human_size).unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td><a href=\"{}\">{}{slash}</a></td><td>{size}</td></tr>",
            escape(&href),
            escape(&name)
        );
    }
    html.push_str("</table></body></html>\n");
    html
}

/// The upload area: hidden until the script runs (without it the picker could do nothing).
/// Uploads go to the root: below it, the page says so.
fn upload_area(html: &mut String, root: bool) {
    let _ = writeln!(
        html,
        "<section id=\"durl-upload\" data-endpoint=\"{}/\" hidden>\
         <h2>Upload</h2>",
        upload::PREFIX
    );
    if !root {
        html.push_str("<p>Uploaded files go to the <a href=\"/\">top directory</a>.</p>\n");
    }
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
    use super::*;

    #[test]
    fn escapes_names_and_sorts_directories_first() {
        let entries = vec![
            Entry {
                is_file: true,
                name: b"b<script>.txt".to_vec(),
                size: Some(3),
            },
            Entry {
                is_file: false,
                name: b"z dir".to_vec(),
                size: None,
            },
            Entry {
                is_file: true,
                name: b"a&\"q\".txt".to_vec(),
                size: Some(2048),
            },
        ];
        let mut sorted = entries;
        sorted.sort_unstable();
        let html = page("/x/<y>/", true, &sorted, None);
        assert!(html.contains("Index of /x/&lt;y&gt;/"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("<a href=\"./b%3Cscript%3E.txt\">b&lt;script&gt;.txt</a>"));
        assert!(html.contains("<a href=\"./a%26%22q%22.txt\">a&amp;&quot;q&quot;.txt</a>"));
        assert!(html.contains("2.0 KiB"));
        let dir = html.find("z dir/").unwrap();
        let a = html.find("a&amp;").unwrap();
        let b = html.find("b&lt;").unwrap();
        assert!(dir < a && a < b, "directories first, then by name");
        assert!(html.contains("href=\"../\""));
        assert!(!html.contains("durl-upload") && !html.contains("<script"));
    }

    #[test]
    fn the_upload_area_links_its_script_and_says_where_files_go() {
        let entries = [Entry {
            is_file: true,
            name: b"a.txt".to_vec(),
            size: Some(1),
        }];
        let root = page("/", false, &entries, Some(true));
        assert!(root.contains("<script src=\"/.durl/upload.js\" defer></script>"));
        assert!(root.contains("<link rel=\"stylesheet\" href=\"/.durl/upload.css\">"));
        assert!(root.contains("data-endpoint=\"/.durl/uploads/\""));
        assert!(root.contains("<input type=\"file\" multiple>"));
        assert!(!root.contains("top directory"));
        // No inline script: every <script> has a src and no content.
        assert_eq!(root.matches("<script").count(), 1);
        assert!(!root.contains("style="), "no inline styles");
        let handler = root.match_indices(" on").any(|(i, _)| {
            let rest = &root[i + 3..];
            let name = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            name > 0 && rest[name..].starts_with('=')
        });
        assert!(!handler, "no inline event handlers");
        // The area comes before the table, the entries are still there.
        assert!(root.find("durl-upload").unwrap() < root.find("<table>").unwrap());
        assert!(root.contains("<a href=\"./a.txt\">a.txt</a>"));

        let sub = page("/sub/", true, &entries, Some(false));
        assert!(sub.contains("<a href=\"/\">top directory</a>"));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
    }
}

//! The `-i` list parsers of `durl get` (aria2c's format) and `durl put`: an accepted entry has
//! usable URLs and an `out=` that stays inside the directory, and writing the entries back
//! as a list gives the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The parsers live in the binary crate; they are compiled in here from its source (they use
// nothing of it but this error type).
mod exit {
    #[derive(Debug)]
    pub struct UsageError(#[allow(dead_code)] pub String);
}
#[allow(dead_code)]
#[path = "../../crates/durl/src/input_file.rs"]
mod input_file;
#[allow(dead_code)]
#[path = "../../crates/durl/src/put_list.rs"]
mod put_list;

fn get_list(text: &str) {
    let Ok(entries) = input_file::parse(text) else {
        return;
    };
    let mut written = String::new();
    let mut last_line = 0;
    for e in &entries {
        assert!(e.line > last_line, "{text:?}");
        last_line = e.line;
        assert!(!e.urls.is_empty());
        for u in &e.urls {
            let url = url::Url::parse(u).expect("accepted URL parses");
            assert!(matches!(url.scheme(), "http" | "https" | "ftp"));
            // FTP mirrors are mirrors of FTP URLs only, never mixed with http(s)://.
            let ftp = |u: &String| u.to_ascii_lowercase().starts_with("ftp:");
            assert!(url.scheme() != "ftp" || e.urls.iter().all(ftp), "{text:?}");
            assert!(!u.contains(['\t', '\n', '\r']));
        }
        if let Some(out) = &e.out {
            assert!(out.is_relative(), "{text:?}");
            assert!(
                !out.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir)),
                "{text:?}"
            );
        }
        written.push_str(&e.urls.join("\t"));
        written.push('\n');
        if let Some(out) = &e.out {
            written.push_str(&format!("  out={}\n", out.display()));
        }
        if let Some(dir) = &e.dir {
            written.push_str(&format!("  dir={}\n", dir.display()));
        }
        if let Some(c) = &e.checksum {
            written.push_str(&format!("  checksum={c}\n"));
        }
    }
    let again =
        input_file::parse(&written).unwrap_or_else(|e| panic!("{text:?} -> {written:?}: {e}"));
    assert_eq!(again.len(), entries.len());
    for (a, b) in again.iter().zip(&entries) {
        assert_eq!(
            (&a.urls, &a.out, &a.dir, &a.checksum),
            (&b.urls, &b.out, &b.dir, &b.checksum)
        );
    }
}

fn put_list(text: &str) {
    let Ok(entries) = put_list::parse(text) else {
        return;
    };
    let mut written = String::new();
    for e in &entries {
        let local = e.local.to_str().expect("from a str");
        assert!(!local.is_empty() && !local.contains('\n'));
        written.push_str(local);
        written.push('\n');
        if let Some(to) = &e.to {
            assert!(!to.trim().is_empty());
            written.push_str(&format!("  to={to}\n"));
        }
    }
    let again =
        put_list::parse(&written).unwrap_or_else(|e| panic!("{text:?} -> {written:?}: {e}"));
    let pairs = |v: &[put_list::PutEntry]| -> Vec<_> {
        v.iter().map(|e| (e.local.clone(), e.to.clone())).collect()
    };
    assert_eq!(pairs(&again), pairs(&entries), "{text:?} -> {written:?}");
}

fuzz_target!(|input: (bool, &str)| {
    let (put, text) = input;
    if put { put_list(text) } else { get_list(text) }
});

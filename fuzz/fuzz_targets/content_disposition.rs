//! The client's `Content-Disposition` parser and name sanitiser: whatever the header and URL,
//! the chosen name is one plain, visible component that fits beside durl's suffixes.
#![no_main]

use durl_fetch::fuzzing::filename;
use libfuzzer_sys::fuzz_target;

fn check(name: &str, from: &str) {
    assert!(!name.is_empty(), "{from:?}");
    assert!(name != "." && name != "..", "{from:?}");
    assert!(!name.contains(['/', '\\', '\0']), "{from:?} -> {name:?}");
    assert!(!name.starts_with('.'), "{from:?} -> {name:?}");
    assert!(
        !name
            .chars()
            .any(|c| c.is_control() || filename::is_bidi_control(c)),
        "{from:?} -> {name:?}"
    );
    assert!(
        name.len() + ".durl-state.tmp".len() <= 255,
        "{from:?}: {} bytes",
        name.len()
    );
    assert_eq!(name.trim(), name, "{from:?} -> {name:?}");
}

fuzz_target!(|input: (&str, &str)| {
    let (header, path) = input;
    if let Some(raw) = filename::disposition_filename(header)
        && let Some(clean) = filename::sanitize(&raw)
    {
        check(&clean, header);
        // Sanitising is idempotent: a clean name stays as it is.
        assert_eq!(filename::sanitize(&clean).as_deref(), Some(clean.as_str()));
    }
    if let Some(clean) = filename::sanitize(header) {
        check(&clean, header);
    }
    let Ok(url) = url::Url::parse("http://h/").and_then(|b| b.join(path)) else {
        return;
    };
    let name = filename::choose(Some(header), &url);
    check(&name, header);
});

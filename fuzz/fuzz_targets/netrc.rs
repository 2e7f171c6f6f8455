//! The `.netrc` parser: entries written back (values quoted with `\"` and `\\` escapes) read
//! back the same, and a lookup finds an entry for the host asked (or the default).
#![no_main]

use durl_fetch::fuzzing::netrc;
use libfuzzer_sys::fuzz_target;

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fuzz_target!(|input: (&str, &str)| {
    let (text, host) = input;
    let entries = netrc::parse(text);
    let mut written = String::new();
    for e in &entries {
        match &e.machine {
            Some(m) => written.push_str(&format!("machine {}", quote(m))),
            None => written.push_str("default"),
        }
        if let Some(l) = &e.login {
            written.push_str(&format!(" login {}", quote(l)));
        }
        if let Some(p) = &e.password {
            written.push_str(&format!(" password {}", quote(p)));
        }
        written.push('\n');
    }
    assert_eq!(netrc::parse(&written), entries, "{text:?} -> {written:?}");
    if let Some(found) = netrc::lookup(&entries, host, None) {
        match &found.machine {
            Some(m) => assert!(m.eq_ignore_ascii_case(host)),
            None => assert!(!entries.iter().any(|e| {
                e.machine
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(host))
            })),
        }
    }
});

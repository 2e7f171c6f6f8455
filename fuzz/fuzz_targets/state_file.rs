//! The state-file decoders, every version: the download state (`<out>.durl-state`, versions
//! 1 to 3) and the upload state (`LOCAL.durl-upload`). A decoded state never claims bytes
//! past the length, and encoding it gives a text that decodes to the same state
//! (decode(encode(x)) == x for every x a file can hold).
#![no_main]

use durl_fetch::fuzzing::State;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &str)| {
    let (version, body) = input;
    // Mostly well-formed headers, so the fuzzer spends its time on the fields.
    let text = match version % 5 {
        0 => format!("durl-state 1\n{body}"),
        1 => format!("durl-state 2\n{body}"),
        2 => format!("durl-state 3\n{body}"),
        3 => format!("durl-upload 1\n{body}"),
        _ => body.to_owned(),
    };
    if let Ok(state) = State::decode(&text) {
        if let Some(len) = state.length {
            assert!(state.have.end() <= len, "{text:?}");
        }
        for w in state.have.ranges().windows(2) {
            assert!(w[0].end < w[1].start, "{text:?}: ranges not disjoint");
        }
        assert!(state.have.ranges().iter().all(|r| r.start < r.end));
        let encoded = state.encode();
        assert_eq!(
            State::decode(&encoded).as_ref(),
            Ok(&state),
            "{text:?} -> {encoded:?}"
        );
    }
    if let Some(encoded) = durl_fetch::fuzzing::upload_state_reencode(&text) {
        assert_eq!(
            durl_fetch::fuzzing::upload_state_reencode(&encoded).as_deref(),
            Some(encoded.as_str()),
            "{text:?}"
        );
    }
});

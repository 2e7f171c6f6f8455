//! Entry points for the fuzz targets in `fuzz/` (not a stable API: hidden from the docs).
//!
//! The parsers the targets exercise that are public already (`content_range`, `filename`,
//! `journal`, `netrc`) are used directly; this module reaches the private ones without
//! making their modules public.

use reqwest::header::{HeaderMap, HeaderValue};

/// Decodes an upload state file (`LOCAL.durl-upload`) and encodes it again; `None` when the
/// text is not a state file.
pub fn upload_state_reencode(text: &str) -> Option<String> {
    crate::tus::state::UploadState::decode(text).map(|s| s.encode())
}

/// The client's reading of a tus integer header (`Upload-Offset`, `Upload-Length`) that
/// arrived as these field lines; `None` for a value it refuses.
pub fn tus_number(values: &[&[u8]]) -> Option<u64> {
    let mut headers = HeaderMap::new();
    for v in values {
        headers.append("upload-offset", HeaderValue::from_bytes(v).ok()?);
    }
    crate::tus::number(&headers, "upload-offset")
}

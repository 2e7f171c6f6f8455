//! The one entry point for the fuzz targets in `fuzz/` and for tests that read or write state
//! files (not a stable API: hidden from the docs). The modules it reaches stay private; this
//! re-exports the parsers the targets exercise and the types the tests need.

use reqwest::header::{HeaderMap, HeaderValue};

pub use crate::download::ranges::RangeSet;
pub use crate::store::journal::{DecodeError, State};
pub use crate::store::verify::hex;

/// `Content-Range` parsing and `Range` writing (RFC 9110 §14.2, §14.4).
pub mod content_range {
    pub use crate::http::content_range::{ContentRange, parse, range_from, range_header};
}

/// File names from `Content-Disposition` and URLs.
pub mod filename {
    pub use crate::filename::{choose, disposition_filename, is_bidi_control, sanitize};
}

/// `.netrc` parsing.
pub mod netrc {
    pub use crate::netrc::{Entry, lookup, parse};
}

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

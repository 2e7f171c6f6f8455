//! tus 1.0.0 header fields, parsed without touching anything else (pure, table-tested).
//!
//! Section names are those of the tus 1.0.0 specification
//! (<https://tus.io/protocols/resumable-upload>): "Core Protocol › Headers", "Creation",
//! "Checksum", and so on.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderMap;
use sha2::Digest;

use super::error::UploadError;

/// The one protocol version we speak (Core Protocol › Headers › Tus-Resumable, Tus-Version).
pub(crate) const TUS_VERSION: &str = "1.0.0";

/// What `Tus-Extension` advertises (each extension section: "the Server MUST add ...").
/// Deferred lengths are the `creation-defer-length` part of Creation › POST.
pub(crate) const EXTENSIONS: &str =
    "creation,creation-with-upload,creation-defer-length,termination,expiration,checksum";

/// What `Tus-Checksum-Algorithm` advertises (Checksum: "MUST support at least ... sha1").
/// `crc32c` is for clients that want integrity in transit at a fraction of a hash's cost
/// (see [`Algorithm::Crc32c`]).
pub(crate) const CHECKSUM_ALGORITHMS: &str = "sha1,sha256,crc32c";

/// The media type of upload data (Core Protocol › Requests › PATCH).
pub(crate) const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// The longest final file name, in bytes (the common file-system limit).
const MAX_NAME_BYTES: usize = 255;

/// Base64 as tus clients write it: the standard alphabet, padding optional (tus-js-client
/// pads, some others do not).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Core Protocol › Headers › Tus-Resumable: every request but `OPTIONS` carries
/// `Tus-Resumable: 1.0.0`; a missing or other version is answered 412 (with `Tus-Version`)
/// and not processed.
pub(crate) fn check_resumable(headers: &HeaderMap) -> Result<(), UploadError> {
    match headers
        .get("tus-resumable")
        .map(|v| v.as_bytes().trim_ascii())
    {
        Some(v) if v == TUS_VERSION.as_bytes() => Ok(()),
        _ => Err(UploadError::Version),
    }
}

/// A non-negative integer header value (Upload-Offset, Upload-Length: "MUST be a non-negative
/// integer"): ASCII digits only, no sign, no spaces inside, no overflow.
pub(crate) fn non_negative(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// The integer value of header `name`: `Ok(None)` when absent, 400 when malformed or repeated.
pub(crate) fn integer_field(headers: &HeaderMap, name: &str) -> Result<Option<u64>, UploadError> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => non_negative(v.as_bytes())
            .map(Some)
            .ok_or(UploadError::BadRequest("malformed integer header field")),
        (Some(_), Some(_)) => Err(UploadError::BadRequest("repeated header field")),
    }
}

/// Creation › POST: the size of the upload, known or deferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    /// `Upload-Length: N`.
    Known(u64),
    /// `Upload-Defer-Length: 1`: given by a later PATCH.
    Deferred,
}

/// Creation › POST: exactly one of `Upload-Length` and `Upload-Defer-Length: 1` (any other
/// defer value is 400).
pub(crate) fn creation_length(headers: &HeaderMap) -> Result<Length, UploadError> {
    let length = integer_field(headers, "upload-length")?;
    let defer = headers.get("upload-defer-length");
    match (length, defer) {
        (Some(n), None) => Ok(Length::Known(n)),
        (None, Some(v)) if v.as_bytes().trim_ascii() == b"1" => Ok(Length::Deferred),
        (None, Some(_)) => Err(UploadError::BadRequest("Upload-Defer-Length must be 1")),
        (Some(_), Some(_)) => Err(UploadError::BadRequest(
            "both Upload-Length and Upload-Defer-Length",
        )),
        (None, None) => Err(UploadError::BadRequest(
            "Upload-Length or Upload-Defer-Length required",
        )),
    }
}

/// Whether `Content-Type` is `application/offset+octet-stream` (parameters and case ignored).
pub(crate) fn is_offset_octet_stream(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM))
}

/// Creation › Headers › Upload-Metadata: comma-separated `key base64value` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Metadata {
    /// The field value as received (validated ASCII), echoed by HEAD.
    pub(crate) raw: String,
    /// Decoded pairs, keys unique.
    pairs: Vec<(String, Vec<u8>)>,
}

impl Metadata {
    /// Parses an `Upload-Metadata` value. Keys are non-empty and hold no space or comma; the
    /// value, separated by one space, is base64 and may be empty (then the space may be left
    /// out); keys are unique. Anything else is 400.
    pub(crate) fn parse(value: &[u8]) -> Result<Self, UploadError> {
        let bad = UploadError::BadRequest("malformed Upload-Metadata");
        // The raw value is stored on one line of the info file and echoed in a header field:
        // visible ASCII and spaces only.
        if !value.iter().all(|&b| b == b' ' || b.is_ascii_graphic()) {
            return Err(bad);
        }
        let raw = std::str::from_utf8(value).map_err(|_| UploadError::BadRequest(""))?;
        let raw = raw.trim();
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
        if raw.is_empty() {
            return Ok(Self {
                raw: String::new(),
                pairs,
            });
        }
        for pair in raw.split(',') {
            let pair = pair.trim();
            let (key, encoded) = pair.split_once(' ').unwrap_or((pair, ""));
            if key.is_empty() || encoded.contains(' ') {
                return Err(bad);
            }
            let decoded = BASE64
                .decode(encoded)
                .map_err(|_| UploadError::BadRequest(""))?;
            if pairs.iter().any(|(k, _)| k == key) {
                return Err(bad);
            }
            pairs.push((key.to_owned(), decoded));
        }
        Ok(Self {
            raw: raw.to_owned(),
            pairs,
        })
    }

    /// The decoded value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// The final file name the client asks for: `filename` (tus-js-client, tuspy) or `name`
    /// (Uppy), UTF-8, sanitised by [`sanitize`]; `None` if absent or unusable.
    pub(crate) fn file_name(&self) -> Option<String> {
        let value = self.get("filename").or_else(|| self.get("name"))?;
        sanitize(std::str::from_utf8(value).ok()?)
    }
}

/// What to do when the file name is taken in the target directory: `Upload-Metadata` key
/// `onconflict` (durl's own; other clients send none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// None sent: 409 at creation unless the server overwrites; replace if it does.
    Default,
    /// `refuse`: 409 at creation even where the server could overwrite (the page asks first).
    Refuse,
    /// `keep`: keep both; the upload gets a free numbered name (`name (1).ext`) at the end.
    KeepBoth,
    /// `replace`: replace the existing file; only where the server allows overwriting.
    Replace,
}

impl Metadata {
    /// The `onconflict` choice; an unknown value is 400.
    pub(crate) fn on_conflict(&self) -> Result<OnConflict, UploadError> {
        match self.get("onconflict") {
            None => Ok(OnConflict::Default),
            Some(b"refuse") => Ok(OnConflict::Refuse),
            Some(b"keep") => Ok(OnConflict::KeepBoth),
            Some(b"replace") => Ok(OnConflict::Replace),
            Some(_) => Err(UploadError::BadRequest(
                "onconflict must be refuse, keep or replace",
            )),
        }
    }

    /// The directory the file is to land in, as the URL path of its listing (`/docs/api/`,
    /// percent-encoded or not): `Upload-Metadata` key `directory` (durl's own); `None`: the
    /// top directory. Checked by the caller like a request path; not UTF-8 is 400.
    pub(crate) fn directory(&self) -> Result<Option<&str>, UploadError> {
        self.get("directory")
            .map(|v| {
                std::str::from_utf8(v)
                    .map_err(|_| UploadError::BadRequest("directory must be UTF-8"))
            })
            .transpose()
    }
}

/// Turns a client-supplied name into a plain file name, or refuses it, with the rules durl
/// applies to `Content-Disposition` names on download: any directory part (`/` or `\`) is
/// dropped; `.`, `..`, empty names and names holding control characters (NUL, newlines) or
/// bidi controls (Unicode Standard Annex #9 §2: U+202A–U+202E, U+2066–U+2069, U+200E, U+200F,
/// U+061C, which make `\u{202E}txt.exe` read `exe.txt`) are refused; a leading dot becomes
/// `_` so that no hidden file is planted; the result is cut to 255 bytes on a character
/// boundary.
///
/// Written here rather than shared with `durl-fetch` (which has the same rules for
/// downloads) because depending on `durl-fetch` would pull reqwest into the server.
pub(crate) fn sanitize(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let refused = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
            )
    };
    if base.is_empty() || base == "." || base == ".." || base.chars().any(refused) {
        return None;
    }
    let mut out = String::with_capacity(base.len());
    for (i, c) in base.chars().enumerate() {
        let c = if i == 0 && c == '.' { '_' } else { c };
        if out.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    Some(out)
}

/// Checksum algorithms we verify (Checksum › Tus-Checksum-Algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    /// `sha1`, required by the extension.
    Sha1,
    /// `sha256`.
    Sha256,
    /// `crc32c`: CRC-32C (Castagnoli, RFC 3720 § B.4), its 4 bytes big-endian in base64, as
    /// S3's `x-amz-checksum-crc32c` and Google Cloud Storage's `x-goog-hash: crc32c=`. A
    /// chunk checksum guards against accidental corruption only (whoever can change the
    /// body in transit can change the header with it), which a CRC does at hardware speed:
    /// CRC-32C catches every burst of up to 32 bits and anything else but 1 in 2^32.
    Crc32c,
}

/// Checksum › Headers › Upload-Checksum: `algorithm base64digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checksum {
    /// The algorithm named.
    pub(crate) algorithm: Algorithm,
    /// The expected digest of the request's body.
    pub(crate) digest: Vec<u8>,
}

impl Checksum {
    /// The request's `Upload-Checksum`: `Ok(None)` when absent; 400 for an unsupported
    /// algorithm (Checksum: "400 Bad Request if the checksum algorithm is not supported"),
    /// bad base64 or a digest of the wrong length.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, UploadError> {
        let Some(value) = headers.get("upload-checksum") else {
            return Ok(None);
        };
        let bad = UploadError::BadRequest("malformed or unsupported Upload-Checksum");
        let value = value
            .to_str()
            .map_err(|_| UploadError::BadRequest(""))?
            .trim();
        let (name, encoded) = value.split_once(' ').ok_or(bad)?;
        let (algorithm, len) = match name {
            "sha1" => (Algorithm::Sha1, 20),
            "sha256" => (Algorithm::Sha256, 32),
            "crc32c" => (Algorithm::Crc32c, 4),
            _ => return Err(UploadError::BadRequest("unsupported checksum algorithm")),
        };
        let digest = BASE64
            .decode(encoded.trim())
            .map_err(|_| UploadError::BadRequest("Upload-Checksum is not base64"))?;
        if digest.len() != len {
            return Err(UploadError::BadRequest(
                "Upload-Checksum has the wrong length",
            ));
        }
        Ok(Some(Self { algorithm, digest }))
    }
}

/// A running digest of a request body.
#[derive(Debug, Clone)]
pub(crate) enum Hasher {
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// CRC-32C.
    Crc32c(crc_fast::Digest),
}

impl Hasher {
    /// A fresh digest for `algorithm`.
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            Algorithm::Crc32c => {
                Self::Crc32c(crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi))
            }
        }
    }

    /// Adds `data`.
    pub(crate) fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Crc32c(h) => h.update(data),
        }
    }

    /// The digest of everything added.
    pub(crate) fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            // A 32-bit CRC in the low half of the u64.
            Self::Crc32c(h) => (h.finalize() as u32).to_be_bytes().to_vec(),
        }
    }
}

/// Whether `id` has the shape of the ids we hand out (32 lowercase hex digits); anything
/// else is 404 without touching the disk.
pub(crate) fn is_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn durl_metadata_keys_table() {
        let meta = |pairs: &[(&str, &[u8])]| {
            let raw: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k} {}", BASE64.encode(v)))
                .collect();
            Metadata::parse(raw.join(",").as_bytes()).unwrap()
        };
        for (value, want) in [
            (None, Some(OnConflict::Default)),
            (Some(&b"refuse"[..]), Some(OnConflict::Refuse)),
            (Some(b"keep"), Some(OnConflict::KeepBoth)),
            (Some(b"replace"), Some(OnConflict::Replace)),
            (Some(b"Replace"), None),
            (Some(b""), None),
            (Some(b"keep "), None),
        ] {
            let m = match value {
                Some(v) => meta(&[("onconflict", v)]),
                None => meta(&[]),
            };
            assert_eq!(m.on_conflict().ok(), want, "{value:?}");
        }
        assert_eq!(meta(&[]).directory().unwrap(), None);
        assert_eq!(
            meta(&[("directory", b"/a b/%2e%2e/")]).directory().unwrap(),
            Some("/a b/%2e%2e/")
        );
        assert!(meta(&[("directory", b"/\xff/")]).directory().is_err());
    }

    /// Header fields of one table row.
    type Fields = &'static [(&'static str, &'static str)];

    fn headers(fields: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in fields {
            h.append(*name, HeaderValue::from_str(value).unwrap());
        }
        h
    }

    fn status(e: &UploadError) -> u16 {
        e.status().as_u16()
    }

    #[test]
    fn tus_resumable_must_be_1_0_0() {
        // Core Protocol › Headers › Tus-Resumable: otherwise 412, request not processed.
        #[rustfmt::skip]
        let cases: &[(Fields, bool)] = &[
            (&[("tus-resumable", "1.0.0")], true),
            (&[("tus-resumable", " 1.0.0 ")], true),
            (&[("tus-resumable", "0.2.2")], false),
            (&[("tus-resumable", "1.0")], false),
            (&[("tus-resumable", "")], false),
            (&[], false),
        ];
        for (fields, ok) in cases {
            let result = check_resumable(&headers(fields));
            assert_eq!(result.is_ok(), *ok, "{fields:?}");
            if let Err(e) = result {
                assert_eq!(status(&e), 412);
            }
        }
    }

    #[test]
    fn offsets_and_lengths_are_non_negative_integers() {
        // Core Protocol › Headers › Upload-Offset / Upload-Length.
        #[rustfmt::skip]
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("70", Some(70)),
            (" 100 ", Some(100)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None), // overflow
            ("-1", None),
            ("+5", None),
            ("1 2", None),
            ("0x10", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(non_negative(value.as_bytes()), *want, "{value:?}");
        }
        let repeated = headers(&[("upload-offset", "1"), ("upload-offset", "1")]);
        assert!(integer_field(&repeated, "upload-offset").is_err());
        assert_eq!(
            integer_field(&HeaderMap::new(), "upload-offset").unwrap(),
            None
        );
    }

    #[test]
    fn creation_takes_one_length_or_a_deferral() {
        // Creation › Requests › POST.
        #[rustfmt::skip]
        let cases: &[(Fields, Option<Length>)] = &[
            (&[("upload-length", "100")], Some(Length::Known(100))),
            (&[("upload-length", "0")], Some(Length::Known(0))),
            (&[("upload-defer-length", "1")], Some(Length::Deferred)),
            (&[("upload-defer-length", "0")], None), // "any other value than 1": 400
            (&[("upload-defer-length", "yes")], None),
            (&[("upload-length", "5"), ("upload-defer-length", "1")], None),
            (&[("upload-length", "-5")], None),
            (&[], None),
        ];
        for (fields, want) in cases {
            let got = creation_length(&headers(fields));
            assert_eq!(got.as_ref().ok(), want.as_ref(), "{fields:?}");
            if let Err(e) = got {
                assert_eq!(status(&e), 400);
            }
        }
    }

    #[test]
    fn upload_metadata_pairs() {
        // Creation › Headers › Upload-Metadata, including the spec's own example.
        let m = Metadata::parse(b"filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential")
            .unwrap();
        assert_eq!(m.get("filename"), Some(&b"world_domination_plan.pdf"[..]));
        assert_eq!(m.get("is_confidential"), Some(&b""[..]));
        assert_eq!(m.file_name().as_deref(), Some("world_domination_plan.pdf"));
        assert_eq!(
            m.raw,
            "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential"
        );

        #[rustfmt::skip]
        let cases: &[(&[u8], bool)] = &[
            (b"", true),
            (b"a YQ==", true),
            (b"a YQ", true),                  // unpadded base64
            (b"a YQ==, b Yg==", true),        // spaces after commas
            (b"key ", true),                  // empty value with its space
            (b"a YQ==,a Yg==", false),        // keys must be unique
            (b" YQ==", true),                 // trimmed: a key "YQ==" with no value
            (b"a YQ== Yg==", false),          // two values
            (b"a !!!", false),                // not base64
            (b"a YQ==,", false),              // empty pair: empty key
            (b"a\tYQ==", false),              // control character
            (b"a \xff", false),               // not ASCII
        ];
        for (value, ok) in cases {
            let got = Metadata::parse(value);
            assert_eq!(got.is_ok(), *ok, "{:?}", String::from_utf8_lossy(value));
        }
        // Uppy sends `name`; `filename` wins when both are present.
        let m = Metadata::parse(b"name YS50eHQ=").unwrap();
        assert_eq!(m.file_name().as_deref(), Some("a.txt"));
        let m = Metadata::parse(b"name YS50eHQ=,filename Yi50eHQ=").unwrap();
        assert_eq!(m.file_name().as_deref(), Some("b.txt"));
    }

    #[test]
    fn final_names_are_sanitised() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("report.pdf", Some("report.pdf")),
            ("café.txt", Some("café.txt")),
            ("../../etc/passwd", Some("passwd")),
            ("/abs/path/x.bin", Some("x.bin")),
            ("..\\..\\win.ini", Some("win.ini")),
            (".bashrc", Some("_bashrc")),
            (".durl", Some("_durl")),
            ("dir/", None),
            ("..", None),
            (".", None),
            ("", None),
            ("   ", None),
            ("a\nb", None),
            ("a\0b", None),
            // Bidi controls disguise names: `\u{202E}txt.exe` reads `exe.txt` (issue 13, item 9).
            ("\u{202E}txt.exe", None),
            ("a\u{202A}b", None),
            ("a\u{202B}b", None),
            ("a\u{202C}b", None),
            ("a\u{202D}b", None),
            ("a\u{2066}b", None),
            ("a\u{2067}b", None),
            ("a\u{2068}b", None),
            ("a\u{2069}b", None),
            ("a\u{200E}b", None),
            ("a\u{061C}b", None),
        ];
        for (name, want) in cases {
            assert_eq!(sanitize(name).as_deref(), *want, "{name:?}");
        }
        let long = "é".repeat(200);
        let cut = sanitize(&long).unwrap();
        assert!(cut.len() <= 255 && cut.len() >= 254, "{}", cut.len());
    }

    #[test]
    fn upload_checksum_values() {
        // Checksum › Headers › Upload-Checksum, with the spec's example digest of "hello world".
        let c = Checksum::from_headers(&headers(&[(
            "upload-checksum",
            "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
        )]))
        .unwrap()
        .unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha1);
        let mut h = Hasher::new(Algorithm::Sha1);
        h.update(b"hello ");
        h.update(b"world");
        assert_eq!(h.finish(), c.digest);

        let sha256 = "sha256 uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=";
        let c = Checksum::from_headers(&headers(&[("upload-checksum", sha256)]))
            .unwrap()
            .unwrap();
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b"hello world");
        assert_eq!(h.finish(), c.digest);

        // CRC-32C's check value (RFC 3720 § B.4's polynomial; "123456789" -> e3069283, the
        // CRC catalogue's), big-endian in base64, fed in pieces.
        let c = Checksum::from_headers(&headers(&[("upload-checksum", "crc32c 4waSgw==")]))
            .unwrap()
            .unwrap();
        assert_eq!(c.algorithm, Algorithm::Crc32c);
        assert_eq!(c.digest, [0xe3, 0x06, 0x92, 0x83]);
        let mut h = Hasher::new(Algorithm::Crc32c);
        h.update(b"1234");
        h.update(b"56789");
        assert_eq!(h.finish(), c.digest);
        let mut h = Hasher::new(Algorithm::Crc32c);
        h.update(b"hello world");
        assert_eq!(BASE64.encode(h.finish()), "yZRlqg==");

        assert_eq!(Checksum::from_headers(&HeaderMap::new()).unwrap(), None);
        for bad in [
            "md5 XrY7u+Ae7tCTyyK7j1rNww==", // not supported: 400
            "crc32 DUoRhQ==",
            "SHA1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", // names are lowercase
            "sha1",
            "sha1 !!!",
            "sha1 YQ==",       // wrong length
            "crc32c yZRlqgA=", // five bytes
        ] {
            let got = Checksum::from_headers(&headers(&[("upload-checksum", bad)]));
            assert_eq!(got.map_err(|e| status(&e)), Err(400), "{bad:?}");
        }
    }

    #[test]
    fn content_type_and_ids() {
        let h = headers(&[("content-type", "Application/Offset+Octet-Stream; x=1")]);
        assert!(is_offset_octet_stream(&h));
        let h = headers(&[("content-type", "application/octet-stream")]);
        assert!(!is_offset_octet_stream(&h));
        assert!(!is_offset_octet_stream(&HeaderMap::new()));
        assert!(is_upload_id("0123456789abcdef0123456789abcdef"));
        for bad in ["", "0123456789ABCDEF0123456789abcdef", "../x", "0123"] {
            assert!(!is_upload_id(bad), "{bad}");
        }
    }
}

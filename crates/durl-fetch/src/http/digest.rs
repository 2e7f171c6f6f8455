//! Representation digests (RFC 9530): what durl asks for (`Want-Repr-Digest`), and the
//! sha-256 and sha-512 values an answer's `Repr-Digest` (or, for a whole 200 sent as is,
//! `Content-Digest`) gives. Both fields are Structured-Field dictionaries (RFC 8941 §3.2)
//! whose values are byte sequences (§3.3.5, `:base64:`). Pure: header values in, digests out.

use base64::Engine as _;

use crate::store::verify::{Algorithm, Checksum};

/// RFC 9530 §4: the algorithms durl can check, sha-256 preferred (weights 1 to 10).
pub(crate) const WANT: &str = "sha-256=10, sha-512=3";

/// The digests of one representation that durl can check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Digests {
    pub(crate) sha256: Option<Vec<u8>>,
    pub(crate) sha512: Option<Vec<u8>>,
}

impl Digests {
    /// Reads one or more field values (RFC 8941 §4.2: lines of one field are joined with
    /// commas). A dictionary that does not parse is ignored whole (§4.2); unknown
    /// algorithms (RFC 9530 §5) and values of the wrong length are ignored.
    pub(crate) fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Digests {
        let joined = values.into_iter().collect::<Vec<_>>().join(",");
        let mut digests = Digests::default();
        if joined.trim().is_empty() {
            return digests;
        }
        let Some(members) = dictionary(&joined) else {
            return digests;
        };
        // §3.2: a key that appears twice keeps its last value.
        for (key, value) in members {
            let Some(value) = value else { continue };
            match key.as_str() {
                "sha-256" if value.len() == 32 => digests.sha256 = Some(value),
                "sha-512" if value.len() == 64 => digests.sha512 = Some(value),
                _ => {}
            }
        }
        digests
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sha256.is_none() && self.sha512.is_none()
    }

    /// Whether the two can be of one representation: no algorithm both carry disagrees.
    pub(crate) fn agree(&self, other: &Digests) -> bool {
        let same = |a: &Option<Vec<u8>>, b: &Option<Vec<u8>>| match (a, b) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        same(&self.sha256, &other.sha256) && same(&self.sha512, &other.sha512)
    }

    /// The digest to verify the file with: sha-256 when known, else sha-512.
    pub(crate) fn checksum(&self) -> Option<Checksum> {
        let (algorithm, expected) = match (&self.sha256, &self.sha512) {
            (Some(d), _) => (Algorithm::Sha256, d),
            (None, Some(d)) => (Algorithm::Sha512, d),
            (None, None) => return None,
        };
        Some(Checksum {
            algorithm,
            expected: expected.clone(),
        })
    }

    /// The values as (algorithm key, base64), to keep in a [`crate::version::Version`].
    pub(crate) fn encoded(&self) -> impl Iterator<Item = (&'static str, String)> + '_ {
        let b64 = |d: &Vec<u8>| base64::engine::general_purpose::STANDARD.encode(d);
        [("sha-256", &self.sha256), ("sha-512", &self.sha512)]
            .into_iter()
            .filter_map(move |(k, v)| v.as_ref().map(|d| (k, b64(d))))
    }

    /// The digest of `key` given as base64 ([`Self::encoded`]).
    pub(crate) fn set_encoded(&mut self, key: &str, value: &str) {
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(value) else {
            return;
        };
        match key {
            "sha-256" if bytes.len() == 32 => self.sha256 = Some(bytes),
            "sha-512" if bytes.len() == 64 => self.sha512 = Some(bytes),
            _ => {}
        }
    }
}

/// RFC 8941 §4.2.2: a dictionary's members as (key, the bytes when the value is a byte
/// sequence); `None` when the text is not a valid dictionary.
fn dictionary(text: &str) -> Option<Vec<(String, Option<Vec<u8>>)>> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let mut members = Vec::new();
    p.skip_sp();
    loop {
        let key = p.key()?;
        let value = if p.eat(b'=') {
            if p.peek() == Some(b'(') {
                p.inner_list()?;
                None
            } else {
                p.bare_item()?
            }
        } else {
            None // §4.2.2: a bare key is the boolean true.
        };
        p.parameters()?;
        members.push((key, value));
        p.skip_ows();
        if p.at_end() {
            return Some(members);
        }
        if !p.eat(b',') {
            return None;
        }
        p.skip_ows();
        if p.at_end() {
            return None; // a trailing comma
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn skip_sp(&mut self) {
        while self.eat(b' ') {}
    }

    /// OWS: spaces and tabs (RFC 9110 §5.6.3).
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// §4.2.3.3: `( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`.
    fn key(&mut self) -> Option<String> {
        let start = self.i;
        if !matches!(self.peek(), Some(b'a'..=b'z' | b'*')) {
            return None;
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
        ) {
            self.i += 1;
        }
        Some(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// §4.2.3.2: `*( ";" *SP key [ "=" bare-item ] )`.
    fn parameters(&mut self) -> Option<()> {
        while self.eat(b';') {
            self.skip_sp();
            self.key()?;
            if self.eat(b'=') {
                self.bare_item()?;
            }
        }
        Some(())
    }

    /// §4.2.1.2: `"(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")" parameters`.
    fn inner_list(&mut self) -> Option<()> {
        self.eat(b'(');
        loop {
            self.skip_sp();
            if self.eat(b')') {
                return self.parameters();
            }
            self.bare_item()?;
            self.parameters()?;
            if !matches!(self.peek(), Some(b' ' | b')')) {
                return None;
            }
        }
    }

    /// §4.2.3.1: a bare item; the bytes of a byte sequence, `None` inside for the others.
    fn bare_item(&mut self) -> Option<Option<Vec<u8>>> {
        match self.peek()? {
            b':' => self.byte_sequence().map(Some),
            b'"' => self.string().map(|()| None),
            b'?' => {
                self.i += 1;
                matches!(self.peek(), Some(b'0' | b'1')).then(|| {
                    self.i += 1;
                    None
                })
            }
            b'-' | b'0'..=b'9' => self.number().map(|()| None),
            b'A'..=b'Z' | b'a'..=b'z' | b'*' => {
                // §4.2.6: a token.
                while matches!(self.peek(), Some(c) if is_tchar(c) || c == b':' || c == b'/') {
                    self.i += 1;
                }
                Some(None)
            }
            _ => None,
        }
    }

    /// §4.2.7: `":" *(base64) ":"`.
    fn byte_sequence(&mut self) -> Option<Vec<u8>> {
        self.eat(b':');
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        {
            self.i += 1;
        }
        let encoded = &self.s[start..self.i];
        if !self.eat(b':') {
            return None;
        }
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
    }

    /// §4.2.5: a string, with `\"` and `\\` escapes, printable ASCII only.
    fn string(&mut self) -> Option<()> {
        self.eat(b'"');
        loop {
            match self.peek()? {
                b'\\' => {
                    self.i += 1;
                    if !matches!(self.peek()?, b'"' | b'\\') {
                        return None;
                    }
                    self.i += 1;
                }
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                0x20..=0x7e => self.i += 1,
                _ => return None,
            }
        }
    }

    /// §4.2.4: an integer (up to 15 digits) or a decimal (up to 12 digits, a dot, 1 to 3).
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        let int = self.i - start;
        if int == 0 {
            return None;
        }
        if self.eat(b'.') {
            let f = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            let frac = self.i - f;
            return (int <= 12 && (1..=3).contains(&frac)).then_some(());
        }
        (int <= 15).then_some(())
    }
}

/// RFC 9110 §5.6.2: `tchar`.
fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sha-256 and sha-512 of the empty string, as RFC 9530's examples write them.
    const E256: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const E512: &str =
        "Z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";

    fn b64(s: &str) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD.decode(s).unwrap()
    }

    #[test]
    fn repr_digest_fields_as_rfc_8941_dictionaries() {
        let both = Digests {
            sha256: Some(b64(E256)),
            sha512: Some(b64(E512)),
        };
        let only256 = Digests {
            sha256: Some(b64(E256)),
            sha512: None,
        };
        let only512 = Digests {
            sha256: None,
            sha512: Some(b64(E512)),
        };
        let none = Digests::default();
        let table: Vec<(String, &Digests)> = vec![
            // RFC 9530 §3 and appendix B examples.
            (format!("sha-256=:{E256}:"), &only256),
            (format!("sha-512=:{E512}:"), &only512),
            (format!("sha-256=:{E256}:, sha-512=:{E512}:"), &both),
            (format!("sha-512=:{E512}:,sha-256=:{E256}:"), &both),
            // Unknown algorithms and parameters are ignored (RFC 9530 §5, RFC 8941 §3.1.2).
            (format!("unixsum=:AAAA:, sha-256=:{E256}:;x=1"), &only256),
            (
                format!("md5=:AAAAAAAAAAAAAAAAAAAAAA==:, sha-256=:{E256}:"),
                &only256,
            ),
            (format!("id-sha-256=:{E256}:"), &none),
            // Other member values parse and are skipped.
            (
                format!(
                    "a=1, b=?0, c=\"x\\\"y\", d=tok/en, e=(1 2);q=1, f, g=1.5, sha-256=:{E256}:"
                ),
                &only256,
            ),
            // The last value of a repeated key wins (RFC 8941 §3.2).
            (format!("sha-256=:AAAA:, sha-256=:{E256}:"), &only256),
            // A value that is no byte sequence, or of the wrong length, is not a digest.
            (format!("sha-256=\"{E256}\""), &none),
            ("sha-256=:AAAA:".into(), &none),
            ("sha-256".into(), &none),
            // Not a dictionary: the whole field is ignored (RFC 8941 §4.2).
            (format!("sha-256=:{E256}"), &none),
            (format!("sha-256=:{E256}:,"), &none),
            (format!("SHA-256=:{E256}:"), &none),
            (format!("sha-256=:{E256}: sha-512=:{E512}:"), &none),
            (format!("sha-256=:{E256}:, ?"), &none),
            ("sha-256=:!!!!:".into(), &none),
            (String::new(), &none),
        ];
        for (value, want) in table {
            assert_eq!(&Digests::parse([value.as_str()]), want, "{value}");
        }
        // Field lines are joined with commas (RFC 8941 §4.2).
        let lines = [format!("sha-256=:{E256}:"), format!("sha-512=:{E512}:")];
        assert_eq!(Digests::parse(lines.iter().map(String::as_str)), both);
    }

    proptest::proptest! {
        /// Any field value parses without panicking, and a sha-256 of any bytes written the
        /// RFC 9530 way, among other members, reads back.
        #[test]
        fn any_value_parses_and_written_digests_read_back(
            noise in "\\PC{0,80}",
            digest in proptest::collection::vec(proptest::num::u8::ANY, 32),
            other in "[a-z][a-z0-9-]{0,8}",
        ) {
            let _ = Digests::parse([noise.as_str()]);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&digest);
            let value = format!("{other}=:AAAA:, sha-256=:{encoded}:;p=1");
            let parsed = Digests::parse([value.as_str()]);
            if other != "sha-256" && other != "sha-512" {
                proptest::prop_assert_eq!(parsed.sha256, Some(digest));
            }
        }
    }

    #[test]
    fn digests_agree_unless_one_algorithm_differs() {
        let a = Digests::parse([format!("sha-256=:{E256}:").as_str()]);
        let b = Digests::parse([format!("sha-512=:{E512}:").as_str()]);
        let other = Digests {
            sha256: Some(vec![0; 32]),
            sha512: None,
        };
        assert!(a.agree(&a) && a.agree(&b) && b.agree(&other) && a.agree(&Digests::default()));
        assert!(!a.agree(&other));
        assert_eq!(a.checksum().unwrap().algorithm, Algorithm::Sha256);
        assert_eq!(b.checksum().unwrap().algorithm, Algorithm::Sha512);
        let mut back = Digests::default();
        for (k, v) in a.encoded().chain(b.encoded()) {
            back.set_encoded(k, &v);
        }
        assert_eq!(
            back,
            Digests {
                sha256: a.sha256.clone(),
                sha512: b.sha512.clone()
            }
        );
    }
}

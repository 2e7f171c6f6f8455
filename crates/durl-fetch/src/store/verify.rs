//! Checksums: `--checksum ALGO=HEX`, verified over the finished part file before it gets its
//! final name, so a wrong file never appears under that name.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::str::FromStr;

use sha2::Digest;

/// A digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
    /// SHA-1 (only to check published legacy sums).
    Sha1,
    /// MD5 (only to check published legacy sums).
    Md5,
}

impl Algorithm {
    fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
            Algorithm::Sha1 => 20,
            Algorithm::Md5 => 16,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Sha1 => "sha1",
            Algorithm::Md5 => "md5",
        })
    }
}

/// An expected digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The expected digest bytes.
    pub expected: Vec<u8>,
}

/// Why a checksum argument does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid checksum {0:?}: expected ALGO=HEX with ALGO one of sha256, sha512, sha1, md5")]
pub struct ParseChecksumError(String);

impl FromStr for Checksum {
    type Err = ParseChecksumError;

    /// Parses `sha256=HEX` (also `sha-256=HEX`, as aria2 writes it; case-insensitive).
    fn from_str(s: &str) -> Result<Checksum, ParseChecksumError> {
        let bad = || ParseChecksumError(s.to_owned());
        let (algo, hex) = s.split_once('=').ok_or_else(bad)?;
        let algorithm = match algo.trim().to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            "sha1" => Algorithm::Sha1,
            "md5" => Algorithm::Md5,
            _ => return Err(bad()),
        };
        let expected = decode_hex(hex.trim()).ok_or_else(bad)?;
        if expected.len() != algorithm.digest_len() {
            return Err(bad());
        }
        Ok(Checksum {
            algorithm,
            expected,
        })
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.algorithm, hex(&self.expected))
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest of the file at `path`.
///
/// # Errors
/// Any I/O error reading the file.
pub fn digest_file(algorithm: Algorithm, path: &Path) -> io::Result<Vec<u8>> {
    fn run<D: Digest>(mut file: File) -> io::Result<Vec<u8>> {
        let mut hasher = D::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                return Ok(hasher.finalize().to_vec());
            }
            hasher.update(&buf[..n]);
        }
    }
    let file = File::open(path)?;
    match algorithm {
        Algorithm::Sha256 => run::<sha2::Sha256>(file),
        Algorithm::Sha512 => run::<sha2::Sha512>(file),
        Algorithm::Sha1 => run::<sha1::Sha1>(file),
        Algorithm::Md5 => run::<md5::Md5>(file),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_algo_equals_hex() {
        let sha256_abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let c: Checksum = format!("sha256={sha256_abc}").parse().unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.to_string(), format!("sha256={sha256_abc}"));
        let upper: Checksum = format!("SHA-256={}", sha256_abc.to_uppercase())
            .parse()
            .unwrap();
        assert_eq!(upper, c);
        for bad in [
            "sha256",
            "sha256=xyz",
            "sha256=abcd",
            "crc32=00000000",
            "md5=0123456789abcdef0123456789abcde",
            "",
        ] {
            assert!(bad.parse::<Checksum>().is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_known_vectors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        std::fs::write(&path, b"abc").unwrap();
        let table = [
            (
                Algorithm::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (Algorithm::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (Algorithm::Md5, "900150983cd24fb0d6963f7d28e17f72"),
            (
                Algorithm::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (algo, want) in table {
            assert_eq!(hex(&digest_file(algo, &path).unwrap()), want, "{algo}");
        }
    }
}

//! `durl serve DIR --upload` in a fresh temporary directory, with a source file beside it,
//! for the tus clients' tests.

use std::path::{Path, PathBuf};

use durl_testkit::pattern_bytes;

use crate::serve::Serve;

/// The unfinished uploads' data files in `durl serve`'s upload directory.
pub fn data_files(uploads: &Path) -> Vec<(String, u64)> {
    let Ok(entries) = std::fs::read_dir(uploads) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".data"))
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, e.metadata().unwrap().len())
        })
        .collect()
}

/// The layout: `DIR/source.bin` (the bytes to upload), `DIR/www` (served, where finished
/// uploads land) and `DIR/www/.durl-uploads` (unfinished ones); the server is killed on drop.
pub struct ServeUpload {
    pub dir: tempfile::TempDir,
    pub data: Vec<u8>,
    pub server: Serve,
}

impl ServeUpload {
    pub fn new(len: u64, seed: u64) -> Self {
        Self::with(len, seed, &[])
    }

    /// With more `durl serve` arguments, e.g. `--auth`.
    pub fn with(len: u64, seed: u64, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("www")).unwrap();
        let data = pattern_bytes(seed, 0..len);
        std::fs::write(dir.path().join("source.bin"), &data).unwrap();
        let args = [&["--upload", "-q"][..], extra].concat();
        let server = Serve::start(&dir.path().join("www"), &args);
        Self { dir, data, server }
    }

    pub fn endpoint(&self) -> String {
        self.server.url(".durl/uploads/")
    }

    pub fn source(&self) -> PathBuf {
        self.dir.path().join("source.bin")
    }

    pub fn uploads(&self) -> PathBuf {
        self.dir.path().join("www/.durl-uploads")
    }

    /// The served directory.
    pub fn www(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    pub fn served(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.path().join("www").join(name)).ok()
    }
}

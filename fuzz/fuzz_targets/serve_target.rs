//! durl serve's request-target resolution: the parsed path has no segment that could climb
//! out (`..` in any spelling, NUL, `\`), its normal form parses to itself, and opening it in a
//! tree that holds links to an outside directory never gives a file outside the root (the
//! open descriptor is checked through /proc/self/fd, not the path durl computed) unless
//! links may be followed.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use durl_serve::fuzzing::{self, Opened};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

struct Tree {
    _dir: tempfile::TempDir,
    /// Holds `www` (the root), `outside` and `www2`.
    base: PathBuf,
    root: PathBuf,
}

fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("durl-fuzz-target.")
            .tempdir()
            .unwrap();
        let base = dir.path().canonicalize().unwrap();
        let root = base.join("www");
        let outside = base.join("outside");
        for d in [&root, &outside, &root.join("sub/deeper"), &root.join("%2e")] {
            std::fs::create_dir_all(d).unwrap();
        }
        for f in [
            "a.txt",
            "sub/b.txt",
            "sub/deeper/c.txt",
            "sp ace",
            "%2e/x",
            "..a",
            "a\u{e9}",
        ] {
            std::fs::write(root.join(f), f).unwrap();
        }
        std::fs::write(outside.join("secret"), "secret").unwrap();
        std::fs::write(base.join("www2"), "sibling").unwrap();
        let link = |to: &Path, at: &str| std::os::unix::fs::symlink(to, root.join(at)).unwrap();
        link(&outside, "out");
        link(&outside.join("secret"), "secret");
        link(&outside.join("secret"), "sub/secret");
        link(Path::new("../outside"), "rel-out");
        link(Path::new("sub/b.txt"), "in");
        link(Path::new("sub"), "sub-link");
        link(Path::new(".."), "up");
        link(&base.join("www2"), "www2");
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("fifo"))
            .status()
            .unwrap();
        assert!(fifo.success());
        Tree {
            _dir: dir,
            base,
            root,
        }
    })
}

fuzz_target!(|input: (bool, &str)| {
    let (follow, raw) = input;
    // Mostly paths, as hyper hands them over (origin-form, no fragment).
    let path = if raw.starts_with('/') {
        raw.to_owned()
    } else {
        format!("/{raw}")
    };
    let t = tree();
    match fuzzing::parse_target(&path) {
        None => assert_eq!(
            fuzzing::open_target(&t.root, &path, follow),
            Opened::Refused
        ),
        Some(p) => {
            let decoded: Vec<u8> = percent_decode_str(&p.dir_href).collect();
            let segments: Vec<&[u8]> = decoded
                .split(|&b| b == b'/')
                .filter(|s| !s.is_empty())
                .collect();
            for s in &segments {
                assert!(*s != b"." && *s != b"..", "{path:?} -> {}", p.dir_href);
                assert!(!s.contains(&0) && !s.contains(&b'\\'), "{path:?}");
            }
            assert_eq!(p.is_root, segments.is_empty());
            assert!(p.dir_href.starts_with('/') && !p.dir_href.starts_with("//"));
            let again = fuzzing::parse_target(&p.dir_href).expect("normal form parses");
            assert_eq!(again.dir_href, p.dir_href);
            assert_eq!(again.file_href, p.file_href);
            // Without --follow-symlinks nothing outside the root; with it, the links lead
            // only as far as the tree.
            let allowed = if follow { &t.base } else { &t.root };
            match fuzzing::open_target(&t.root, &path, follow) {
                Opened::File(real) => {
                    assert!(real.starts_with(allowed), "{path:?} opened {real:?}");
                    assert!(!real.ends_with("fifo"));
                }
                Opened::Dir(dir) => {
                    assert!(dir.starts_with(allowed), "{path:?} listed {dir:?}");
                }
                Opened::Refused => {}
            }
        }
    }
});

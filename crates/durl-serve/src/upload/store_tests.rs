//! Unit tests of `store.rs`: recovery, the directory rules, finishing.
use super::*;

fn settings(dir: &Path) -> UploadSettings {
    UploadSettings {
        dir: Some(dir.to_owned()),
        ..UploadSettings::default()
    }
}

#[test]
fn recovery_cuts_undurable_bytes_and_finishes_complete_uploads() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir(&root).unwrap();
    let root = fs::canonicalize(root).unwrap();
    let dir = base.path().join("uploads");
    let store = Store::open(&root, settings(&dir)).unwrap();

    // A checkpoint at 3 bytes, then 4 more bytes that were never recorded.
    let a = store
        .create(
            Some(10),
            String::new(),
            Some("a.bin".into()),
            Destination::default(),
        )
        .unwrap();
    fs::write(store.data_path(&a.id), b"abcdefg").unwrap();
    store.checkpoint(&a, 3, Some(10)).unwrap();
    // Complete on disk but not yet moved (a crash before `finish`).
    let b = store
        .create(
            Some(2),
            String::new(),
            Some("b.bin".into()),
            Destination::default(),
        )
        .unwrap();
    fs::write(store.data_path(&b.id), b"hi").unwrap();
    store.checkpoint(&b, 2, Some(2)).unwrap();
    // A data file without a record, and a temporary record.
    fs::write(dir.join(format!("{}.data", "f".repeat(32))), b"x").unwrap();
    fs::write(dir.join(format!("{}.info.tmp", a.id)), b"junk").unwrap();
    drop(store);

    let store = Store::open(&root, settings(&dir)).unwrap();
    let a = store.lookup(&a.id).unwrap();
    assert_eq!(a.info().offset, 3);
    assert_eq!(fs::read(store.data_path(&a.id)).unwrap(), b"abc");
    let b = store.lookup(&b.id).unwrap();
    assert_eq!(b.info().done.as_deref(), Some("b.bin"));
    assert_eq!(fs::read(root.join("b.bin")).unwrap(), b"hi");
    let mut left: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut want = vec![
        format!("{}.data", a.id),
        format!("{}.info", a.id),
        format!("{}.info", b.id),
    ];
    want.sort();
    assert_eq!(left, want);
}

#[test]
fn the_upload_dir_must_not_overlap_the_root() {
    let base = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(base.path()).unwrap();
    let inside = root.join("sub");
    assert!(matches!(
        Store::open(&root, settings(&inside)),
        Err(ServeError::UploadDirOverlapsRoot { .. })
    ));
    assert!(!inside.exists(), "nothing created inside the root");
    fs::create_dir(root.join("www")).unwrap();
    assert!(matches!(
        Store::open(&root.join("www"), settings(&root)),
        Err(ServeError::UploadDirOverlapsRoot { .. })
    ));
    assert_eq!(
        legacy_dir(Path::new("/srv/www")),
        Some(PathBuf::from("/srv/.www.durl-uploads"))
    );
    assert_eq!(legacy_dir(Path::new("/")), None);
}

#[test]
fn finishing_never_overwrites_unless_asked() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("www");
    fs::create_dir(&root).unwrap();
    let root = fs::canonicalize(root).unwrap();
    fs::write(root.join("a.txt"), b"old").unwrap();
    let store = Store::open(&root, settings(&base.path().join("u"))).unwrap();
    let up = store
        .create(
            Some(3),
            String::new(),
            Some("a.txt".into()),
            Destination::default(),
        )
        .unwrap();
    fs::write(store.data_path(&up.id), b"new").unwrap();
    store.checkpoint(&up, 3, Some(3)).unwrap();
    assert_eq!(
        store.finish(&up).unwrap().done.as_deref(),
        Some("a (1).txt")
    );
    assert_eq!(fs::read(root.join("a.txt")).unwrap(), b"old");
    assert_eq!(fs::read(root.join("a (1).txt")).unwrap(), b"new");

    let overwrite = UploadSettings {
        overwrite: true,
        ..settings(&base.path().join("u"))
    };
    let store = Store::open(&root, overwrite).unwrap();
    let up = store
        .create(
            Some(3),
            String::new(),
            Some("a.txt".into()),
            Destination {
                replace: true,
                ..Destination::default()
            },
        )
        .unwrap();
    fs::write(store.data_path(&up.id), b"new").unwrap();
    store.checkpoint(&up, 3, Some(3)).unwrap();
    assert_eq!(store.finish(&up).unwrap().done.as_deref(), Some("a.txt"));
    assert_eq!(fs::read(root.join("a.txt")).unwrap(), b"new");
}

//! Where a finished upload lands (issue 13 items 3 and 4): never through a link planted by
//! another local user, and always somewhere, whatever its name or what holds it.

use std::os::unix::fs::MetadataExt as _;

use reqwest::StatusCode;

use crate::harness::{Server, bounded};
use crate::tus::{create, patch};

/// Item 3: with the upload directory on another file system, finishing copies the data into
/// the served directory. A local user who can write there plants a link where the old code
/// put its temporary (`.NAME.durl-upload.tmp`), pointing at a file of the server's user: the
/// upload must neither write through the link nor leave a link under the final name.
#[tokio::test]
async fn a_planted_temporary_link_is_never_followed_across_file_systems() {
    bounded(async {
        // /dev/shm is a tmpfs: another file system than the temporary directory's.
        let elsewhere = tempfile::tempdir_in("/dev/shm").expect("a tmpfs at /dev/shm");
        let victim = elsewhere.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        let uploads = elsewhere.path().join("uploads");
        let server = Server::start(
            |root| {
                let planted = root.join(".report.txt.durl-upload.tmp");
                std::os::unix::fs::symlink(&victim, planted).unwrap();
            },
            |c| c.uploads(true).upload_dir(&uploads),
        )
        .await;
        let devices = |p: &std::path::Path| std::fs::metadata(p).unwrap().dev();
        assert_ne!(
            devices(&server.root),
            devices(elsewhere.path()),
            "two file systems"
        );

        let path = create(&server, 6, "report.txt").await;
        let r = patch(&server, &path, 0, b"upload").await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        let placed = server.root.join("report.txt");
        assert!(std::fs::symlink_metadata(&placed).unwrap().is_file());
        assert_eq!(std::fs::read(&placed).unwrap(), b"upload");
        // Nothing left behind but the planted link (ours are removed or renamed).
        let mut names: Vec<String> = std::fs::read_dir(&server.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".report.txt.durl-upload.tmp", "report.txt"]);
        server.stop().await;
    })
    .await;
}

/// Item 4: a complete upload whose name cannot be used as it is still gets a name: a
/// 254-byte name taken meanwhile (its numbered variant would be too long), and `--overwrite`
/// onto a directory.
#[tokio::test]
async fn a_complete_upload_always_gets_a_name() {
    bounded(async {
        let long = format!("{}.txt", "é".repeat(125));
        assert_eq!(long.len(), 254);
        let server = Server::start(|_| {}, |c| c.uploads(true)).await;
        let path = create(&server, 4, &long).await;
        std::fs::write(server.root.join(&long), b"first").unwrap();
        let r = patch(&server, &path, 0, b"long").await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let placed: Vec<_> = std::fs::read_dir(&server.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(" (1).txt"))
            .collect();
        assert_eq!(placed.len(), 1, "{placed:?}");
        assert!(placed[0].len() <= 255);
        assert_eq!(
            std::fs::read(server.root.join(&placed[0])).unwrap(),
            b"long"
        );
        assert_eq!(std::fs::read(server.root.join(&long)).unwrap(), b"first");
        server.stop().await;

        let server = Server::start(
            |root| {
                std::fs::create_dir(root.join("d")).unwrap();
                std::fs::write(root.join("d/inner"), b"kept").unwrap();
            },
            |c| c.uploads(true).overwrite(true),
        )
        .await;
        let path = create(&server, 4, "d").await;
        let r = patch(&server, &path, 0, b"over").await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(std::fs::read(server.root.join("d (1)")).unwrap(), b"over");
        assert_eq!(std::fs::read(server.root.join("d/inner")).unwrap(), b"kept");
        server.stop().await;
    })
    .await;
}

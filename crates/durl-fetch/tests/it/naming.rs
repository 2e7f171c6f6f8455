//! Output names chosen from the server's answer or the URL never leave the directory.

use durl_testkit::{FaultServer, Resource};

use crate::support::*;

async fn name_for(path: &str, disposition: Option<&str>) -> (tempfile::TempDir, Vec<String>) {
    let server = FaultServer::start();
    let mut res = Resource::pattern(SEED, 1000);
    if let Some(d) = disposition {
        res = res.with_content_disposition(d);
    }
    server.put(path, res);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("downloads");
    std::fs::create_dir(&dir).unwrap();
    let req = durl_fetch::GetRequest::new(&server.url(path))
        .unwrap()
        .dir(&dir);
    let outcome = durl_fetch::get(&req, &()).await.unwrap();
    assert_eq!(std::fs::read(&outcome.path).unwrap(), expected(1000));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // Nothing was written beside the download directory.
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
    (root, names)
}

#[tokio::test]
async fn content_disposition_names_the_file() {
    let (_t, names) = name_for("/dl", Some("attachment; filename=\"report.pdf\"")).await;
    assert_eq!(names, ["report.pdf"]);
    let (_t, names) = name_for(
        "/dl",
        Some("attachment; filename=\"x\"; filename*=UTF-8''%E2%82%AC%20rates.txt"),
    )
    .await;
    assert_eq!(names, ["€ rates.txt"]);
}

#[tokio::test]
async fn traversal_names_from_the_server_stay_inside_the_directory() {
    for evil in [
        "attachment; filename=\"../../evil.sh\"",
        "attachment; filename=\"/etc/evil.sh\"",
        "attachment; filename*=UTF-8''..%2F..%2Fevil.sh",
        "attachment; filename=\"..\\\\..\\\\evil.sh\"",
    ] {
        let (_t, names) = name_for("/dl", Some(evil)).await;
        assert_eq!(names, ["evil.sh"], "{evil}");
    }
    let (_t, names) = name_for("/dl", Some("attachment; filename=\"..\"")).await;
    assert_eq!(names, ["dl"]);
}

#[tokio::test]
async fn the_url_names_the_file_when_the_server_does_not() {
    let (_t, names) = name_for("/files/some%20file.tar.gz", None).await;
    assert_eq!(names, ["some file.tar.gz"]);
    let (_t, names) = name_for("/files/", None).await;
    assert_eq!(names, ["index.html"]);
}

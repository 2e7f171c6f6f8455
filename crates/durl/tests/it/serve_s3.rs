//! `durl serve s3://BUCKET/PREFIX` as a user runs it: keys and endpoint from the standard AWS
//! variables, objects put by curl (`--aws-sigv4`) into a real store (SeaweedFS) and fetched
//! with `durl get -x 4`; bad storage arguments exit 2 with one line.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use durl_testkit::{S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, SeaweedFs, pattern_bytes};

use crate::durl;
use crate::serve::{Serve, raw_get, text, wait_within};

/// `durl` with the store's key, region and endpoint in the standard variables.
fn durl_for(dir: &Path, store: &SeaweedFs) -> Command {
    let mut cmd = durl(dir);
    cmd.env("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        .env("AWS_REGION", S3_REGION)
        .env("AWS_ENDPOINT_URL", store.endpoint());
    cmd
}

/// Puts `file` at `key` with curl's own SigV4 signing: a client nobody here wrote.
fn curl_put(store: &SeaweedFs, file: &Path, key: &str) {
    let status = Command::new("curl")
        .args(["-sS", "--fail", "--noproxy", "*", "--aws-sigv4"])
        .arg(format!("aws:amz:{S3_REGION}:s3"))
        .arg("--user")
        .arg(format!("{S3_ACCESS_KEY}:{S3_SECRET_KEY}"))
        .arg("-T")
        .arg(file)
        .arg(format!("{}/{}/{key}", store.endpoint(), store.bucket()))
        .status()
        .expect("curl");
    assert!(status.success(), "curl put {key}: {status}");
}

#[test]
fn serves_a_bucket_prefix_from_the_aws_variables() {
    let store = SeaweedFs::start("durl");
    let dir = tempfile::tempdir().unwrap();
    let content = pattern_bytes(5, 0..(6 << 20) + 7);
    let local = dir.path().join("src.bin");
    std::fs::write(&local, &content).unwrap();
    curl_put(&store, &local, "site/files/big.bin");

    let url = format!("s3://{}/site", store.bucket());
    let server = Serve::start_cmd(durl_for(dir.path(), &store), Path::new(&url), &["--quiet"]);
    let answer = raw_get(&server.addr, "/files/big.bin", &["Range: bytes=10-19"]);
    assert_eq!(answer.status, 206, "{}", answer.head);
    assert_eq!(answer.body, content[10..20]);
    let answer = raw_get(&server.addr, "/files/", &["Accept: application/json"]);
    assert_eq!(answer.status, 200, "{}", answer.head);
    assert!(text(&answer.body).contains("\"big.bin\""));

    // durl's own client, split over four connections.
    let mut child = durl(dir.path())
        .args(["get", "-q", "-x", "4", "-o", "out.bin"])
        .arg(server.url("files/big.bin"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_within(&mut child, Duration::from_secs(120));
    let out = child.wait_with_output().unwrap();
    assert!(status.success(), "{}", text(&out.stderr));
    assert!(std::fs::read(dir.path().join("out.bin")).unwrap() == content);
    let (status, _, _) = server.terminate(Duration::from_secs(20));
    assert!(status.success());
}

/// Arguments, extra variables, a word the error line must hold.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn bad_storage_arguments_exit_2_with_one_line() {
    let store = SeaweedFs::start("durl");
    let dir = tempfile::tempdir().unwrap();
    #[rustfmt::skip]
    let cases: &[Case] = &[
        (&["s3://Bad_Bucket"], &[], "Bad_Bucket"),
        (&["s3://durl/a/../b"], &[], ".."),
        (&["s3://durl", "--s3-endpoint", "http://192.0.2.1:9000"], &[], "192.0.2.1"),
        (&["s3://durl"], &[("AWS_SECRET_ACCESS_KEY", "")], "AWS_ACCESS_KEY_ID"),
        (&["s3://durl"], &[("AWS_SECRET_ACCESS_KEY", "wrong")], "s3://durl"),
        (&["s3://no-such-bucket"], &[], "s3://no-such-bucket"),
        (&["s3://durl", "--upload"], &[], "upload"),
    ];
    for (args, vars, word) in cases {
        let mut cmd = durl_for(dir.path(), &store);
        cmd.envs(vars.iter().copied());
        let mut child = cmd
            .arg("serve")
            .args(*args)
            .args(["--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_within(&mut child, Duration::from_secs(60));
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("durl: "), "{args:?}: {stderr}");
        assert!(stderr.contains(word), "{args:?}: {stderr}");
        assert!(!stderr.contains(S3_SECRET_KEY), "{args:?}: {stderr}");
    }
}

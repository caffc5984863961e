//! aws-cli `s3 mb/cp/ls/sync/rm/rb` against the facade: a 50 MiB file (a multipart upload of 8 MiB parts)
//! and a tree of 200 files, each compared byte for byte after the round trip.

use std::path::Path;
use std::time::Duration;

use crate::support::{clients, make_tree, read_tree, run, s3_cluster, ACCESS, SECRET};

async fn aws(tool: &Path, endpoint: &str, home: &str, args: &[&str]) -> (bool, String) {
    let mut all = vec!["--endpoint-url", endpoint];
    all.extend_from_slice(args);
    // no progress meter on transfers: its carriage-return lines bury a failure's message in the output
    if matches!(args.get(1), Some(&("cp" | "sync" | "mv"))) {
        all.push("--no-progress");
    }
    run(
        tool,
        &all,
        &[
            ("AWS_ACCESS_KEY_ID", ACCESS),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("HOME", home),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ],
        Duration::from_secs(600),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aws_cli_copies_syncs_lists_and_removes() {
    let Some(tools) = clients() else { return };
    let (c, endpoint) = s3_cluster().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let home = dir.path().to_str().expect("utf-8");
    let cli = |args: Vec<String>| {
        let (aws_path, endpoint, home) = (tools.aws.clone(), endpoint.clone(), home.to_string());
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            aws(&aws_path, &endpoint, &home, &args).await
        }
    };
    let arg = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let path = |p: &Path| p.to_str().expect("utf-8").to_string();

    assert!(cli(arg(&["s3", "mb", "s3://cli-bucket"])).await.0);

    // 50 MiB: above aws-cli's 8 MiB threshold, so a multipart upload and a ranged parallel download
    let big = dir.path().join("big.bin");
    let data: Vec<u8> = (0..50u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&big, &data).expect("write");
    let (ok, out) = cli(vec![
        "s3".into(),
        "cp".into(),
        path(&big),
        "s3://cli-bucket/big.bin".into(),
    ])
    .await;
    assert!(ok, "{out}");
    let back = dir.path().join("big.back");
    let (ok, out) = cli(vec![
        "s3".into(),
        "cp".into(),
        "s3://cli-bucket/big.bin".into(),
        path(&back),
    ])
    .await;
    assert!(ok, "{out}");
    assert!(
        std::fs::read(&back).expect("read") == data,
        "50 MiB round trip differs"
    );

    // a tree of 200 files: sync up, list, sync down
    let tree = dir.path().join("tree");
    make_tree(&tree, 200);
    let (ok, out) = cli(vec![
        "s3".into(),
        "sync".into(),
        path(&tree),
        "s3://cli-bucket/tree/".into(),
    ])
    .await;
    assert!(ok, "{out}");
    let (ok, listing) = cli(arg(&["s3", "ls", "--recursive", "s3://cli-bucket/tree/"])).await;
    assert!(ok, "{listing}");
    assert_eq!(
        listing.lines().filter(|l| l.contains("tree/")).count(),
        200,
        "{listing}"
    );
    let down = dir.path().join("down");
    let (ok, out) = cli(vec![
        "s3".into(),
        "sync".into(),
        "s3://cli-bucket/tree/".into(),
        path(&down),
    ])
    .await;
    assert!(ok, "{out}");
    assert!(
        read_tree(&down) == read_tree(&tree),
        "the synced tree differs"
    );
    // a second sync has nothing to upload
    let (ok, again) = cli(vec![
        "s3".into(),
        "sync".into(),
        path(&tree),
        "s3://cli-bucket/tree/".into(),
    ])
    .await;
    assert!(ok && !again.contains("upload:"), "{again}");

    assert!(
        cli(arg(&["s3", "rm", "--recursive", "s3://cli-bucket/"]))
            .await
            .0
    );
    let (ok, out) = cli(arg(&["s3", "rb", "s3://cli-bucket"])).await;
    assert!(ok, "{out}");
    let (ok, _) = cli(arg(&["s3", "ls", "s3://cli-bucket"])).await;
    assert!(!ok, "the bucket is gone");
    c.stop().await;
}

//! rclone `copy`, `check` and `sync` of a 200-file tree through the facade, under a timeout (rclone retries
//! 5xx answers for minutes, so a wrong 5xx shows up as a timeout here).

use std::path::Path;
use std::time::Duration;

use crate::support::{clients, make_tree, run, s3_cluster, ACCESS, SECRET};

async fn rclone(tool: &Path, endpoint: &str, args: &[&str]) -> (bool, String) {
    let mut all = args.to_vec();
    all.extend_from_slice(&[
        "--retries",
        "1",
        "--low-level-retries",
        "2",
        "--config",
        "/dev/null",
    ]);
    run(
        tool,
        &all,
        &[
            ("RCLONE_CONFIG_MX_TYPE", "s3"),
            ("RCLONE_CONFIG_MX_PROVIDER", "Other"),
            ("RCLONE_CONFIG_MX_ACCESS_KEY_ID", ACCESS),
            ("RCLONE_CONFIG_MX_SECRET_ACCESS_KEY", SECRET),
            ("RCLONE_CONFIG_MX_ENDPOINT", endpoint),
            ("RCLONE_CONFIG_MX_REGION", "us-east-1"),
            ("RCLONE_CONFIG_MX_FORCE_PATH_STYLE", "true"),
        ],
        Duration::from_secs(300),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rclone_copies_checks_and_syncs_a_tree() {
    let Some(tools) = clients() else { return };
    let (c, endpoint) = s3_cluster().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let tree = dir.path().join("tree");
    make_tree(&tree, 200);
    let t = tree.to_str().expect("utf-8");
    let rc = |args: Vec<&'static str>| {
        let (tool, endpoint) = (tools.rclone.clone(), endpoint.clone());
        let t = t.to_string();
        async move {
            let args: Vec<&str> = args
                .iter()
                .map(|a| if *a == "TREE" { t.as_str() } else { a })
                .collect();
            rclone(&tool, &endpoint, &args).await
        }
    };
    let (ok, out) = rc(vec!["mkdir", "mx:rclone-bucket"]).await;
    assert!(ok, "{out}");
    let (ok, out) = rc(vec!["copy", "TREE", "mx:rclone-bucket/tree"]).await;
    assert!(ok, "{out}");
    // check compares sizes and the MD5 of every file against the ETags
    let (ok, out) = rc(vec!["check", "TREE", "mx:rclone-bucket/tree"]).await;
    assert!(ok && out.contains("0 differences found"), "{out}");

    // change the tree: one file removed, one changed, one added; sync makes the bucket equal again
    std::fs::remove_file(tree.join("d0/sub 0/f.0.txt")).expect("remove");
    std::fs::write(tree.join("d1/sub 1/f.1.txt"), b"changed").expect("change");
    std::fs::write(tree.join("new file.txt"), b"new").expect("add");
    let (ok, out) = rc(vec!["sync", "TREE", "mx:rclone-bucket/tree"]).await;
    assert!(ok, "{out}");
    let (ok, out) = rc(vec!["check", "TREE", "mx:rclone-bucket/tree"]).await;
    assert!(ok && out.contains("0 differences found"), "{out}");
    let (ok, out) = rc(vec!["lsf", "-R", "--files-only", "mx:rclone-bucket/tree"]).await;
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.ends_with(".txt")).count(),
        200,
        "{out}"
    );
    c.stop().await;
}

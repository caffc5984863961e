//! s3s' own end-to-end suite, `s3s-e2e --filter '^Basic'` (the AWS Rust SDK against the facade: buckets,
//! listings, gets, heads, deletes, puts with metadata, non-ASCII metadata, larger bodies and an SDK checksum
//! echoed back). The binary comes from `MICTLANX_S3S_E2E` (a path) or the PATH; `.ci/run` installs it.

use std::time::Duration;

use mictlanx_testkit::tools::require_tool;

use crate::support::{run, s3_cluster, ACCESS, SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3s_e2e_basic_passes() {
    let name = std::env::var("MICTLANX_S3S_E2E").unwrap_or_else(|_| "s3s-e2e".into());
    let Some(e2e) = require_tool(&name) else {
        return;
    };
    let (c, endpoint) = s3_cluster().await;
    let env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", ACCESS),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "us-east-1"),
        ("RUST_BACKTRACE", "0"),
    ];
    let (ok, out) = run(
        &e2e,
        &["--filter", "^Basic"],
        &env,
        Duration::from_secs(300),
    )
    .await;
    assert!(ok, "s3s-e2e failed:\n{out}");
    assert!(out.contains("PASSED") && !out.contains("FAILED"), "{out}");
    c.stop().await;
}

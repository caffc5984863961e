//! boto3 against the facade: every check of `boto3_suite.py` (buckets; put/get/head/delete of unicode,
//! `/` and dotted keys; ranges and conditional reads; user metadata; listings with prefix, delimiter,
//! markers, url encoding and 2500-key pagination; copy; DeleteObjects; presigned GET and PUT; a wrong
//! signature is 403; a missing key or a "folder" prefix is 404).

use std::time::Duration;

use crate::support::{clients, run_suite, s3_cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn boto3_suite_passes() {
    let Some(tools) = clients() else { return };
    let (c, endpoint) = s3_cluster().await;
    run_suite(
        &tools.python,
        "boto3_suite.py",
        &endpoint,
        Duration::from_secs(900),
    )
    .await;
    // the operations are counted by name, never by key
    let metrics = c.client.metrics().await;
    assert!(
        metrics
            .contains("mictlanx_router_s3_requests_total{operation=\"PutObject\",outcome=\"ok\"}"),
        "no PutObject series"
    );
    assert!(!metrics.contains("many/"), "a key leaked into the metrics");
    c.stop().await;
}

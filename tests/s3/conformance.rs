//! The S3 edge cases ceph/s3-tests checks, with boto3 (`conformance_suite.py`): listings (empty delimiter,
//! fetch-owner, v1 prefix), ListBuckets paging, bucket naming and location, UploadPartCopy and its ranges,
//! copy-source conditions, conditional writes and deletes, the DeleteObjects limit, GET/HEAD of one part,
//! request ids and 304 headers, presigned URL lifetimes, the connection ending after an early error, and `NotImplemented` (501) for what the space does not have.

use std::time::Duration;

use crate::support::{clients, run_suite, s3_cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conformance_suite_passes() {
    let Some(tools) = clients() else { return };
    let (c, endpoint) = s3_cluster().await;
    let out = run_suite(
        &tools.python,
        "conformance_suite.py",
        &endpoint,
        Duration::from_secs(600),
    )
    .await;
    assert!(out.contains("ok not_implemented"), "{out}");
    // the new operations are counted under their own names
    let metrics = c.client.metrics().await;
    assert!(
        metrics.contains(
            "mictlanx_router_s3_requests_total{operation=\"UploadPartCopy\",outcome=\"ok\"}"
        ),
        "no UploadPartCopy series"
    );
    c.stop().await;
}

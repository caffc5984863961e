//! S3 object attributes with boto3 (`attributes_suite.py`): the content headers (`Cache-Control`,
//! `Content-Disposition`, `Content-Encoding`, `Content-Language`, `Expires`) kept by PutObject, CopyObject
//! and CreateMultipartUpload and returned by GetObject and HeadObject, with the `response-*` overrides;
//! GetObjectAttributes of a plain and a multipart object (unquoted ETag, size, storage class, parts paged
//! by `MaxParts`/`PartNumberMarker`, `NoSuchKey`); ListMultipartUploads in S3 order, paged by hand and by
//! boto3's paginator, with prefix, delimiter and markers.

use std::time::Duration;

use crate::support::{clients, run_suite, s3_cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn attributes_suite_passes() {
    let Some(tools) = clients() else { return };
    let (c, endpoint) = s3_cluster().await;
    let out = run_suite(
        &tools.python,
        "attributes_suite.py",
        &endpoint,
        Duration::from_secs(600),
    )
    .await;
    assert!(out.contains("ok content_headers\n"), "{out}");
    assert!(out.contains("ok object_attributes_of_multipart"), "{out}");
    assert!(out.contains("ok list_multipart_uploads_paged"), "{out}");
    c.stop().await;
}

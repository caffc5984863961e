//! What one S3 request costs in MictlanX requests, counted on the router's HTTP metrics (the facade's
//! inner calls go through the router's own route table): a GetObject is one MictlanX GET and no metadata
//! request; a PutObject with `Content-MD5` writes its ETag with the object, one without records it with
//! one metadata update after the commit (the body is streamed, never held whole). Either way the ETag (the
//! MD5 of the bytes) reads back at once.

use md5::{Digest, Md5};
use mictlanx_testkit::cluster::Cluster;

use crate::support::{clients, s3_cluster, s3cli};

const OBJECT: &str = "handler=\"/api/v4/buckets/{bucket_id}/{key}\"";
const OBJECT_METADATA: &str = "handler=\"/api/v4/buckets/{bucket_id}/metadata/{key}\"";
const PUT_METADATA: &str = "handler=\"/api/v4/buckets/{bucket_id}/metadata\"";
const PUT_CHUNKED: &str = "handler=\"/api/v4/buckets/data/{task_id}/chunked\"";
const UPDATE_METADATA: &str = "handler=\"/api/v4/u/buckets/{bucket_id}/{key}\"";

/// MictlanX requests so far, per route (and method), over every status.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Calls {
    get: f64,
    metadata: f64,
    open: f64,
    upload: f64,
    update: f64,
}

async fn calls(c: &Cluster) -> Calls {
    let text = c.client.metrics().await;
    let sum = |route: &str, method: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with("http_requests_total{"))
            .filter(|l| l.contains(route) && l.contains(&format!("method=\"{method}\"")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    Calls {
        get: sum(OBJECT, "GET"),
        metadata: sum(OBJECT_METADATA, "GET"),
        open: sum(PUT_METADATA, "POST"),
        upload: sum(PUT_CHUNKED, "POST"),
        update: sum(UPDATE_METADATA, "POST"),
    }
}

fn delta(after: Calls, before: Calls) -> Calls {
    Calls {
        get: after.get - before.get,
        metadata: after.metadata - before.metadata,
        open: after.open - before.open,
        upload: after.upload - before.upload,
        update: after.update - before.update,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_get_is_one_mictlanx_call_and_a_put_with_content_md5_needs_no_etag_update() {
    let Some(tools) = clients() else { return };
    let (c, s3) = s3_cluster().await;
    let py = &tools.python;
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(s3cli(py, &s3, &["mb", "calls"]).await.0);

    // (key, size, s3cli action, MictlanX metadata updates its PUT makes)
    let cases = [
        ("small", 100_000usize, "put", 1.0),
        ("small-md5", 100_000, "put-md5", 0.0),
        ("large", 1_100_000, "put", 1.0),
        ("large-md5", 1_100_000, "put-md5", 0.0),
    ];
    for (key, size, put, updates) in cases {
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let md5 = format!("\"{}\"", hex::encode(Md5::digest(&data)));
        let file = dir.path().join(key);
        std::fs::write(&file, &data).expect("write");
        let f = file.to_str().expect("utf-8");

        let before = calls(&c).await;
        let (ok, out) = s3cli(py, &s3, &[put, "calls", key, f]).await;
        assert!(ok && out.contains(&md5), "{key}: {out}");
        let put = delta(calls(&c).await, before);
        let want = Calls {
            open: 1.0,
            upload: 1.0,
            update: updates,
            ..Calls::default()
        };
        assert_eq!(put, want, "{key}: the MictlanX requests of one PutObject");

        // read-after-write of the ETag
        let (ok, out) = s3cli(py, &s3, &["head", "calls", key]).await;
        assert!(ok && out.contains(&md5), "{key}: {out}");

        let before = calls(&c).await;
        let back = dir.path().join(format!("{key}.back"));
        let b = back.to_str().expect("utf-8");
        assert!(s3cli(py, &s3, &["get", "calls", key, b]).await.0);
        assert_eq!(std::fs::read(&back).expect("read"), data, "{key}");
        let get = delta(calls(&c).await, before);
        let want = Calls {
            get: 1.0,
            ..Calls::default()
        };
        assert_eq!(get, want, "{key}: the MictlanX requests of one GetObject");
    }

    // a missing key is one GET too (the bucket is looked up in the registry, not through the API)
    let before = calls(&c).await;
    let missing = dir.path().join("missing");
    let m = missing.to_str().expect("utf-8");
    let (ok, out) = s3cli(py, &s3, &["get", "calls", "nope", m]).await;
    assert!(!ok && out.contains("NoSuchKey"), "{out}");
    let get = delta(calls(&c).await, before);
    assert_eq!(get.get, 1.0, "{get:?}");
    assert_eq!(get.metadata, 0.0, "{get:?}");
    c.stop().await;
}

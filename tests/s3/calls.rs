//! What one S3 request costs in MictlanX requests, counted on the router's HTTP metrics (the facade's
//! inner calls go through the router's own route table): a GetObject is one MictlanX GET and no metadata
//! request; a PutObject is one placement and one upload, its ETag written with the object: from
//! `Content-MD5` before the body, or else after the body's last bytes as the upload's `Late-Tags` trailer
//! (the body is streamed, never held whole). Only when a holder does not take the trailer (an original
//! MictlanX peer) is it recorded by one metadata update after the commit. Either way the ETag (the MD5 of
//! the bytes) reads back at once.

use std::path::Path;

use md5::{Digest, Md5};
use mictlanx_testkit::cluster::{peer_info, Cluster};
use mictlanx_testkit::peer::get_json;
use mictlanx_testkit::Peer;

use crate::support::{clients, enable_s3, endpoint, s3_cluster, s3cli};

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
async fn a_get_is_one_mictlanx_call_and_a_put_needs_no_etag_update() {
    let Some(tools) = clients() else { return };
    let (c, s3) = s3_cluster().await;
    let py = &tools.python;
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(s3cli(py, &s3, &["mb", "calls"]).await.0);

    // (key, size, s3cli action, MictlanX metadata updates its PUT makes)
    let cases = [
        ("small", 100_000usize, "put", 0.0),
        ("small-md5", 100_000, "put-md5", 0.0),
        ("large", 1_100_000, "put", 0.0),
        ("large-md5", 1_100_000, "put-md5", 0.0),
    ];
    for (key, size, put, updates) in cases {
        let data = put_and_count(&c, py, &s3, dir.path(), (key, size, put), updates).await;

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

/// PutObject of `size` bytes under `key` in bucket `calls` (s3cli action `put` or `put-md5`), asserting one
/// placement, one upload and `updates` metadata updates, and the ETag right away; the bytes written.
async fn put_and_count(
    c: &Cluster,
    py: &Path,
    s3: &str,
    dir: &Path,
    (key, size, put): (&str, usize, &str),
    updates: f64,
) -> Vec<u8> {
    let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let md5 = format!("\"{}\"", hex::encode(Md5::digest(&data)));
    let file = dir.join(key);
    std::fs::write(&file, &data).expect("write");
    let f = file.to_str().expect("utf-8");

    let before = calls(c).await;
    let (ok, out) = s3cli(py, s3, &[put, "calls", key, f]).await;
    assert!(ok && out.contains(&md5), "{key}: {out}");
    let put = delta(calls(c).await, before);
    let want = Calls {
        open: 1.0,
        upload: 1.0,
        update: updates,
        ..Calls::default()
    };
    assert_eq!(put, want, "{key}: the MictlanX requests of one PutObject");

    // read-after-write of the ETag
    let (ok, out) = s3cli(py, s3, &["head", "calls", key]).await;
    assert!(ok && out.contains(&md5), "{key}: {out}");
    data
}

/// A holder that does not take the `Late-Tags` trailer (an original MictlanX peer) gets the ETag by a
/// metadata update: one real peer, and one behind a proxy that forwards bodies without their trailers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_holder_without_late_tags_gets_the_etag_by_an_update() {
    let Some(tools) = clients() else { return };
    let root = tempfile::tempdir().expect("temp dir");
    let hidden = Peer::in_process("old0", root.path()).await;
    let proxy = without_trailers(&hidden).await;
    let c = Cluster::builder()
        .peers(1)
        .extra_seed(vec![peer_info("old0", proxy)])
        .config(enable_s3)
        .start()
        .await;
    let s3 = endpoint(c.app().s3_addr.expect("S3 is on"));
    let py = &tools.python;
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(s3cli(py, &s3, &["mb", "calls"]).await.0);
    for (key, size) in [("small", 100_000usize), ("large", 1_100_000)] {
        let data = put_and_count(&c, py, &s3, dir.path(), (key, size, "put"), 1.0).await;
        // the copy behind the proxy holds the bytes and, by the update, the ETag
        let (status, body) = hidden.get_direct("calls", key).await;
        assert_eq!((status, body.len()), (200, data.len()), "{key} on old0");
        let path = format!("/api/v4/buckets/calls/metadata/{key}");
        let (status, meta) = get_json(&c.http, hidden.server(), &path).await;
        assert_eq!(status, 200, "{meta}");
        let etag = hex::encode(Md5::digest(&data));
        assert_eq!(meta["metadata"]["tags"]["s3.etag"], etag.as_str(), "{meta}");
    }
    c.stop().await;
}

/// The port of a proxy in front of `real` that forwards every request and answer, bodies as plain bytes:
/// no `Trailer` header and no trailers reach the peer, as with a peer that does not know them.
async fn without_trailers(real: &Peer) -> u16 {
    use axum::body::Body;
    use axum::extract::{Request, State};
    use axum::response::Response;
    async fn forward(State(base): State<String>, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let http = mictlanx_testkit::peer::http_client();
        let mut out = http.request(parts.method, format!("{base}{}", parts.uri));
        for (name, value) in &parts.headers {
            if !matches!(name.as_str(), "host" | "trailer" | "transfer-encoding") {
                out = out.header(name, value);
            }
        }
        let body = reqwest::Body::wrap_stream(body.into_data_stream());
        let res = out.body(body).send().await.expect("the peer answers");
        let mut back = Response::builder().status(res.status().as_u16());
        for (name, value) in res.headers() {
            if name.as_str() != "transfer-encoding" {
                back = back.header(name.as_str(), value.as_bytes());
            }
        }
        back.body(Body::from_stream(res.bytes_stream()))
            .expect("a valid answer")
    }
    let app = axum::Router::new()
        .fallback(forward)
        .with_state(real.base_url());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

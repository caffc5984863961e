//! Minimal two-phase write round trip against an in-process peer.
mod common;

use common::peer::{http_client, spawn_peer};
use serde_json::{json, Value};

#[tokio::test]
async fn two_phase_put_then_get() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p0", dir.path()).await;
    let c = http_client();
    let base = peer.base_url();
    let r = c
        .post(format!("{base}/api/v4/buckets/b1/metadata"))
        .json(&json!({"key":"k1","size":5,"checksum":"abc","producer_id":"me","tags":{"x":"y"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let task = v["task_id"].as_str().unwrap().to_string();
    assert!(v["service_time"].is_u64());
    let r = c
        .post(format!("{base}/api/v4/buckets/data/{task}/chunked"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
    let r = c
        .get(format!("{base}/api/v4/buckets/b1/k1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "5");
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"hello");
    peer.shutdown().await;
}

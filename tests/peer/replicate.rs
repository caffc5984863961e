//! #19 replicate (optional endpoint): a peer pulls a committed object from a neighbour listed in `PEERS`
//! or announced through `/api/v4/nodes`.

use mictlanx_testkit::peer::*;
use serde_json::{json, Value};

#[tokio::test]
async fn replicate_pulls_from_a_neighbour() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = spawn_peer("p-a", da.path()).await;
    let mut cfg = peer_config("p-b", db.path());
    cfg.peers = vec!["http://127.0.0.1:1".into(), a.base_url()]; // the first neighbour is down
    let b = spawn_peer_with(cfg).await;
    let c = http_client();
    let size = 300_000;
    let body = json!({"key": "k y", "size": size, "checksum": "abc", "producer_id": "p",
                      "tags": {"updated_at": "7"}, "content_type": "image/png"});
    let res = put_metadata_raw(&c, &a, "bk", body, &[]).await;
    let task = res.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let stream = reqwest::Body::wrap_stream(object_stream(5, size));
    assert_eq!(upload_chunked(&c, &a, &task, stream).await.status(), 201);

    let url = format!("{}/api/v4/buckets/bk/k%20y/replicate", b.base_url());
    let res = c.post(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["peer_id"], "p-b");
    assert_eq!(v["replica_peer_id"], "p-a");
    assert_eq!(
        (&v["bucket_id"], &v["key"], &v["size"], &v["ok"]),
        (&json!("bk"), &json!("k y"), &json!(size), &json!(true))
    );
    assert!(v["response_time"].is_u64());
    assert_eq!(
        get_object_sha(&c, &b, "bk", "k y").await,
        get_object_sha(&c, &a, "bk", "k y").await
    );
    let (_, ma) = get_json(&c, &a, "/api/v4/buckets/bk/metadata/k%20y").await;
    let (_, mb) = get_json(&c, &b, "/api/v4/buckets/bk/metadata/k%20y").await;
    assert_eq!(
        ma["metadata"], mb["metadata"],
        "identical metadata, updated_at kept"
    );
    assert_eq!(b.pending_tasks(), 0);

    let res = c
        .post(format!("{}/api/v4/buckets/bk/none/replicate", b.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "bk@none not found"})
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn replicate_respects_capacity() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = spawn_peer("p-a2", da.path()).await;
    let mut cfg = peer_config("p-b2", db.path());
    cfg.disk_capacity = 10;
    let b = spawn_peer_with(cfg).await;
    let c = http_client();
    let task = put_metadata(&c, &a, "bk", "k", 20).await;
    assert_eq!(
        upload_chunked(&c, &a, &task, vec![1u8; 20]).await.status(),
        201
    );
    // announce A to B through #8
    let node = json!({"id": "p-a2", "disk": 0, "memory": 0, "ip_addr": "127.0.0.1", "port": a.addr().port(),
                      "weight": 1.0, "used_disk": 0, "used_memory": 0});
    let res = c
        .post(format!("{}/api/v4/nodes", b.base_url()))
        .json(&node)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = c
        .post(format!("{}/api/v4/buckets/bk/k/replicate", b.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 507);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Insufficient storage: 20 bytes requested, 10 bytes available"
    );
    assert_eq!(b.pending_tasks(), 0);
    assert!(temp_files(db.path()).is_empty());
    a.shutdown().await;
    b.shutdown().await;
}

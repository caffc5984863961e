//! Two-phase writes through both data forms and byte-exact reads; phase-1 semantics (Task-Id, Update,
//! invisibility of pending objects, tags.updated_at); routing rules of the peer table.

use mictlanx_testkit::peer::*;
use serde_json::{json, Value};
use sha2::Digest;

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn both_data_forms_round_trip_small_and_mid_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-rt", dir.path()).await;
    let c = http_client();
    for (i, size) in [0u64, 1, 1024 * 1024].into_iter().enumerate() {
        let expected = object_bytes(i as u64, size);
        // raw body form, with a Content-Length
        let key = format!("raw-{size}");
        let task = put_metadata(&c, &peer, "b", &key, size).await;
        let res = upload_chunked(&c, &peer, &task, expected.clone()).await;
        assert_eq!(res.status(), 201, "raw upload of {size}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["size"], size);
        assert_eq!(v["combined_key"], format!("b@{key}"));
        assert_eq!(v["node_id"], "p-rt");
        assert!(
            v["throughput"].is_f64() && v["service_time"].is_f64(),
            "{v}"
        );
        assert_eq!(v.as_object().unwrap().len(), 7);
        assert_eq!(
            get_object_sha(&c, &peer, "b", &key).await,
            (200, sha(&expected), size)
        );

        // raw body form, chunked transfer encoding (a stream has no length)
        let key = format!("stream-{size}");
        let task = put_metadata(&c, &peer, "b", &key, size).await;
        let body = reqwest::Body::wrap_stream(object_stream(i as u64, size));
        assert_eq!(upload_chunked(&c, &peer, &task, body).await.status(), 201);
        assert_eq!(
            get_object_sha(&c, &peer, "b", &key).await,
            (200, sha(&expected), size)
        );

        // multipart form
        let key = format!("mp-{size}");
        let task = put_metadata(&c, &peer, "b", &key, size).await;
        let res = upload_multipart(&c, &peer, &task, object_stream(i as u64, size)).await;
        assert_eq!(res.status(), 201, "{:?}", res.text().await);
        assert_eq!(
            get_object_sha(&c, &peer, "b", &key).await,
            (200, sha(&expected), size)
        );
    }
    let (_, len) = get_json(&c, &peer, "/api/v4/balls/len").await;
    assert_eq!(len, json!({"len": 9}));
    peer.shutdown().await;
}

#[tokio::test]
async fn pending_objects_are_invisible_and_task_id_header_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-pend", dir.path()).await;
    let c = http_client();
    let body = json!({"key": "k", "size": 3, "checksum": "abc", "producer_id": "me",
                      "content_type": "text/plain", "tags": {"fullname": "x.txt"}, "bucket_id": "bk"});
    let res = put_metadata_raw(&c, &peer, "bk", body, &[("Task-Id", "group-123")]).await;
    assert_eq!(res.status(), 201);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["task_id"], "group-123");
    assert_eq!(v["key"], "k");
    assert_eq!(v["node_id"], "p-pend");
    assert!(
        v["service_time"].is_u64(),
        "service_time must be an integer: {v}"
    );

    for path in [
        "/api/v4/buckets/bk/metadata/k",
        "/api/v4/buckets/bk/k",
        "/api/v4/buckets/bk/k/size",
    ] {
        let (status, body) = get_json(&c, &peer, path).await;
        assert_eq!(
            (status, body),
            (404, json!({"detail": "bk@k not found"})),
            "{path}"
        );
    }
    let (_, listing) = get_json(&c, &peer, "/api/v4/buckets/bk/metadata").await;
    assert_eq!(listing, json!({"peer_id": "p-pend", "balls": []}));
    assert_eq!(get_json(&c, &peer, "/api/v4/xballs").await.1, json!([]));

    assert_eq!(
        upload_chunked(&c, &peer, "group-123", "abc").await.status(),
        201
    );
    // the task is consumed by the commit
    let res = upload_chunked(&c, &peer, "group-123", "abc").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Task(group-123) not found"})
    );

    let res = c
        .get(format!("{}/api/v4/buckets/bk/k", peer.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "text/plain");
    assert_eq!(res.headers()["content-length"], "3");
    let (status, v) = get_json(&c, &peer, "/api/v4/buckets/bk/metadata/k").await;
    assert_eq!(status, 200);
    assert_eq!(v.as_object().unwrap().len(), 4);
    assert!(v["service_time"].is_u64());
    assert_eq!(
        (&v["peer_id"], &v["local_peer_id"]),
        (&json!("p-pend"), &json!("p-pend"))
    );
    let m = &v["metadata"];
    assert_eq!(m["ball_id"], "k");
    assert_eq!(m["is_disabled"], false);
    assert_eq!(m["tags"]["fullname"], "x.txt");
    let updated: u128 = m["tags"]["updated_at"].as_str().unwrap().parse().unwrap();
    assert!(
        updated > 1_600_000_000_000_000_000,
        "updated_at is ns since epoch: {updated}"
    );
    assert_eq!(m.as_object().unwrap().len(), 9);
    peer.shutdown().await;
}

#[tokio::test]
async fn update_header_rewrites_committed_metadata_and_keeps_caller_updated_at() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-up", dir.path()).await;
    let c = http_client();
    let task = put_metadata(&c, &peer, "b", "k", 2).await;
    assert_eq!(upload_chunked(&c, &peer, &task, "hi").await.status(), 201);
    let body = json!({"key": "k", "size": 999, "checksum": "other", "producer_id": "p2", "ball_id": "ball",
                      "content_type": "text/x", "tags": {"updated_at": "42"}, "is_disable": true});
    let res = put_metadata_raw(&c, &peer, "b", body.clone(), &[("Update", "TRUE")]).await;
    assert_eq!(res.status(), 201);
    let (_, v) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/k").await;
    let m = &v["metadata"];
    assert_eq!(
        (m["size"].as_u64(), m["checksum"].as_str()),
        (Some(2), Some("abc")),
        "bytes facts stay"
    );
    assert_eq!(m["ball_id"], "ball");
    assert_eq!(m["producer_id"], "p2");
    assert_eq!(m["content_type"], "text/x");
    assert_eq!(m["is_disabled"], true);
    assert_eq!(m["tags"], json!({"updated_at": "42"}));
    // a non-truthy Update leaves the object alone
    let body = json!({"key": "k", "size": 1, "checksum": "c", "producer_id": "p3"});
    put_metadata_raw(&c, &peer, "b", body, &[("Update", "yes")]).await;
    let (_, v) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/k").await;
    assert_eq!(v["metadata"]["producer_id"], "p2");
    peer.shutdown().await;
}

#[tokio::test]
async fn put_metadata_validation_answers_400() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-val", dir.path()).await;
    let c = http_client();
    let cases = [
        (
            json!({"size": 1, "checksum": "c", "producer_id": "p"}),
            "key: field required",
        ),
        (
            json!({"key": "k", "size": "1", "checksum": "c", "producer_id": "p"}),
            "size: must be an integer >= 0",
        ),
        (
            json!({"key": "k", "size": 1, "checksum": "c", "producer_id": "p", "bucket_id": "zz"}),
            "Bucket ID mismatch: b != zz",
        ),
        (
            json!({"key": "k", "size": 1, "checksum": "c", "producer_id": "p", "tags": {"a": 1}}),
            "tags.a: must be a string",
        ),
        (
            json!({"key": "x".repeat(1025), "size": 1, "checksum": "c", "producer_id": "p"}),
            "key: must be at most 1024 bytes",
        ),
    ];
    for (body, detail) in cases {
        let res = put_metadata_raw(&c, &peer, "b", body, &[]).await;
        assert_eq!(res.status(), 400);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"detail": detail})
        );
    }
    peer.shutdown().await;
}

#[tokio::test]
async fn multipart_form_errors() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-mp", dir.path()).await;
    let c = http_client();
    let task = put_metadata(&c, &peer, "b", "k", 3).await;
    let url = format!("{}/api/v4/buckets/data/{task}", peer.base_url());
    let res = c.post(&url).body("abc").send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Expected multipart/form-data with a 'data' field"
    );
    let body = format!("--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nabc\r\n--{MULTIPART_BOUNDARY}--\r\n");
    let res = c
        .post(&url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={MULTIPART_BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Missing multipart field 'data'"
    );
    // the task survived both failures
    let ok = upload_multipart(
        &c,
        &peer,
        &task,
        futures::stream::iter([Ok(bytes::Bytes::from_static(b"abc"))]),
    )
    .await;
    assert_eq!(ok.status(), 201);
    peer.shutdown().await;
}

#[tokio::test]
async fn routing_follows_the_peer_table() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-route", dir.path()).await;
    let c = http_client();
    let base = peer.base_url();
    // keys named like route literals; a key with a space and a trailing slash request
    for key in ["size", "metadata", "a b"] {
        let task = put_metadata(&c, &peer, "data", key, 1).await;
        assert_eq!(upload_chunked(&c, &peer, &task, "x").await.status(), 201);
    }
    // #11 precedes #15: POST /buckets/data/metadata is put-metadata into bucket "data" (done above)
    let (s, v) = get_json(&c, &peer, "/api/v4/buckets/data/metadata/size").await;
    assert_eq!(
        (s, v["metadata"]["key"].as_str()),
        (200, Some("size")),
        "#12 wins over #17"
    );
    let (s, v) = get_json(&c, &peer, "/api/v4/buckets/data/metadata").await;
    assert_eq!(
        (s, v["balls"].as_array().map(Vec::len)),
        (200, Some(3)),
        "#10 wins over #21"
    );
    let res = c
        .get(format!("{base}/api/v4/buckets/data/a%20b/"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"x");
    let res = c.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Not Found"})
    );
    let res = c
        .put(format!("{base}/api/v4/buckets/data/size"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(
        res.headers()["allow"],
        "POST, GET, DELETE",
        "#15 also matches bucket 'data'"
    );
    let res = c
        .put(format!("{base}/api/v4/buckets/b2/k"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "GET, DELETE");
    assert_eq!(
        get_json(&c, &peer, "/health").await,
        (200, json!({"status": "ok", "peer_id": "p-route"}))
    );
    peer.shutdown().await;
}

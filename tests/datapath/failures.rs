//! Failure injection on the data path: peers stopped before phase 2 or before a read, every write-set
//! peer down, a client body that breaks mid-upload, and a peer that accepts an upload and stops reading.

use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use mictlanx_testkit::datapath::{detail, object, peer_info, sorted_ids, start, start_with};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_killed_before_phase_2_leaves_the_others_storing() {
    let mut c = start(3, |_| {}).await;
    let bytes = object(1, 150_000);
    let meta = c.put_metadata("f", "k", &bytes, 3, json!({})).await;
    assert_eq!(meta["replicas"].as_array().unwrap().len(), 3);
    c.kill(1).await;
    let res = c
        .put_chunked_raw(meta["tasks_ids"][0].as_str().unwrap(), bytes.clone())
        .await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(sorted_ids(&out["peer_ids"]), vec!["peer-0", "peer-2"]);
    assert_eq!(out["size"], bytes.len());
    assert_eq!(c.get_bytes("f", "k").await, bytes);
    let sizes: Value = c
        .get("/api/v4/buckets/f/k/size")
        .await
        .json()
        .await
        .unwrap();
    let holders: Vec<&str> = sizes
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["peer_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        holders,
        vec!["peer-0", "peer-2"],
        "the failed replica left the replica map"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_set_peer_down_is_502_and_a_later_retry_succeeds() {
    let mut c = start(2, |_| {}).await;
    let bytes = object(2, 80_000);
    let meta = c.put_metadata("f", "down", &bytes, 2, json!({})).await;
    let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
    c.kill(0).await;
    c.kill(1).await;
    let res = c.put_chunked_raw(&task, bytes.clone()).await;
    assert_eq!(res.status(), 502);
    let d = detail(res).await;
    let text = d.as_str().unwrap();
    assert!(
        text.starts_with("No replica stored the data for f@down: "),
        "{text}"
    );
    assert!(
        text.contains("peer-0: ") && text.contains("peer-1: "),
        "{text}"
    );
    // the group was kept and its claim released: a second phase 2 is not 404/409
    let res = c.put_chunked_raw(&task, bytes.clone()).await;
    assert_eq!(res.status(), 502);

    c.restart(0).await;
    c.restart(1).await;
    c.wait_available(2).await;
    // the client retries both phases (peers forgot their pending tasks on restart)
    let out = c.put("f", "down", &bytes, 2).await;
    assert_eq!(sorted_ids(&out["peer_ids"]), vec!["peer-0", "peer-1"]);
    assert_eq!(c.get_bytes("f", "down").await, bytes);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_whose_first_holder_is_down_is_served_by_another() {
    // No probes after the first round: the router only learns about the dead peer by trying it.
    let mut c = start(3, |cfg| {
        cfg.replica.health_interval = Duration::from_secs(3600)
    })
    .await;
    let bytes = object(3, 120_000);
    c.put("g", "k", &bytes, 2).await;
    let candidates = c
        .app()
        .state
        .rm
        .choose_read_replica("g", "k")
        .await
        .unwrap()
        .peers;
    assert_eq!(candidates.len(), 2);
    let first = candidates[0].peer_id.clone();
    let index: usize = first.trim_start_matches("peer-").parse().unwrap();
    c.kill(index).await;
    assert_eq!(c.get_bytes("g", "k").await, bytes);
    let view = c.app().state.rm.get_peers().await.unwrap();
    assert!(
        view.available.iter().all(|p| p.peer_id != first),
        "the dead first holder was tried"
    );
    // metadata fails over too
    let res = c.get("/api/v4/buckets/g/metadata/k").await;
    assert_eq!(res.status(), 200);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_hit_needs_no_peer() {
    let mut c = start(1, |_| {}).await;
    let bytes = object(6, 50_000);
    c.put("h", "k", &bytes, 1).await;
    let res = c.get("/api/v4/buckets/h/k").await;
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
    c.kill(0).await;
    let res = c.get("/api/v4/buckets/h/k").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-length"], "50000");
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);
    let res = c
        .http
        .get(c.url("/api/v4/buckets/h/k"))
        .header("Force-Get", "1")
        .send()
        .await
        .unwrap();
    assert!(
        !res.status().is_success(),
        "a forced read goes to the (dead) peer"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_body_that_breaks_releases_the_claim_and_stores_nothing() {
    let c = start(2, |_| {}).await;
    let bytes = object(4, 400_000);
    let meta = c.put_metadata("f", "broken", &bytes, 2, json!({})).await;
    let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
    let head = Bytes::copy_from_slice(&bytes[..100_000]);
    let broken = futures::stream::iter(vec![
        Ok(head),
        Err(std::io::Error::other("client gives up")),
    ]);
    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/data/{task}/chunked")))
        .body(reqwest::Body::wrap_stream(broken))
        .send()
        .await;
    assert!(res.is_err() || !res.unwrap().status().is_success());
    // nothing became visible, and the same group can be uploaded again
    let deadline = Instant::now() + Duration::from_secs(30);
    let res = loop {
        let res = c.put_chunked_raw(&task, bytes.clone()).await;
        // the router releases the claim and the peers drop the partial upload as soon as they notice
        // the broken body; until then a retry may meet a 409 (router or peer)
        if res.status() == StatusCode::OK || Instant::now() > deadline {
            break res;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(res.status(), 200);
    assert_eq!(c.get_bytes("f", "broken").await, bytes);
    c.stop().await;
}

/// A peer holding `short/k` (1000 bytes per its metadata) whose data answer breaks after 10 bytes.
async fn spawn_short_body_peer() -> u16 {
    async fn ufs() -> Json<Value> {
        Json(json!({"total_disk": 10_000_000_000u64, "used_disk": 1000, "disk_uf": 0.0}))
    }
    async fn empty() -> Json<Value> {
        Json(json!([]))
    }
    async fn metadata(Path((b, k)): Path<(String, String)>) -> Json<Value> {
        Json(
            json!({"service_time": 1, "peer_id": "short", "local_peer_id": "short", "metadata": {
            "key": k, "size": 1000, "checksum": "abc", "tags": {}, "content_type": "application/octet-stream",
            "producer_id": "p", "ball_id": k, "bucket_id": b, "is_disabled": false}}),
        )
    }
    async fn data(Path((_b, _k)): Path<(String, String)>) -> axum::response::Response {
        // The error comes after a pause so that the headers and the first bytes are flushed first.
        let body = futures::stream::unfold(0u8, |step| async move {
            match step {
                0 => Some((Ok(Bytes::from_static(b"0123456789")), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Some((Err(std::io::Error::other("disk gone")), 2))
                }
                _ => None,
            }
        });
        axum::response::Response::builder()
            .header("content-length", "1000")
            .body(axum::body::Body::from_stream(body))
            .unwrap()
    }
    let app = Router::new()
        .route("/api/v4/stats/ufs", get(ufs))
        .route("/api/v4/xballs", get(empty))
        .route("/api/v4/buckets/{b}/metadata/{k}", get(metadata))
        .route("/api/v4/buckets/{b}/{k}", get(data));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_peer_body_aborts_the_response_and_fills_no_cache() {
    let port = spawn_short_body_peer().await;
    let c = start_with(0, vec![peer_info("short", port)], |_| {}).await;
    let res = c.get("/api/v4/buckets/short/k").await;
    assert_eq!(res.status(), 200, "headers go out once the peer answered");
    assert_eq!(res.headers()["content-length"], "1000");
    let body = res.bytes().await;
    assert!(
        body.is_err(),
        "a truncated object must not end cleanly: {body:?}"
    );
    assert!(!c.app().state.cache.keys().contains(&"short@k".to_string()));
    c.stop().await;
}

/// A peer that answers probes and phase 1 but never reads a phase-2 body (nor answers it).
async fn spawn_stalling_peer() -> u16 {
    async fn ufs() -> Json<Value> {
        Json(json!({"total_disk": 10_000_000_000u64, "used_disk": 0, "disk_uf": 0.0}))
    }
    async fn put_meta(
        Path(_b): Path<String>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> (StatusCode, Json<Value>) {
        let task = headers
            .get("task-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("t")
            .to_string();
        (
            StatusCode::CREATED,
            Json(
                json!({"key": body["key"], "service_time": 1, "task_id": task, "node_id": "stall"}),
            ),
        )
    }
    async fn stall(Path(_t): Path<String>) -> StatusCode {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        StatusCode::CREATED
    }
    async fn empty() -> Json<Value> {
        Json(json!([]))
    }
    let app = Router::new()
        .route("/api/v4/stats/ufs", get(ufs))
        .route("/api/v4/xballs", get(empty))
        .route("/api/v4/buckets/{b}/metadata", post(put_meta))
        .route("/api/v4/buckets/data/{t}/chunked", post(stall));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_peer_is_dropped_after_the_idle_timeout() {
    let port = spawn_stalling_peer().await;
    let c = start_with(1, vec![peer_info("stall", port)], |cfg| {
        cfg.peer_io.idle_timeout = Duration::from_secs(2);
    })
    .await;
    // Large enough to fill the socket buffers towards the stalled peer.
    let bytes = object(5, 24 * 1024 * 1024);
    let meta = c.put_metadata("s", "big", &bytes, 2, json!({})).await;
    assert_eq!(sorted_ids(&meta["replicas"]), vec!["peer-0", "stall"]);
    let started = Instant::now();
    let res = c
        .put_chunked_raw(meta["tasks_ids"][0].as_str().unwrap(), bytes.clone())
        .await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["peer_ids"], json!(["peer-0"]));
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "the upload did not hang on the stalled peer"
    );
    assert_eq!(c.get_bytes("s", "big").await, bytes);
    c.stop().await;
}

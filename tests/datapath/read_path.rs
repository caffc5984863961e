//! The replica map seen through the router's read path: objects already on the peers at start-up are found
//! through the inventory rebuild, objects written behind the router's back through read-through discovery.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use mictlanx_peer::PeerServer;
use mictlanx_router::app::{App, TestApp};
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::Config;
use mictlanx_testkit::peer::{http_client, peer_config, spawn_peer_with};
use serde_json::{json, Value};

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn start_peer(id: &str, root: &Path) -> (PeerServer, PeerInfo) {
    let server = spawn_peer_with(peer_config(id, &root.join(id))).await;
    let info = PeerInfo {
        peer_id: id.into(),
        ip_addr: "127.0.0.1".into(),
        port: server.addr().port(),
        protocol: "http".into(),
        api_version: 4,
    };
    (server, info)
}

/// Phase 1 + phase 2 directly against one peer, bypassing the router. Every copy gets the same version,
/// as the copies of one write do (two independent writes would be two versions, and only the newer
/// would be served).
async fn put_direct(c: &reqwest::Client, peer: &PeerInfo, b: &str, k: &str, data: &'static str) {
    let base = format!("http://127.0.0.1:{}", peer.port);
    let r = c
        .post(format!("{base}/api/v4/buckets/{b}/metadata"))
        .json(
            &json!({"key": k, "size": data.len(), "checksum": "x", "producer_id": "t",
            "content_type": "text/plain"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let task: Value = r.json().await.unwrap();
    let r = c
        .post(format!(
            "{base}/api/v4/buckets/data/{}/chunked",
            task["task_id"].as_str().unwrap()
        ))
        .header("Object-Version", "1000")
        .body(data)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

fn config(state: &Path, seed: Vec<PeerInfo>) -> Config {
    let mut cfg = Config::for_tests(state.to_path_buf());
    cfg.seed_peers = seed;
    cfg.replica.health_interval = Duration::from_millis(200);
    cfg.replica.rebuild_interval = Duration::ZERO;
    cfg.cache.enabled = false;
    cfg
}

async fn holders(app: &TestApp, b: &str, k: &str) -> Vec<String> {
    let view = app.state.rm.get_replicas(b, k).await.unwrap();
    view.replicas.into_iter().map(|p| p.peer_id).collect()
}

async fn get_bytes(c: &reqwest::Client, app: &TestApp, b: &str, k: &str) -> (u16, String) {
    let r = c
        .get(app.url(&format!("/api/v4/buckets/{b}/{k}")))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn objects_on_peers_before_start_are_mapped_and_read() {
    let root = tempfile::tempdir().unwrap();
    let (s0, p0) = start_peer("m0", root.path()).await;
    let (s1, p1) = start_peer("m1", root.path()).await;
    let c = http_client();
    put_direct(&c, &p0, "old", "one", "first").await;
    put_direct(&c, &p1, "old", "two", "second").await;
    put_direct(&c, &p0, "old", "both", "twice").await;
    put_direct(&c, &p1, "old", "both", "twice").await;

    let app = App::spawn(config(&root.path().join("state"), vec![p0, p1]))
        .await
        .unwrap();
    eventually("start-up rebuild", || async {
        holders(&app, "old", "one").await == ["m0"]
            && holders(&app, "old", "two").await == ["m1"]
            && holders(&app, "old", "both").await == ["m0", "m1"]
    })
    .await;
    assert_eq!(
        get_bytes(&c, &app, "old", "one").await,
        (200, "first".into())
    );
    assert_eq!(
        get_bytes(&c, &app, "old", "two").await,
        (200, "second".into())
    );
    assert_eq!(
        get_bytes(&c, &app, "old", "both").await,
        (200, "twice".into())
    );
    app.stop().await;
    s0.shutdown().await;
    s1.shutdown().await;
}

#[tokio::test]
async fn an_object_written_behind_the_routers_back_is_found_on_first_read() {
    let root = tempfile::tempdir().unwrap();
    let (s0, p0) = start_peer("n0", root.path()).await;
    let (s1, p1) = start_peer("n1", root.path()).await;
    let c = http_client();
    let app = App::spawn(config(&root.path().join("state"), vec![p0, p1.clone()]))
        .await
        .unwrap();
    eventually("peers available", || async {
        app.state.rm.get_peers().await.unwrap().available.len() == 2
    })
    .await;

    put_direct(&c, &p1, "late", "obj", "hello").await;
    assert!(
        holders(&app, "late", "obj").await.is_empty(),
        "not in the map yet"
    );
    assert_eq!(
        get_bytes(&c, &app, "late", "obj").await,
        (200, "hello".into()),
        "found by discovery"
    );
    assert_eq!(holders(&app, "late", "obj").await, ["n1"], "and recorded");
    let metrics = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mictlanx_router_discovery_total{result=\"found\"}"),
        "{metrics}"
    );
    app.stop().await;
    s0.shutdown().await;
    s1.shutdown().await;
}

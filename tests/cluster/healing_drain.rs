//! Draining a peer that holds 200 objects: no new placements on it, every object keeps its factor on the
//! other peers, the bandwidth bound holds, and removing the peer afterwards loses nothing. With Redis,
//! two routers heal a killed holder once (the leader does it, the other reports the leader's status).

use std::time::{Duration, Instant};

use mictlanx_router::config::StateBackend;
use mictlanx_testkit::datapath::{object, peer_info};
use mictlanx_testkit::healing::{
    busiest, get, healing_config, live_holders, put, router, wait_available,
};
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};
use mictlanx_testkit::redis::RedisServer;
use mictlanx_testkit::wait::eventually;
use mictlanx_testkit::Peer;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_a_peer_keeps_every_factor_within_the_bandwidth_bound() {
    let root = tempfile::tempdir().unwrap();
    let http = mictlanx_testkit::peer::http_client();
    let mut peers = Vec::new();
    for i in 0..2 {
        let id = format!("dr-{i}");
        peers.push(spawn_peer_with(peer_config(&id, &root.path().join(&id))).await);
    }
    let seed = peers
        .iter()
        .map(|p| peer_info(p.node_id(), p.addr().port()))
        .collect();
    let mut cfg = healing_config(&root.path().join("router"), seed);
    let bandwidth = 2_000_000u64;
    cfg.replica.repair.bandwidth = bandwidth;
    let r = router(cfg).await;
    wait_available(&r, 2).await;
    // 200 objects on both peers, then two more peers join and dr-0 is drained.
    let size = 10_000;
    let mut objects = Vec::new();
    for i in 0..200u32 {
        let bytes = object((i % 250) as u8, size + (i as usize % 7));
        let key = format!("d{i}");
        assert_eq!(put(&http, &r, "drain", &key, &bytes, 2).await.len(), 2);
        objects.push((key, bytes));
    }
    for i in 2..4 {
        let id = format!("dr-{i}");
        let p = spawn_peer_with(peer_config(&id, &root.path().join(&id))).await;
        let res = http
            .post(r.url("/api/v4/peers"))
            .json(
                &json!({"protocol": "http", "peer_id": id, "hostname": "127.0.0.1",
                "port": p.addr().port()}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
        peers.push(p);
    }
    wait_available(&r, 4).await;
    let started = Instant::now();
    let res = http
        .post(r.url("/api/v4/peers/dr-0/drain"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["objects_total"], 200);
    assert_eq!(first["state"], "running");
    // no new placements on a draining peer
    let meta = http
        .post(r.url("/api/v4/buckets/drain/metadata"))
        .json(&mictlanx_testkit::datapath::dto(
            "drain",
            "fresh",
            "fresh",
            10,
            4,
            json!({}),
        ))
        .send()
        .await
        .unwrap();
    let meta: Value = meta.json().await.unwrap();
    assert!(
        !meta["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "dr-0"),
        "{meta}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let last = loop {
        let s: Value = http
            .get(r.url("/api/v4/peers/dr-0/drain"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if s["state"] == "done" {
            break s;
        }
        assert!(Instant::now() < deadline, "drain not done: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = started.elapsed();
    assert_eq!(last["objects_done"], 200, "{last}");
    let copied = last["bytes_copied"].as_u64().unwrap();
    assert!(copied >= 200 * size as u64, "{last}");
    // The shared bound: `copied` bytes at `bandwidth` per second take at least copied/bandwidth (less one
    // piece); allow 15% for the first piece of each copy.
    let floor = Duration::from_secs_f64(copied as f64 / bandwidth as f64 * 0.85);
    assert!(took >= floor, "bandwidth bound: {copied} B in {took:?}");

    let res = http
        .delete(r.url("/api/v4/peers/dr-0"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    peers.remove(0).shutdown().await;
    for (key, bytes) in &objects {
        let live = live_holders(&r, "drain", key).await;
        assert_eq!(live.len(), 2, "{key}: {live:?}");
        assert!(!live.contains(&"dr-0".to_string()));
        assert_eq!(get(&http, &r, "drain", key).await, (200, bytes.clone()));
    }
    assert_eq!(
        http.get(r.url("/api/v4/peers/dr-0/drain"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "a removed peer's drain is over"
    );
    r.stop().await;
    for p in peers {
        p.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_on_redis_repair_a_killed_holder_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let http = mictlanx_testkit::peer::http_client();
    let mut peers = Vec::new();
    for i in 0..4 {
        peers.push(Peer::process(&format!("rr-{i}"), root.path()).await);
    }
    let mut routers = Vec::new();
    for i in 0..2 {
        let mut cfg = healing_config(
            &root.path().join(format!("router-{i}")),
            peers.iter().map(Peer::info).collect(),
        );
        cfg.replica.backend = StateBackend::Redis {
            url: redis.url(),
            prefix: "heal".into(),
        };
        routers.push(router(cfg).await);
    }
    for r in &routers {
        wait_available(r, 4).await;
    }
    let mut objects = Vec::new();
    for i in 0..6u8 {
        let bytes = object(100 + i, 15_000);
        let key = format!("r{i}");
        let stored = put(&http, &routers[i as usize % 2], "rheal", &key, &bytes, 3).await;
        objects.push((key, bytes, stored));
    }
    let victim = busiest("rr-", 4, objects.iter().map(|o| o.2.as_slice()));
    peers[victim].kill().await;
    let victim_id = format!("rr-{victim}");
    for (key, bytes, _) in &objects {
        for r in &routers {
            eventually("back at rf 3 as every router sees it", || async {
                let live = live_holders(r, "rheal", key).await;
                live.len() == 3 && !live.contains(&victim_id)
            })
            .await;
            assert_eq!(get(&http, r, "rheal", key).await, (200, bytes.clone()));
        }
    }
    let mut statuses = Vec::new();
    for r in &routers {
        let s: Value = http
            .get(r.url("/api/v4/repair"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        statuses.push(s);
    }
    let leaders: Vec<&Value> = statuses.iter().filter(|s| s["leader"] == true).collect();
    assert_eq!(leaders.len(), 1, "one leader: {statuses:?}");
    let follower = statuses.iter().find(|s| s["leader"] == false).unwrap();
    assert_eq!(
        follower["done"]["repaired"], 0,
        "repair ran once: {follower}"
    );
    assert_eq!(follower["done"]["rounds"], 0);
    let missing = objects.iter().filter(|o| o.2.contains(&victim_id)).count() as u64;
    assert_eq!(
        leaders[0]["done"]["repaired"].as_u64().unwrap(),
        missing,
        "exactly one copy per lost replica: {}",
        leaders[0]
    );
    assert!(
        follower["leader_status"]["done"]["repaired"]
            .as_u64()
            .is_some(),
        "the follower reports the leader's status: {follower}"
    );
    for r in routers {
        r.stop().await;
    }
    drop(redis);
}

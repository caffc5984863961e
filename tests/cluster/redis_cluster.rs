//! One space over a real Redis Cluster (three masters, three replicas): two routers in process, three
//! real peers. Invariants: the space's keys spread over every master (no master holds less than a fifth);
//! after SIGKILL of a master (its replica promoted) no acknowledged write is lost: every object is
//! readable through every router within 60 s, without restarting a router, and writes go on.

use std::time::{Duration, Instant};

use mictlanx_peer::PeerServer;
use mictlanx_router::app::{App, TestApp};
use mictlanx_router::config::{Config, StateBackend};
use mictlanx_testkit::datapath::{client, dto, object};
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};
use mictlanx_testkit::redis_cluster::RedisCluster;
use mictlanx_testkit::wait::eventually;
use serde_json::json;

use crate::multi_router::shared_space_config;

const OBJECTS: usize = 300;

/// Router `i` on the cluster (a failover needs a longer state timeout than a standalone Redis).
fn router_config(
    dir: &std::path::Path,
    redis: &RedisCluster,
    peers: &[PeerServer],
    i: usize,
) -> Config {
    let backend = StateBackend::RedisCluster {
        seeds: redis.seeds(),
        prefix: "space".into(),
    };
    let mut cfg = shared_space_config(dir, backend, peers, i);
    cfg.replica.state_timeout = Duration::from_secs(2);
    cfg
}

/// Both phases of a PUT through `router`; the status of phase 2 (0 when phase 1 failed).
async fn put(http: &reqwest::Client, router: &TestApp, b: &str, k: &str, bytes: &[u8]) -> u16 {
    let res = http
        .post(router.url(&format!("/api/v4/buckets/{b}/metadata")))
        .json(&dto(b, k, k, bytes.len(), 2, json!({})))
        .send()
        .await;
    let Ok(res) = res else { return 0 };
    if res.status() != 200 {
        return 0;
    }
    let meta: serde_json::Value = res.json().await.unwrap();
    let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
    http.post(router.url(&format!("/api/v4/buckets/data/{task}/chunked")))
        .body(bytes.to_vec())
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn get(http: &reqwest::Client, router: &TestApp, b: &str, k: &str) -> Option<Vec<u8>> {
    let res = http
        .get(router.url(&format!("/api/v4/buckets/{b}/{k}")))
        .send()
        .await
        .ok()?;
    if res.status() != 200 {
        return None;
    }
    res.bytes().await.ok().map(|b| b.to_vec())
}

fn dbsize(redis: &RedisCluster, port: u16) -> u64 {
    redis
        .cli(port, &["DBSIZE"])
        .and_then(|n| n.parse().ok())
        .expect("DBSIZE answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_space_spreads_over_the_masters_and_survives_a_master_failover() {
    let Some(mut redis) = RedisCluster::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut peers = Vec::new();
    for i in 0..3 {
        let id = format!("rc-{i}");
        peers.push(spawn_peer_with(peer_config(&id, &dir.path().join(&id))).await);
    }
    let mut routers = Vec::new();
    for i in 0..2 {
        let cfg = router_config(dir.path(), &redis, &peers, i);
        routers.push(App::spawn(cfg).await.expect("router starts on the cluster"));
    }
    for r in &routers {
        eventually("every peer available to every router", || async {
            r.state.rm.get_peers().await.unwrap().available.len() == 3
        })
        .await;
    }
    let http = client();
    for i in 0..OBJECTS {
        let status = put(
            &http,
            &routers[i % 2],
            "big",
            &format!("k{i}"),
            &object(i as u8, 64),
        )
        .await;
        assert_eq!(status, 200, "write k{i}");
    }

    let masters = redis.masters();
    assert_eq!(masters.len(), 3);
    let sizes: Vec<u64> = masters.iter().map(|&m| dbsize(&redis, m)).collect();
    let total: u64 = sizes.iter().sum();
    assert!(
        total >= OBJECTS as u64,
        "records are in the cluster: {sizes:?}"
    );
    for (m, n) in masters.iter().zip(&sizes) {
        assert!(
            *n * 5 >= total,
            "master {m} holds {n} of {total} keys ({sizes:?}): the space is not spread"
        );
    }

    // SIGKILL the master that holds the most keys; its replica takes over
    let victim = masters[sizes
        .iter()
        .enumerate()
        .max_by_key(|(_, n)| **n)
        .map(|(i, _)| i)
        .unwrap()];
    redis.kill(victim);
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(60);
    for (r, router) in routers.iter().enumerate() {
        for i in 0..OBJECTS {
            let (k, want) = (format!("k{i}"), object(i as u8, 64));
            loop {
                if get(&http, router, "big", &k).await.as_deref() == Some(&want[..]) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{k} unreadable through router {r} 60 s after the master was killed"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    println!(
        "every object readable through both routers {:?} after the SIGKILL",
        killed.elapsed()
    );
    assert_eq!(redis.masters().len(), 3, "the replica was promoted");

    // writes go on, through both routers, and are read back through the other one
    for i in 0..40 {
        let k = format!("after{i}");
        let bytes = object(i as u8 + 100, 32);
        let mut status = 0;
        while status != 200 {
            status = put(&http, &routers[i % 2], "big", &k, &bytes).await;
            assert!(
                status == 200 || Instant::now() < deadline,
                "write {k} after the failover: {status}"
            );
        }
        assert_eq!(
            get(&http, &routers[(i + 1) % 2], "big", &k)
                .await
                .as_deref(),
            Some(&bytes[..]),
            "{k} through the other router"
        );
    }
}

//! Metadata from the router cache: a real router in front of real in-process peers. Invariants:
//! a cached metadata GET and size check need no peer (they answer with every peer stopped); every change
//! through the router (overwrite, update, disable, delete) is seen by the next metadata GET; two routers on
//! one Redis never answer metadata older than a change committed through the other; with the cache off
//! nothing is cached.

use std::time::Duration;

use mictlanx_router::app::App;
use mictlanx_router::config::{Config, StateBackend};
use mictlanx_testkit::datapath::{client, dto, object, peer_info, start, Cluster};
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};
use mictlanx_testkit::redis::RedisServer;
use mictlanx_testkit::wait::eventually;
use serde_json::{json, Value};

const B: &str = "mc";

async fn metadata(c: &Cluster, key: &str) -> (u16, Value) {
    let res = c.get(&format!("/api/v4/buckets/{B}/metadata/{key}")).await;
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn sizes(c: &Cluster, key: &str) -> Value {
    let res = c.get(&format!("/api/v4/buckets/{B}/{key}/size")).await;
    assert_eq!(res.status(), 200);
    res.json().await.expect("size JSON")
}

/// Health probes far apart, so stopped peers stay "live" in the router's view for the whole test: any
/// peer call the router made would then fail instead of being skipped.
fn slow_probes(cfg: &mut Config) {
    cfg.replica.health_interval = Duration::from_secs(600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_metadata_get_and_size_check_need_no_peer() {
    let mut c = start(2, slow_probes).await;
    let bytes = object(1, 3000);
    c.put(B, "doc", &bytes, 2).await;
    let (status, first) = metadata(&c, "doc").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["metadata"]["size"], 3000);
    let first_sizes = sizes(&c, "doc").await;
    assert_eq!(
        first_sizes.as_array().map(Vec::len),
        Some(2),
        "{first_sizes}"
    );

    c.kill(0).await;
    c.kill(1).await;
    let (status, cached) = metadata(&c, "doc").await;
    assert_eq!(
        status, 200,
        "served from the cache with every peer stopped: {cached}"
    );
    assert_eq!(cached["metadata"], first["metadata"]);
    assert_eq!(cached["peer_id"], first["peer_id"]);
    assert_eq!(
        cached.as_object().map(|o| o.len()),
        Some(4),
        "exactly the four keys: {cached}"
    );
    assert_eq!(
        sizes(&c, "doc").await,
        first_sizes,
        "size check from the cache"
    );
    // Bytes were never read, so the byte cache cannot answer a GET.
    let res = c.get(&format!("/api/v4/buckets/{B}/doc")).await;
    assert_ne!(res.status(), 200);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_through_the_router_is_seen_by_the_next_metadata_get() {
    let c = start(2, |_| {}).await;
    c.put(B, "k", &object(2, 100), 1).await;
    assert_eq!(metadata(&c, "k").await.1["metadata"]["size"], 100);
    // A data GET (a cache fill) caches the metadata as well; a second metadata GET is a hit.
    assert_eq!(c.get_bytes(B, "k").await.len(), 100);
    assert_eq!(metadata(&c, "k").await.1["metadata"]["size"], 100);

    c.put(B, "k", &object(3, 250), 1).await;
    assert_eq!(
        metadata(&c, "k").await.1["metadata"]["size"],
        250,
        "overwrite"
    );

    let body = dto(B, "k", "k", 250, 1, json!({"fullname": "new.txt"}));
    let res = c
        .http
        .post(c.url(&format!("/api/v4/u/buckets/{B}/k")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        metadata(&c, "k").await.1["metadata"]["tags"]["fullname"],
        "new.txt",
        "update"
    );

    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/{B}/k/disable")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (status, md) = metadata(&c, "k").await;
    assert_eq!(
        (status, md["metadata"]["is_disabled"].clone()),
        (200, json!(true)),
        "disable"
    );
    assert_eq!(
        metadata(&c, "k").await.1["metadata"]["is_disabled"],
        true,
        "cached disabled"
    );

    let res = c.delete(&format!("/api/v4/buckets/{B}/k")).await;
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(metadata(&c, "k").await.0, 404, "delete");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_nothing_is_cached() {
    let mut c = start(1, |cfg| {
        slow_probes(cfg);
        cfg.cache.enabled = false;
    })
    .await;
    c.put(B, "off", &object(4, 10), 1).await;
    assert_eq!(metadata(&c, "off").await.0, 200);
    c.kill(0).await;
    let (status, body) = metadata(&c, "off").await;
    assert_eq!(status, 502, "asked the stopped peer: {body}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_never_answer_metadata_older_than_the_other_committed() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut peers = Vec::new();
    for i in 0..2 {
        let id = format!("mcp-{i}");
        peers.push(spawn_peer_with(peer_config(&id, &dir.path().join(&id))).await);
    }
    let mut routers = Vec::new();
    for i in 0..2 {
        let mut cfg = Config::for_tests(dir.path().join(format!("router-{i}")));
        cfg.seed_peers = peers
            .iter()
            .map(|p| peer_info(p.node_id(), p.addr().port()))
            .collect();
        cfg.replica.health_interval = Duration::from_millis(200);
        cfg.replica.backend = StateBackend::Redis {
            url: redis.url(),
            prefix: "mc".into(),
        };
        routers.push(App::spawn(cfg).await.expect("router starts"));
    }
    for r in &routers {
        eventually("both peers available", || async {
            r.state.rm.get_peers().await.unwrap().available.len() == 2
        })
        .await;
    }
    let http = client();
    let put = |r: usize, size: usize, tags: Value| {
        let (http, url) = (http.clone(), routers[r].url(""));
        async move {
            let res = http
                .post(format!("{url}/api/v4/buckets/{B}/metadata"))
                .json(&dto(B, "shared", "shared", size, 1, tags))
                .send()
                .await
                .unwrap();
            let status = res.status();
            let meta: Value = res.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 200, "phase 1 through router {r}: {meta}");
            let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
            let res = http
                .post(format!("{url}/api/v4/buckets/data/{task}/chunked"))
                .body(object(5, size))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
        }
    };
    let md = |r: usize| {
        let (http, url) = (http.clone(), routers[r].url(""));
        async move {
            let res = http
                .get(format!("{url}/api/v4/buckets/{B}/metadata/shared"))
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    put(0, 10, json!({"v": "1"})).await;
    // Router 1 caches version 1 (twice: the second answer is its cache's).
    for _ in 0..2 {
        assert_eq!(md(1).await.1["metadata"]["tags"]["v"], "1");
    }
    put(0, 20, json!({"v": "2"})).await;
    let (status, now) = md(1).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            now["metadata"]["size"].clone(),
            now["metadata"]["tags"]["v"].clone()
        ),
        (json!(20), json!("2")),
        "router 1 sees router 0's overwrite at once"
    );
    let res = http
        .delete(routers[0].url(&format!("/api/v4/buckets/{B}/shared")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success());
    assert_eq!(
        md(1).await.0,
        404,
        "router 1 sees router 0's delete at once"
    );
    for r in routers {
        r.stop().await;
    }
    for p in peers {
        p.shutdown().await;
    }
    drop(redis);
}

//! Peer management over HTTP (`docs/router-api.md` §6.1 #5–#10, §3.12 `/ready`) with a real router and real
//! in-process storage peers.

use mictlanx_testkit::{wait::eventually, Peer};

use std::path::Path;
use std::time::Duration;

use mictlanx_router::app::{App, TestApp};
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::Config;
use mictlanx_testkit::peer::http_client;
use serde_json::{json, Value};

fn config(state: &Path, seed: Vec<PeerInfo>) -> Config {
    let mut cfg = Config::for_tests(state.to_path_buf());
    cfg.seed_peers = seed;
    cfg.replica.health_interval = Duration::from_millis(200);
    cfg.replica.health_timeout = Duration::from_secs(2);
    cfg.peer_io.connect_timeout = Duration::from_secs(2);
    cfg
}

async fn get_json(c: &reqwest::Client, url: String) -> (u16, Value) {
    let r = c.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn peer_lists(c: &reqwest::Client, app: &TestApp) -> (Vec<String>, Vec<String>) {
    let (status, v) = get_json(c, app.url("/api/v4/peers")).await;
    assert_eq!(status, 200);
    let ids = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|p| p["peer_id"].as_str().unwrap().to_string())
            .collect()
    };
    (ids("available"), ids("unavailable"))
}

async fn all_peers(c: &reqwest::Client, app: &TestApp) -> Vec<String> {
    let (mut a, u) = peer_lists(c, app).await;
    a.extend(u);
    a.sort();
    a
}

async fn ready_status(c: &reqwest::Client, app: &TestApp) -> u16 {
    c.get(app.url("/ready"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn peers_are_listed_added_removed_and_persisted() {
    let root = tempfile::tempdir().unwrap();
    let mut peers = Vec::new();
    for id in ["p0", "p1", "p2", "p3", "p4"] {
        peers.push(Peer::in_process(id, root.path()).await);
    }
    let state = root.path().join("state");
    let cfg = config(&state, peers[..3].iter().map(Peer::info).collect());
    let c = http_client();

    let app = App::spawn(cfg.clone()).await.unwrap();
    eventually("three seed peers available", || async {
        peer_lists(&c, &app).await.0 == ["p0", "p1", "p2"]
    })
    .await;
    let (_, v) = get_json(&c, app.url("/api/v4/peers")).await;
    assert_eq!(
        v["available"][0],
        json!({"peer_id": "p0", "ip_addr": "127.0.0.1", "port": peers[0].port, "protocol": "http", "api_version": 4})
    );
    assert_eq!(v["unavailable"], json!([]));

    let r = c
        .post(app.url("/api/v4/peers"))
        .json(&peers[3].payload())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    assert!(all_peers(&c, &app).await.contains(&"p3".to_string()));
    eventually("added peer available", || async {
        peer_lists(&c, &app).await.0.len() == 4
    })
    .await;
    // #5 through the prefix, later duplicates win
    let mut stale = peers[4].payload();
    stale["port"] = json!(1);
    let r = c
        .post(app.url("/mictlanx/api/v4/xpeers"))
        .json(&json!([stale, peers[4].payload()]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    eventually("bulk-added peer available", || async {
        peer_lists(&c, &app).await.0.len() == 5
    })
    .await;
    app.stop().await;

    let app = App::spawn(cfg.clone()).await.unwrap();
    assert_eq!(
        all_peers(&c, &app).await,
        ["p0", "p1", "p2", "p3", "p4"],
        "additions survive a restart"
    );
    let r = c.delete(app.url("/api/v4/peers/p3")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .delete(app.url("/api/v4/peers/never-registered"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .delete(app.url("/api/v4/xpeers?peers=p4&peers=p0"))
        .json(&json!(["p4"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c.delete(app.url("/api/v4/xpeers")).send().await.unwrap();
    assert_eq!(r.status(), 204, "no body and no query = nothing to remove");
    assert_eq!(all_peers(&c, &app).await, ["p1", "p2"]);
    app.stop().await;

    let app = App::spawn(cfg).await.unwrap();
    assert_eq!(
        all_peers(&c, &app).await,
        ["p1", "p2"],
        "removals survive a restart"
    );
    app.stop().await;
    for p in &mut peers {
        p.shutdown().await;
    }
}

#[tokio::test]
async fn ready_follows_peer_health() {
    let root = tempfile::tempdir().unwrap();
    let mut peers = Vec::new();
    for id in ["h0", "h1", "h2"] {
        peers.push(Peer::in_process(id, root.path()).await);
    }
    let cfg = config(
        &root.path().join("state"),
        peers.iter().map(Peer::info).collect(),
    );
    let c = http_client();
    let app = App::spawn(cfg).await.unwrap();
    eventually("all available", || async {
        peer_lists(&c, &app).await.0.len() == 3
    })
    .await;
    let (status, v) = get_json(&c, app.url("/ready")).await;
    assert_eq!(
        (status, v),
        (
            200,
            json!({"status": "ready", "available_peers": 3, "peers": 3})
        )
    );

    peers[0].shutdown().await;
    eventually("stopped peer unavailable", || async {
        peer_lists(&c, &app).await == (vec!["h1".into(), "h2".into()], vec!["h0".into()])
    })
    .await;
    assert_eq!(ready_status(&c, &app).await, 200);
    let metrics = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mictlanx_router_peer_available{peer_id=\"h0\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mictlanx_router_peer_available{peer_id=\"h1\"} 1"),
        "{metrics}"
    );

    peers[1].shutdown().await;
    peers[2].shutdown().await;
    eventually("not ready", || async {
        ready_status(&c, &app).await == 503
    })
    .await;
    let (_, v) = get_json(&c, app.url("/ready")).await;
    assert_eq!(
        v,
        json!({"detail": "Not ready: no storage peer is available (0 of 3 registered)"})
    );

    peers[2].restart().await;
    eventually("ready again", || async {
        ready_status(&c, &app).await == 200
    })
    .await;
    assert_eq!(peer_lists(&c, &app).await.0, ["h2"]);
    app.stop().await;
    peers[2].shutdown().await;
}

#[tokio::test]
async fn peer_stats_relay_exactly_seven_keys_with_paging() {
    let root = tempfile::tempdir().unwrap();
    let mut peers = [
        Peer::in_process("s0", root.path()).await,
        Peer::in_process("s1", root.path()).await,
    ];
    let c = http_client();
    for k in ["a", "b", "c"] {
        let base = format!("http://127.0.0.1:{}", peers[0].port);
        let r = c
            .post(format!("{base}/api/v4/buckets/st/metadata"))
            .json(&json!({"key": k, "size": 2, "checksum": "x", "producer_id": "t"}))
            .send()
            .await
            .unwrap();
        let task: Value = r.json().await.unwrap();
        let r = c
            .post(format!(
                "{base}/api/v4/buckets/data/{}/chunked",
                task["task_id"].as_str().unwrap()
            ))
            .body("xy")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let cfg = config(
        &root.path().join("state"),
        peers.iter().map(Peer::info).collect(),
    );
    let app = App::spawn(cfg).await.unwrap();
    eventually("available", || async {
        peer_lists(&c, &app).await.0.len() == 2
    })
    .await;

    let (status, v) = get_json(&c, app.url("/api/v4/peers/stats")).await;
    assert_eq!(status, 200);
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["s0", "s1"]);
    for stats in obj.values() {
        let mut keys: Vec<&String> = stats.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "available_disk",
                "balls",
                "disk_uf",
                "peer_id",
                "peers",
                "total_disk",
                "used_disk"
            ]
        );
        assert!(stats["disk_uf"].is_f64());
    }
    assert_eq!(v["s0"]["balls"].as_array().unwrap().len(), 3);
    assert_eq!(v["s0"]["used_disk"], 6);
    let (_, page) = get_json(&c, app.url("/api/v4/peers/stats?start=1&end=2")).await;
    let balls = page["s0"]["balls"].as_array().unwrap();
    assert_eq!(balls.len(), 1);
    assert_eq!(balls[0]["key"], "b");
    assert_eq!(balls[0].as_object().unwrap().len(), 9);

    let (status, v) = get_json(&c, app.url("/api/v4/peers/stats?start=x&end=1.5")).await;
    assert_eq!(status, 422);
    let detail = v["detail"].as_array().unwrap();
    assert_eq!(detail.len(), 2);
    assert_eq!(detail[0]["loc"], json!(["query", "start"]));
    assert_eq!(detail[0]["type"], "int_parsing");
    assert_eq!(detail[1]["loc"], json!(["query", "end"]));
    let r = c.post(app.url("/api/v4/peers/stats")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    let metrics = c
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("mictlanx_router_peer_requests_total{peer_id=\"s0\",outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("mictlanx_router_replica_map_keys"),
        "{metrics}"
    );

    for p in &mut peers {
        p.shutdown().await;
    }
    eventually("no peer answers", || async {
        peer_lists(&c, &app).await.0.is_empty()
    })
    .await;
    assert_eq!(
        get_json(&c, app.url("/api/v4/peers/stats")).await,
        (200, json!({}))
    );
    app.stop().await;
}

#[tokio::test]
async fn invalid_payloads_are_422_and_persist_failures_are_500() {
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state");
    let c = http_client();
    let app = App::spawn(config(&state, vec![])).await.unwrap();

    let r = c
        .post(app.url("/api/v4/peers"))
        .json(&json!({"peer_id": "x", "port": "abc"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    let detail = v["detail"].as_array().unwrap();
    let locs: Vec<&Value> = detail.iter().map(|e| &e["loc"]).collect();
    assert_eq!(
        locs,
        [
            &json!(["body", "protocol"]),
            &json!(["body", "hostname"]),
            &json!(["body", "port"])
        ]
    );
    assert_eq!(detail[0]["type"], "missing");
    assert_eq!(detail[2]["type"], "int_parsing");

    let payload = json!({"protocol": "http", "peer_id": "x", "hostname": "h", "port": 70000});
    let r = c
        .post(app.url("/api/v4/peers"))
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"][0]["loc"], json!(["body", "port"]));

    let r = c
        .post(app.url("/api/v4/xpeers"))
        .json(&json!({"peer_id": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"][0]["type"], "list_type");
    let r = c
        .post(app.url("/api/v4/xpeers"))
        .json(&json!([{"peer_id": "x"}]))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["detail"][0]["loc"], json!(["body", 0, "protocol"]));
    let r = c
        .delete(app.url("/api/v4/xpeers"))
        .json(&json!(["a", 1]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let r = c
        .post(app.url("/api/v4/xpeers"))
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);

    let good = json!({"protocol": "http", "peer_id": "kept", "hostname": "127.0.0.1", "port": 1});
    assert_eq!(
        c.post(app.url("/api/v4/peers"))
            .json(&good)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    // A directory where the temp file must go makes every registry write fail, also for root.
    std::fs::create_dir(state.join("peers.json.tmp")).unwrap();
    let other = json!({"protocol": "http", "peer_id": "new", "hostname": "127.0.0.1", "port": 2});
    let r = c
        .post(app.url("/api/v4/peers"))
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail": "ADD.PEERS.FAILED"})
    );
    let r = c
        .delete(app.url("/api/v4/peers/kept"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail": "Something went wrong removin a peer kept"})
    );
    let r = c
        .delete(app.url("/api/v4/xpeers?peers=kept&peers=b"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail": "Something went wrong removing a peers ['kept', 'b']"})
    );
    assert_eq!(all_peers(&c, &app).await, ["kept"], "nothing changed");
    app.stop().await;
}

#[tokio::test]
async fn peers_stats_path_shadowing_and_openapi() {
    let root = tempfile::tempdir().unwrap();
    let c = http_client();
    let app = App::spawn(config(&root.path().join("state"), vec![]))
        .await
        .unwrap();
    let stats_peer =
        json!({"protocol": "http", "peer_id": "stats", "hostname": "127.0.0.1", "port": 1});
    let r = c
        .post(app.url("/api/v4/peers"))
        .json(&stats_peer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(all_peers(&c, &app).await, ["stats"]);
    let (status, v) = get_json(&c, app.url("/api/v4/peers/stats")).await;
    assert_eq!(
        (status, v),
        (200, json!({})),
        "GET is #10, not a peer lookup"
    );
    let r = c
        .delete(app.url("/api/v4/peers/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        204,
        "DELETE is #8: removes the peer named stats"
    );
    assert!(all_peers(&c, &app).await.is_empty());

    let (_, doc) = get_json(&c, app.url("/openapi.json")).await;
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v4/xpeers",
        "/api/v4/peers",
        "/api/v4/peers/{peer_id}",
        "/api/v4/peers/stats",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from {:?}",
            paths.keys().collect::<Vec<_>>()
        );
    }
    assert!(
        paths["/api/v4/xpeers"].get("post").is_some()
            && paths["/api/v4/xpeers"].get("delete").is_some()
    );
    app.stop().await;
}

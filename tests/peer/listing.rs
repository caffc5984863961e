//! Listings and deletes: stats paging (exactly seven keys), xballs order and windows, bucket and ball-group
//! metadata, disable, delete by key and by ball id with `n-deletes`.

use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::*;
use serde_json::{json, Value};

async fn store(
    c: &reqwest::Client,
    peer: &PeerServer,
    bucket: &str,
    key: &str,
    ball: &str,
    tags: Value,
) {
    let size = key.len() as u64;
    let body = json!({"key": key, "size": size, "checksum": "c", "producer_id": "p", "ball_id": ball, "tags": tags});
    let res = put_metadata_raw(c, peer, bucket, body, &[]).await;
    assert_eq!(res.status(), 201);
    let task = res.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        upload_chunked(c, peer, &task, key.to_string())
            .await
            .status(),
        201
    );
}

fn keys(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}@{}",
                m["bucket_id"].as_str().unwrap(),
                m["key"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn stats_and_xballs_page_in_stable_byte_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = peer_config("p-list", dir.path());
    cfg.peers = vec!["http://n1:25000".into()];
    let peer = spawn_peer_with(cfg).await;
    let c = http_client();
    for (b, k) in [
        ("b2", "a"),
        ("b1", "zz"),
        ("b1", "Z"),
        ("b1", "a"),
        ("b10", "x"),
    ] {
        store(&c, &peer, b, k, k, json!({})).await;
    }
    let all = ["b1@Z", "b1@a", "b1@zz", "b10@x", "b2@a"];
    let (s, stats) = get_json(&c, &peer, "/api/v4/stats").await;
    assert_eq!(s, 200);
    let mut names: Vec<&str> = stats
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort();
    assert_eq!(
        names,
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
    assert_eq!(keys(&stats["balls"]), all);
    assert_eq!(stats["used_disk"], 6);
    assert_eq!(stats["available_disk"], 10_000_000_000u64 - 6);
    assert_eq!(stats["peers"], json!(["http://n1:25000"]));
    assert!(stats["disk_uf"].is_f64());

    let (_, page) = get_json(&c, &peer, "/api/v4/stats?start=1&end=3").await;
    assert_eq!(keys(&page["balls"]), &all[1..3]);
    let (_, page) = get_json(&c, &peer, "/api/v4/stats?start=3&end=0").await;
    assert_eq!(keys(&page["balls"]), &all[3..]);
    let (_, page) = get_json(&c, &peer, "/api/v4/stats?start=9").await;
    assert_eq!(page["balls"], json!([]));
    let (s, err) = get_json(&c, &peer, "/api/v4/stats?start=x").await;
    assert_eq!(
        (s, err),
        (400, json!({"detail": "start/end must be integers"}))
    );

    // xballs pages concatenate to the full, stable listing
    let mut paged = Vec::new();
    for start in (0..6).step_by(2) {
        let (_, page) = get_json(
            &c,
            &peer,
            &format!("/api/v4/xballs?start={start}&end={}", start + 2),
        )
        .await;
        paged.extend(keys(&page));
    }
    assert_eq!(paged, all);
    let (_, x) = get_json(&c, &peer, "/api/v4/xballs?start=0&end=1").await;
    let version = x[0]["version"]
        .as_u64()
        .expect("xballs items carry the version");
    assert_eq!(
        x,
        json!([{"bucket_id": "b1", "key": "Z", "size": 1, "version": version, "replication_factor": 0}])
    );
    let (_, xs) = get_json(&c, &peer, "/api/v4/xballs/size?start=4").await;
    assert_eq!(xs, json!([["b2", "a", 1]]));
    let (_, ps) = get_json(&c, &peer, "/api/v4/peers/state?start=0&end=1").await;
    assert_eq!(
        ps["balls"],
        json!({"b1@Z": {"locations": ["p-list"], "size": 1}})
    );
    assert_eq!(
        ps["nodes"],
        json!([{"node_id": "p-list", "ip_addr": "127.0.0.1", "port": peer.addr().port()}])
    );

    // a neighbour announced through #8 joins `peers`
    let node = json!({"id": "n2", "disk": 1, "memory": 2, "ip_addr": "h", "port": 3, "weight": 1.5, "used_disk": 0, "used_memory": 0});
    let res = c
        .post(format!("{}/api/v4/nodes", peer.base_url()))
        .json(&node)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap(), node);
    assert_eq!(
        get_json(&c, &peer, "/api/v4/stats").await.1["peers"],
        json!(["http://n1:25000", "n2"])
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn bucket_metadata_ball_groups_and_disable() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-group", dir.path()).await;
    let c = http_client();
    store(&c, &peer, "b", "c2", "ball", json!({"index": "2"})).await;
    store(&c, &peer, "b", "c10", "ball", json!({"index": "10"})).await;
    store(&c, &peer, "b", "cx", "ball", json!({"index": "n/a"})).await;
    store(&c, &peer, "b", "c0", "ball", json!({"index": "0"})).await;
    store(&c, &peer, "b", "solo", "solo", json!({})).await;
    store(&c, &peer, "other", "c1", "ball", json!({})).await;

    let (_, v) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/ball/group").await;
    assert_eq!(
        (&v["bucket_id"], &v["ball_id"], &v["size"]),
        (&json!("b"), &json!("ball"), &json!(9))
    );
    assert_eq!(keys(&v["balls"]), ["b@c0", "b@c2", "b@c10", "b@cx"]);
    let (_, chunks) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/ball/chunks").await;
    assert_eq!(chunks, v["balls"]);
    let (_, none) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/nope/group").await;
    assert_eq!(
        none,
        json!({"bucket_id": "b", "ball_id": "nope", "size": 0, "balls": []})
    );
    let (_, listing) = get_json(&c, &peer, "/api/v4/buckets/b/metadata").await;
    assert_eq!(
        keys(&listing["balls"]),
        ["b@c0", "b@c10", "b@c2", "b@cx", "b@solo"]
    );
    assert_eq!(
        get_json(&c, &peer, "/api/v4/buckets/zz/metadata").await.1["balls"],
        json!([])
    );
    let (_, size) = get_json(&c, &peer, "/api/v4/buckets/b/solo/size").await;
    assert_eq!(
        size,
        json!({"bucket_id": "b", "key": "solo", "peer_id": "p-group", "size": 4})
    );

    let url = format!("{}/api/v4/buckets/b/solo/disable", peer.base_url());
    for _ in 0..2 {
        assert_eq!(
            c.post(&url).send().await.unwrap().status(),
            204,
            "disable is idempotent"
        );
    }
    assert_eq!(
        get_object_sha(&c, &peer, "b", "solo").await.0,
        404,
        "disabled bytes answer 404"
    );
    let (s, v) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/solo").await;
    assert_eq!((s, &v["metadata"]["is_disabled"]), (200, &json!(true)));
    assert_eq!(
        get_json(&c, &peer, "/api/v4/balls/len").await.1,
        json!({"len": 6}),
        "disabled still counted"
    );
    let res = c
        .post(format!("{}/api/v4/buckets/b/none/disable", peer.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    peer.shutdown().await;
}

#[tokio::test]
async fn deletes_report_n_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-del", dir.path()).await;
    let c = http_client();
    for k in ["c1", "c2", "c3"] {
        store(&c, &peer, "b", k, "ball", json!({})).await;
    }
    store(&c, &peer, "b", "k", "k", json!({})).await;
    store(&c, &peer, "b2", "c9", "ball", json!({})).await;
    let base = peer.base_url();

    let res = c
        .delete(format!("{base}/api/v4/buckets/b/k"))
        .header("Force", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["n-deletes"], "1");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"n_deletes": 1, "key": "k"})
    );
    let res = c
        .delete(format!("{base}/api/v4/buckets/b/k"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["n-deletes"], "0");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "b@k not found"})
    );

    let res = c
        .delete(format!("{base}/api/v4/buckets/b/bid/ball"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["n-deletes"], "3");
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"n_deletes": 3, "ball_id": "ball"})
    );
    let res = c
        .delete(format!("{base}/api/v4/buckets/b/bid/ball"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (
            res.status().as_u16(),
            res.headers()["n-deletes"].to_str().unwrap()
        ),
        (200, "0")
    );

    assert_eq!(
        keys(&get_json(&c, &peer, "/api/v4/xballs").await.1),
        ["b2@c9"]
    );
    assert_eq!(
        get_json(&c, &peer, "/api/v4/stats/ufs").await.1["used_disk"],
        2
    );
    let data_files: usize = std::fs::read_dir(dir.path().join("data/objects"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(data_files, 1, "deleted objects' bytes are gone");
    peer.shutdown().await;
}

//! Several routers, one storage space: two routers (in process) on one real `redis-server` in front of
//! the same real peers. Invariants: an upload can move between routers between its phases; a read
//! through any router sees the newest committed write, delete and disable (no router's cache serves
//! older bytes); peer registrations are shared; a stalled Redis costs a bounded time and an honest 503;
//! a Redis that restarts empty is rebuilt from the peers, nothing stored becomes unreadable.

use std::time::{Duration, Instant};

use mictlanx_peer::PeerServer;
use mictlanx_router::app::{App, TestApp};
use mictlanx_router::config::{Config, StateBackend};
use mictlanx_testkit::datapath::{client, dto, object, peer_info};
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};
use mictlanx_testkit::redis::RedisServer;
use mictlanx_testkit::wait::eventually;
use serde_json::{json, Value};

struct Space {
    redis: RedisServer,
    dir: tempfile::TempDir,
    peers: Vec<PeerServer>,
    routers: Vec<TestApp>,
    http: reqwest::Client,
}

/// Router `i` of a space shared through `backend` (its own state dir under `dir`), seeded with `peers`,
/// with fast health rounds and a 1 s state timeout.
pub(crate) fn shared_space_config(
    dir: &std::path::Path,
    backend: StateBackend,
    peers: &[PeerServer],
    i: usize,
) -> Config {
    let mut cfg = Config::for_tests(dir.join(format!("router-{i}")));
    cfg.seed_peers = peers
        .iter()
        .map(|p| peer_info(p.node_id(), p.addr().port()))
        .collect();
    cfg.replica.health_interval = Duration::from_millis(200);
    cfg.replica.health_timeout = Duration::from_secs(1);
    cfg.replica.state_timeout = Duration::from_secs(1);
    cfg.replica.backend = backend;
    cfg
}

async fn space(n_peers: usize, n_routers: usize) -> Option<Space> {
    let redis = RedisServer::start()?;
    let dir = tempfile::tempdir().unwrap();
    let mut peers = Vec::new();
    for i in 0..n_peers {
        let id = format!("mp-{i}");
        peers.push(spawn_peer_with(peer_config(&id, &dir.path().join(&id))).await);
    }
    let mut routers = Vec::new();
    for i in 0..n_routers {
        let backend = StateBackend::Redis {
            url: redis.url(),
            prefix: "space".into(),
        };
        let cfg = shared_space_config(dir.path(), backend, &peers, i);
        routers.push(App::spawn(cfg).await.expect("router starts"));
    }
    let s = Space {
        redis,
        dir,
        peers,
        routers,
        http: client(),
    };
    for r in &s.routers {
        eventually("every peer available to every router", || async {
            r.state.rm.get_peers().await.unwrap().available.len() == n_peers
        })
        .await;
    }
    Some(s)
}

impl Space {
    async fn phase1(&self, r: usize, b: &str, k: &str, bytes: &[u8], rf: u32) -> Value {
        let res = self
            .http
            .post(self.routers[r].url(&format!("/api/v4/buckets/{b}/metadata")))
            .json(&dto(b, k, k, bytes.len(), rf, json!({})))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "phase 1 through router {r}");
        res.json().await.unwrap()
    }

    async fn phase2(&self, r: usize, task: &str, bytes: &[u8]) -> reqwest::Response {
        self.http
            .post(self.routers[r].url(&format!("/api/v4/buckets/data/{task}/chunked")))
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
    }

    async fn put(&self, r: usize, b: &str, k: &str, bytes: &[u8], rf: u32) -> Value {
        let meta = self.phase1(r, b, k, bytes, rf).await;
        let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
        let res = self.phase2(r, &task, bytes).await;
        assert_eq!(res.status(), 200, "phase 2 through router {r}");
        res.json().await.unwrap()
    }

    /// GET bytes through router `r`; `forced` = `Force-Get: 1`.
    async fn get(&self, r: usize, b: &str, k: &str, forced: bool) -> (u16, Vec<u8>) {
        let res = self
            .http
            .get(self.routers[r].url(&format!("/api/v4/buckets/{b}/{k}")))
            .header("Force-Get", if forced { "1" } else { "0" })
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.bytes().await.unwrap_or_default().to_vec())
    }

    async fn cache_keys(&self, r: usize) -> Vec<String> {
        let v: Value = self
            .http
            .get(self.routers[r].url("/api/v4/cache"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect()
    }

    async fn stop(self) {
        for r in self.routers {
            r.stop().await;
        }
        for p in self.peers {
            p.shutdown().await;
        }
        drop(self.redis);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_share_uploads_reads_caches_deletes_and_peers() {
    let Some(mut s) = space(3, 2).await else {
        return;
    };
    let (a, b) = (0, 1);
    // phase 1 through A, phase 2 through B
    let v1 = object(1, 30_000);
    let meta = s.phase1(a, "mr", "obj", &v1, 2).await;
    let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
    let res = s.phase2(b, &task, &v1).await;
    assert_eq!(
        res.status(),
        200,
        "the group is known to B: {:?}",
        res.text().await
    );
    for r in [a, b] {
        assert_eq!(s.get(r, "mr", "obj", true).await, (200, v1.clone()));
    }
    // B caches the object; an overwrite through A is what B serves next
    assert_eq!(s.get(b, "mr", "obj", false).await, (200, v1.clone()));
    assert!(s.cache_keys(b).await.contains(&"mr@obj".to_string()));
    let v2 = object(2, 30_000);
    s.put(a, "mr", "obj", &v2, 2).await;
    assert_eq!(
        s.get(b, "mr", "obj", false).await,
        (200, v2.clone()),
        "B's cache never serves bytes older than A's overwrite"
    );
    // disable through A: B's (cached) read is a 404
    assert_eq!(s.get(b, "mr", "obj", false).await, (200, v2.clone()));
    let res = s
        .http
        .post(s.routers[a].url("/api/v4/buckets/mr/obj/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        s.get(b, "mr", "obj", false).await.0,
        404,
        "disabled through A"
    );
    // delete through A: 404 through B
    let v3 = object(3, 10_000);
    s.put(a, "mr", "gone", &v3, 2).await;
    assert_eq!(s.get(b, "mr", "gone", false).await, (200, v3));
    let res = s
        .http
        .delete(s.routers[a].url("/api/v4/buckets/mr/gone"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(s.get(b, "mr", "gone", false).await.0, 404);
    assert_eq!(s.get(b, "mr", "gone", true).await.0, 404);

    // a peer added through A receives placements made through B
    let id = "mp-new";
    let extra = spawn_peer_with(peer_config(id, &s.dir.path().join(id))).await;
    let res = s
        .http
        .post(s.routers[a].url("/api/v4/peers"))
        .json(
            &json!({"protocol": "http", "peer_id": id, "hostname": "127.0.0.1",
            "port": extra.addr().port()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let rb = &s.routers[b];
    eventually("B uses the peer added through A", || async {
        rb.state
            .rm
            .get_peers()
            .await
            .unwrap()
            .available
            .iter()
            .any(|p| p.peer_id == id)
    })
    .await;
    let meta = s.phase1(b, "mr", "wide", &v1, 4).await;
    let replicas: Vec<&str> = meta["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(replicas.contains(&id), "{replicas:?}");
    s.peers.push(extra);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_is_a_bounded_503_then_everything_recovers() {
    let Some(s) = space(2, 2).await else {
        return;
    };
    let v = object(4, 20_000);
    s.put(0, "st", "k", &v, 2).await;
    assert_eq!(s.get(1, "st", "k", false).await, (200, v.clone()));
    s.redis.stop();
    for r in 0..2 {
        let started = Instant::now();
        let res = s
            .http
            .get(s.routers[r].url("/api/v4/buckets/st/k"))
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(res.status(), 503, "router {r}");
        assert!(res.headers().get("retry-after").is_some());
        let body: Value = res.json().await.unwrap();
        assert!(body["detail"].is_string(), "{body}");
        assert!(took < Duration::from_secs(6), "bounded: {took:?}");
        let ready = s.http.get(s.routers[r].url("/ready")).send().await.unwrap();
        assert_eq!(ready.status(), 503);
        let meta = s
            .http
            .get(s.routers[r].url("/api/v4/buckets/st/metadata/k"))
            .send()
            .await
            .unwrap();
        assert_eq!(meta.status(), 503);
    }
    s.redis.cont();
    for r in 0..2 {
        let router = &s.routers[r];
        let http = &s.http;
        eventually("ready again without a restart", || async {
            http.get(router.url("/ready"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        })
        .await;
        assert_eq!(s.get(r, "st", "k", false).await, (200, v.clone()));
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_restarts_empty_is_rebuilt_from_the_peers() {
    let Some(mut s) = space(3, 2).await else {
        return;
    };
    let objects: Vec<(String, Vec<u8>)> = (0..6)
        .map(|i| (format!("o{i}"), object(10 + i as u8, 5_000 + i * 100)))
        .collect();
    for (i, (k, v)) in objects.iter().enumerate() {
        s.put(i % 2, "rb", k, v, 2).await;
    }
    // a peer added at run time must not be forgotten with Redis' data
    let id = "mp-late";
    let late = spawn_peer_with(peer_config(id, &s.dir.path().join(id))).await;
    let res = s
        .http
        .post(s.routers[0].url("/api/v4/peers"))
        .json(
            &json!({"protocol": "http", "peer_id": id, "hostname": "127.0.0.1",
            "port": late.addr().port()}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let r1 = &s.routers[1];
    eventually("router 1 uses the added peer", || async {
        r1.state.rm.get_peers().await.unwrap().available.len() == 4
    })
    .await;
    let put = s.put(1, "rb", "on-late", &object(40, 3_000), 4).await;
    assert_eq!(put["peer_ids"].as_array().unwrap().len(), 4);

    s.redis.kill();
    s.redis.restart();
    for r in 0..2 {
        for (k, v) in &objects {
            let (s2, k2, v2) = (&s, k.clone(), v.clone());
            eventually("readable again", || {
                let k2 = k2.clone();
                let v2 = v2.clone();
                async move { s2.get(r, "rb", &k2, false).await == (200, v2) }
            })
            .await;
        }
        let router = &s.routers[r];
        eventually("the runtime-added peer is known again", || async {
            router
                .state
                .rm
                .get_peers()
                .await
                .unwrap()
                .available
                .iter()
                .any(|p| p.peer_id == id)
        })
        .await;
    }
    // the leader rebuilt the replica map from the peers (not only discovery on reads)
    let rm = &s.routers[0].state.rm;
    eventually("replica map rebuilt", || async {
        rm.get_replicas("rb", "on-late")
            .await
            .is_ok_and(|v| v.replicas.len() == 4)
    })
    .await;
    s.peers.push(late);
    s.stop().await;
}

//! The replica manager against real in-process storage peers, one suite run on every state backend
//! (embedded, and Redis with a real `redis-server` per test): registry persistence across restarts,
//! health and error limiting, inventory rebuild, discovery, stats and task-group expiry.

use mictlanx_testkit::redis::RedisServer;
use mictlanx_testkit::{wait::eventually, Peer};

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mictlanx_router::cluster::discovery::discover;
use mictlanx_router::cluster::EmbeddedReplicaManager;
use mictlanx_router::cluster::{PeerInfo, PlacementError, ReplicaManager, RmError, TaskGroup};
use mictlanx_router::config::{Config, StateBackend};
use mictlanx_router::peer_client::{PeerClient, PeerError, PeerPutMetadata};
use mictlanx_router::telemetry::Metrics;
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};

/// One state backend the suite runs on.
pub(crate) struct Backend {
    pub(crate) name: &'static str,
    redis: Option<RedisServer>,
}

/// The embedded backend, and Redis when `redis-server` is installed (required in CI).
pub(crate) fn backends() -> Vec<Backend> {
    let mut out = vec![Backend {
        name: "embedded",
        redis: None,
    }];
    if let Some(redis) = RedisServer::start() {
        out.push(Backend {
            name: "redis",
            redis: Some(redis),
        });
    }
    out
}

pub(crate) fn config(be: &Backend, state: &Path, seed: Vec<PeerInfo>) -> Config {
    let mut cfg = Config::for_tests(state.to_path_buf());
    if let Some(redis) = &be.redis {
        cfg.replica.backend = StateBackend::Redis {
            url: redis.url(),
            prefix: "suite".into(),
        };
    }
    cfg.seed_peers = seed;
    cfg.replica.health_interval = Duration::from_millis(200);
    cfg.replica.health_timeout = Duration::from_secs(2);
    cfg.peer_io.connect_timeout = Duration::from_secs(2);
    cfg.peer_io.peer_timeout = Duration::from_secs(5);
    cfg
}

pub(crate) fn client(cfg: &Config) -> PeerClient {
    PeerClient::new(&cfg.peer_io, cfg.test_mode).expect("peer client")
}

async fn start(cfg: &Config) -> Arc<EmbeddedReplicaManager> {
    EmbeddedReplicaManager::start(cfg, client(cfg), Metrics::new())
        .await
        .expect("manager starts")
}

fn ids(peers: &[PeerInfo]) -> Vec<String> {
    peers.iter().map(|p| p.peer_id.clone()).collect()
}

async fn available(rm: &dyn ReplicaManager) -> Vec<String> {
    ids(&rm.get_peers().await.unwrap().available)
}

/// Writes `b/k` directly to one peer (phase 1 + phase 2), bypassing any router, at one fixed version (the
/// copies of one write share a version).
pub(crate) async fn put_direct(
    c: &PeerClient,
    peer: &PeerInfo,
    b: &str,
    k: &str,
    data: &'static [u8],
) {
    let meta = PeerPutMetadata {
        bucket_id: b.into(),
        key: k.into(),
        ball_id: k.into(),
        checksum: "abc".into(),
        size: data.len() as u64,
        tags: Default::default(),
        producer_id: "test".into(),
        content_type: "text/plain".into(),
        is_disabled: false,
    };
    let r = c
        .put_metadata(peer, b, &meta, None, "0")
        .await
        .expect("put metadata");
    let up = c
        .upload_chunked_versioned(
            peer,
            &r.task_id,
            data.len() as u64,
            reqwest::Body::from(data),
            Some(1000),
        )
        .await;
    assert_eq!(up.expect("upload").size, data.len() as u64);
}

#[tokio::test]
async fn registry_persists_added_and_removed_peers_across_restarts() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let mut peers = Vec::new();
        for id in ["p0", "p1", "p2", "p3"] {
            peers.push(Peer::in_process(id, root.path()).await);
        }
        let seed: Vec<PeerInfo> = peers[..3].iter().map(Peer::info).collect();
        let state = root.path().join("state");
        let cfg = config(&be, &state, seed);

        let rm = start(&cfg).await;
        eventually("three seed peers available", || async {
            available(rm.as_ref()).await == ["p0", "p1", "p2"]
        })
        .await;

        rm.add_peers(vec![peers[3].info()]).await.unwrap();
        let listed = rm.get_peers().await.unwrap();
        assert!(
            ids(&listed.available).contains(&"p3".to_string())
                || ids(&listed.unavailable).contains(&"p3".to_string())
        );
        eventually("added peer probed at once", || async {
            available(rm.as_ref()).await.len() == 4
        })
        .await;
        if be.redis.is_none() {
            let doc: serde_json::Value =
                serde_json::from_slice(&std::fs::read(state.join("peers.json")).unwrap()).unwrap();
            assert_eq!(doc["version"], 1);
            assert_eq!(doc["added"][0]["peer_id"], "p3");
            assert_eq!(doc["added"][0]["port"], peers[3].port);
        } else {
            // Another router of the same space uses the peer added through this one, and drops it
            // once it is removed, within a health interval.
            let other = start(&config(
                &be,
                &root.path().join("state2"),
                cfg.seed_peers.clone(),
            ))
            .await;
            eventually("the other router uses the added peer", || async {
                available(other.as_ref()).await.contains(&"p3".to_string())
            })
            .await;
            rm.remove_peers(vec!["p3".into()]).await.unwrap();
            eventually("the other router drops the removed peer", || async {
                matches!(other.get_peer("p3").await, Err(RmError::NotFound(_)))
            })
            .await;
            rm.add_peers(vec![peers[3].info()]).await.unwrap();
            other.shutdown().await;
        }
        rm.shutdown().await;
        drop(rm);

        let rm = start(&cfg).await;
        let all = rm.get_peers().await.unwrap();
        assert_eq!(
            all.available.len() + all.unavailable.len(),
            4,
            "the added peer survives a restart"
        );
        eventually("four peers available after restart", || async {
            available(rm.as_ref()).await.len() == 4
        })
        .await;

        assert_eq!(
            rm.remove_peers(vec!["p3".into(), "nope".into()])
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            rm.remove_peers(vec!["p3".into()]).await.unwrap(),
            0,
            "idempotent"
        );
        assert!(matches!(rm.get_peer("p3").await, Err(RmError::NotFound(_))));
        rm.remove_peers(vec!["p0".into()]).await.unwrap();
        rm.shutdown().await;
        drop(rm);

        let rm = start(&cfg).await;
        let all = rm.get_peers().await.unwrap();
        let mut every = ids(&all.available);
        every.extend(ids(&all.unavailable));
        every.sort();
        assert_eq!(
            every,
            ["p1", "p2"],
            "removals (also of a seed peer) survive a restart"
        );
        rm.shutdown().await;

        if be.redis.is_none() {
            std::fs::write(state.join("peers.json"), b"{broken").unwrap();
            let err = EmbeddedReplicaManager::start(&cfg, client(&cfg), Metrics::new())
                .await
                .err()
                .expect("unparsable peers.json stops start-up");
            assert!(format!("{err:#}").contains("peers.json"), "{err:#}");
        }
        for p in &mut peers {
            p.shutdown().await;
        }
    }
}

#[tokio::test]
async fn health_follows_peers_going_down_and_coming_back() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let mut peers = Vec::new();
        for id in ["h0", "h1", "h2"] {
            peers.push(Peer::in_process(id, root.path()).await);
        }
        let cfg = config(
            &be,
            &root.path().join("state"),
            peers.iter().map(Peer::info).collect(),
        );
        let rm = start(&cfg).await;
        eventually("all available", || async {
            available(rm.as_ref()).await.len() == 3
        })
        .await;

        peers[1].shutdown().await;
        eventually("stopped peer unavailable", || async {
            available(rm.as_ref()).await == ["h0", "h2"]
        })
        .await;
        assert!(matches!(
            rm.get_peer("h1").await,
            Err(RmError::Unavailable(_))
        ));
        assert_eq!(ids(&rm.get_peers().await.unwrap().unavailable), ["h1"]);

        peers[0].shutdown().await;
        peers[2].shutdown().await;
        eventually("no peer available", || async {
            available(rm.as_ref()).await.is_empty()
        })
        .await;
        assert!(matches!(
            rm.place("b", "k", 1, 1).await,
            Err(PlacementError::AllHold { .. })
        ));

        peers[1].restart().await;
        eventually("restarted peer back", || async {
            available(rm.as_ref()).await == ["h1"]
        })
        .await;
        assert_eq!(rm.get_peer("h1").await.unwrap().port, peers[1].port);
        rm.shutdown().await;
        peers[1].shutdown().await;
    }
}

#[tokio::test]
async fn connect_errors_take_a_peer_out_of_rotation_at_once() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let mut peer = Peer::in_process("e0", root.path()).await;
        let mut cfg = config(&be, &root.path().join("state"), vec![peer.info()]);
        cfg.replica.health_interval = Duration::from_secs(3600);
        let rm = start(&cfg).await;
        eventually("available", || async {
            available(rm.as_ref()).await.len() == 1
        })
        .await;
        let reporting = client(&cfg).reporting_to(rm.clone());
        peer.shutdown().await;
        let err = reporting
            .get_metadata(&peer.info(), "b", "k")
            .await
            .unwrap_err();
        assert!(matches!(err, PeerError::Connect(_)), "{err:?}");
        assert!(err.is_fault());
        assert!(
            available(rm.as_ref()).await.is_empty(),
            "no probe needed: the connect error was reported"
        );
        rm.shutdown().await;
    }
}

#[tokio::test]
async fn replica_map_is_rebuilt_from_peer_inventories() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let peers = [
            Peer::in_process("r0", root.path()).await,
            Peer::in_process("r1", root.path()).await,
        ];
        let mut cfg = config(
            &be,
            &root.path().join("state"),
            peers.iter().map(Peer::info).collect(),
        );
        cfg.replica.rebuild_page_size = 2;
        cfg.replica.rebuild_interval = Duration::from_millis(300);
        let c = client(&cfg);
        for k in ["k0", "k1", "k2", "k3", "k4"] {
            put_direct(&c, &peers[0].info(), "bkt", k, b"hello").await;
        }
        put_direct(&c, &peers[1].info(), "bkt", "k2", b"hello").await;

        let rm = start(&cfg).await;
        eventually("every paged object mapped", || async {
            let mut ok = true;
            for k in ["k0", "k1", "k3", "k4"] {
                ok &= ids(&rm.get_replicas("bkt", k).await.unwrap().replicas) == ["r0"];
            }
            ok && ids(&rm.get_replicas("bkt", "k2").await.unwrap().replicas) == ["r0", "r1"]
        })
        .await;
        let read = rm.choose_read_replica("bkt", "k2").await.unwrap();
        let mut both = ids(&read.peers);
        both.sort();
        assert_eq!(both, ["r0", "r1"]);
        // Fewest calls in flight first (inventory passes add at most one per peer).
        for _ in 0..5 {
            rm.report_start("r0").await;
        }
        assert_eq!(
            ids(&rm.choose_read_replica("bkt", "k2").await.unwrap().peers),
            ["r1", "r0"]
        );
        for _ in 0..10 {
            rm.report_start("r1").await;
        }
        assert_eq!(
            ids(&rm.choose_read_replica("bkt", "k2").await.unwrap().peers),
            ["r0", "r1"]
        );

        // A record the peer does not back is dropped by a later complete pass.
        rm.add_replicas("bkt", "ghost", vec!["r1".into(), "unknown-peer".into()])
            .await
            .unwrap();
        assert_eq!(
            ids(&rm.get_replicas("bkt", "ghost").await.unwrap().replicas),
            ["r1"]
        );
        eventually("stale record removed", || async {
            rm.get_replicas("bkt", "ghost")
                .await
                .unwrap()
                .replicas
                .is_empty()
        })
        .await;
        assert_eq!(
            ids(&rm.get_replicas("bkt", "k2").await.unwrap().replicas),
            ["r0", "r1"]
        );
        rm.shutdown().await;
    }
}

#[tokio::test]
async fn discovery_finds_objects_written_after_start() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let peers = [
            Peer::in_process("d0", root.path()).await,
            Peer::in_process("d1", root.path()).await,
        ];
        let mut cfg = config(
            &be,
            &root.path().join("state"),
            peers.iter().map(Peer::info).collect(),
        );
        cfg.replica.rebuild_interval = Duration::ZERO;
        let c = client(&cfg);
        let rm = start(&cfg).await;
        eventually("available", || async {
            available(rm.as_ref()).await.len() == 2
        })
        .await;

        put_direct(&c, &peers[1].info(), "late", "obj", b"bytes").await;
        assert!(
            rm.choose_read_replica("late", "obj")
                .await
                .unwrap()
                .peers
                .is_empty(),
            "unknown to the map"
        );
        let found = discover(rm.as_ref(), &c, "late", "obj", &[]).await;
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.peer_id, "d1");
        assert_eq!(found[0].1.metadata.size, 5);
        assert_eq!(found[0].1.peer_id, "d1");
        assert_eq!(
            ids(&rm.choose_read_replica("late", "obj").await.unwrap().peers),
            ["d1"],
            "recorded"
        );

        assert!(
            discover(rm.as_ref(), &c, "late", "obj", &["d1".into()])
                .await
                .is_empty(),
            "excluded peers are not asked"
        );
        // a stale record is dropped when its peer answers 404
        rm.add_replicas("late", "missing", vec!["d0".into()])
            .await
            .unwrap();
        assert!(discover(rm.as_ref(), &c, "late", "missing", &[])
            .await
            .is_empty());
        assert!(rm
            .get_replicas("late", "missing")
            .await
            .unwrap()
            .replicas
            .is_empty());
        rm.shutdown().await;
    }
}

#[tokio::test]
async fn stats_fan_out_has_seven_keys_and_pages() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let peers = [
            Peer::in_process("s0", root.path()).await,
            Peer::in_process("s1", root.path()).await,
        ];
        let cfg = config(
            &be,
            &root.path().join("state"),
            peers.iter().map(Peer::info).collect(),
        );
        let c = client(&cfg);
        for k in ["a", "b", "c"] {
            put_direct(&c, &peers[0].info(), "st", k, b"xy").await;
        }
        let rm = start(&cfg).await;
        eventually("available", || async {
            available(rm.as_ref()).await.len() == 2
        })
        .await;
        let stats = rm.get_stats(0, 100).await.unwrap();
        assert_eq!(stats.keys().collect::<Vec<_>>(), ["s0", "s1"]);
        let v = serde_json::to_value(&stats["s0"]).unwrap();
        let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
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
        assert_eq!(stats["s0"].balls.len(), 3);
        assert_eq!(stats["s0"].used_disk, 6);
        assert!(v["disk_uf"].is_f64());
        let page = rm.get_stats(1, 2).await.unwrap();
        assert_eq!(page["s0"].balls.len(), 1);
        assert_eq!(page["s0"].balls[0].key, "b");
        rm.shutdown().await;
    }
}

#[tokio::test]
async fn placement_reserves_space_and_task_groups_expire() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let mut peers = Vec::new();
        for id in ["t0", "t1", "t2"] {
            let dir = root.path().join(id);
            let mut pc = peer_config(id, &dir);
            pc.disk_capacity = 100;
            let server = spawn_peer_with(pc).await;
            peers.push(Peer::from_server(server, dir));
        }
        let mut cfg = config(
            &be,
            &root.path().join("state"),
            peers.iter().map(Peer::info).collect(),
        );
        cfg.replica.task_ttl = Duration::from_secs(1);
        let rm = start(&cfg).await;
        eventually("available", || async {
            available(rm.as_ref()).await.len() == 3
        })
        .await;

        let first = rm.place("b", "k", 60, 2).await.unwrap();
        assert_eq!(ids(&first.write_set), ["t0", "t1"]);
        assert!(!first.under_replicated);
        // t0 and t1 hold a 60-byte reservation: only t2 has room for another 60 bytes.
        let second = rm.place("b", "k2", 60, 2).await.unwrap();
        assert_eq!(ids(&second.write_set), ["t2"]);
        assert!(second.under_replicated);
        assert!(matches!(
            rm.place("b", "k3", 60, 1).await,
            Err(PlacementError::NoCapacity { size: 60 })
        ));
        rm.release_reservation(&first.reservation_id).await.unwrap();
        assert_eq!(
            ids(&rm.place("b", "k3", 60, 1).await.unwrap().write_set),
            ["t0"]
        );

        rm.set_replicas("b", "k", vec!["t1".into()]).await.unwrap();
        let p = rm.place("b", "k", 10, 1).await.unwrap();
        assert_eq!(
            ids(&p.write_set),
            ["t1"],
            "a live holder is rewritten in place"
        );
        assert_eq!(p.holders, ["t1"]);

        let group = TaskGroup {
            group_id: "g1".into(),
            operation: "PUT".into(),
            bucket_id: "b".into(),
            key: "k".into(),
            size: 10,
            content_type: "text/plain".into(),
            tasks: vec![],
            reservation_id: Some(p.reservation_id.clone()),
            created_at_ns: 0,
            expires_at_ns: 0,
            claimed_until_ns: None,
            claim_token: 0,
            claim_owner: None,
            rf: 1,
            meta: None,
        };
        rm.put_task_group(group).await.unwrap();
        let claimed = rm.claim_task_group("g1").await.unwrap();
        assert!(claimed.group.claimed_until_ns.is_some());
        assert_eq!(claimed.token, 1);
        assert!(matches!(
            rm.claim_task_group("g1").await,
            Err(RmError::Conflict(_))
        ));
        rm.release_task_group(&claimed).await.unwrap();
        assert!(rm.get_task_group("g1").await.unwrap().is_some());
        eventually("task group expired", || async {
            rm.get_task_group("g1").await.unwrap().is_none()
        })
        .await;
        assert!(matches!(
            rm.claim_task_group("g1").await,
            Err(RmError::NotFound(_))
        ));
        rm.shutdown().await;
        for p in &mut peers {
            p.shutdown().await;
        }
    }
}

#[tokio::test]
async fn a_failing_upload_source_is_not_blamed_on_the_peer() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let peer = Peer::in_process("u0", root.path()).await;
        let mut cfg = config(&be, &root.path().join("state"), vec![peer.info()]);
        cfg.replica.health_interval = Duration::from_secs(3600);
        let rm = start(&cfg).await;
        eventually("available", || async {
            available(rm.as_ref()).await.len() == 1
        })
        .await;
        let c = client(&cfg).reporting_to(rm.clone());
        let info = peer.info();
        for (key, broken) in [("short", false), ("broken", true)] {
            let meta = PeerPutMetadata {
                bucket_id: "b".into(),
                key: key.into(),
                ball_id: key.into(),
                checksum: "abc".into(),
                size: 10,
                tags: Default::default(),
                producer_id: "t".into(),
                content_type: "text/plain".into(),
                is_disabled: false,
            };
            let task = c.put_metadata(&info, "b", &meta, None, "0").await.unwrap();
            let mut chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
                vec![Ok(bytes::Bytes::from_static(b"abc"))];
            if broken {
                chunks.push(Err(std::io::Error::other("client went away")));
            }
            let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
            let err = c
                .upload_chunked(&info, &task.task_id, 10, body)
                .await
                .unwrap_err();
            assert!(err.to_string().contains("aborted by its source"), "{err}");
            assert!(
                matches!(
                    c.get_metadata(&info, "b", key).await,
                    Err(PeerError::NotFound(_))
                ),
                "nothing stored"
            );
            assert_eq!(
                available(rm.as_ref()).await,
                ["u0"],
                "the peer stays in rotation"
            );
        }
        rm.shutdown().await;
    }
}

/// A stand-in peer whose health endpoint works but whose listing endpoints fail with 500.
async fn half_broken_peer() -> u16 {
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Json;
    let app = axum::Router::new()
        .route(
            "/api/v4/stats/ufs",
            get(|| async {
                Json(serde_json::json!({"total_disk": 100, "used_disk": 0, "disk_uf": 0.0}))
            }),
        )
        .route(
            "/api/v4/stats",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .route(
            "/api/v4/xballs",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test]
async fn the_managers_own_calls_feed_error_limiting() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let port = half_broken_peer().await;
        let info = PeerInfo {
            peer_id: "bad".into(),
            ip_addr: "127.0.0.1".into(),
            port,
            protocol: "http".into(),
            api_version: 4,
        };
        let mut cfg = config(&be, &root.path().join("state"), vec![info]);
        cfg.replica.health_interval = Duration::from_secs(3600);
        cfg.replica.error_threshold = 3;
        let rm = start(&cfg).await;
        eventually("available", || async {
            available(rm.as_ref()).await.len() == 1
        })
        .await;
        // Only 5xx answers reach the error counter (probes report nowhere), so after three fan-outs (plus,
        // perhaps, the failed start-up inventory pass) the threshold is reached.
        for _ in 0..3 {
            assert!(
                rm.get_stats(0, 10).await.unwrap().is_empty(),
                "failed peers are left out"
            );
        }
        assert!(
            available(rm.as_ref()).await.is_empty(),
            "three 5xx in a row: cooling down"
        );
        assert!(matches!(
            rm.get_peer("bad").await,
            Err(RmError::Unavailable(_))
        ));
        rm.shutdown().await;
    }
}

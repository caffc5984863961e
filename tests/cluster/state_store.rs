//! The state-store contract, one suite run against every backend: the embedded store (in process, state
//! dir), the Redis store (a real `redis-server` per test) and the same store on a real Redis Cluster
//! (three masters, three replicas per test). Compare-and-set, all-or-nothing changes of one object, the
//! derived indexes, task groups by member id with their TTL, reservations, leases, documents.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use mictlanx_router::cluster::record::ObjectRecord;
use mictlanx_router::cluster::registry::RegistryFile;
use mictlanx_router::cluster::store::memory::MemoryStore;
use mictlanx_router::cluster::store::redis::RedisStore;
use mictlanx_router::cluster::store::{StateStore, Versioned, Write};
use mictlanx_router::cluster::{PeerInfo, Reservation, TaskGroup, TaskX};
use mictlanx_testkit::redis::RedisServer;
use mictlanx_testkit::redis_cluster::RedisCluster;

/// Keeps a backend's resources (temp dir, redis-server) alive for the test.
type Guard = Box<dyn std::any::Any>;

/// Every backend available here: the embedded one always, Redis and Redis Cluster when `redis-server`
/// is installed.
pub(crate) async fn backends() -> Vec<(&'static str, Arc<dyn StateStore>, Guard)> {
    let dir = tempfile::tempdir().unwrap();
    let file = RegistryFile::open(&dir.path().join("state")).unwrap();
    let mut out: Vec<(&'static str, Arc<dyn StateStore>, Guard)> = vec![(
        "embedded",
        Arc::new(MemoryStore::open(file).unwrap()),
        Box::new(dir),
    )];
    if let Some(redis) = RedisServer::start() {
        let store = RedisStore::connect(&redis.url(), "test", Duration::from_secs(2))
            .await
            .expect("redis store connects");
        out.push(("redis", Arc::new(store), Box::new(redis)));
    }
    if let Some(cluster) = RedisCluster::start() {
        let store = RedisStore::connect_cluster(&cluster.seeds(), "test", Duration::from_secs(2))
            .await
            .expect("redis cluster store connects");
        out.push(("redis-cluster", Arc::new(store), Box::new(cluster)));
    }
    out
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

pub(crate) fn record(holders: &[&str], version: u64, rf: u32) -> ObjectRecord {
    let mut r = ObjectRecord::default();
    let ids: Vec<String> = holders.iter().map(|h| h.to_string()).collect();
    r.commit(&ids, version, rf, 1);
    r
}

pub(crate) fn put(key: &str, prev: Option<Versioned<ObjectRecord>>, next: ObjectRecord) -> Write {
    Write::Object {
        key: key.into(),
        prev,
        next: Some(next),
    }
}

/// Every key of the peer's index, page after page; the store's count of the index agrees.
pub(crate) async fn all_pages(store: &dyn StateStore, peer: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.peer_objects(peer, cursor, 2).await.unwrap();
        keys.extend(page.keys);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    assert_eq!(
        store.peer_object_count(peer).await.unwrap(),
        keys.len() as u64,
        "the index count of {peer} agrees with its pages"
    );
    keys
}

/// Every key of the attention set, page after page (a page may be empty and still have a next one).
async fn attention(store: &dyn StateStore) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.attention(cursor, 2).await.unwrap();
        keys.extend(page.keys);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[tokio::test]
async fn object_records_are_compare_and_set_with_derived_indexes() {
    let all = backends().await;
    assert!(
        all.len() == 3 || std::env::var("MICTLANX_TEST_REQUIRE_TOOLS").as_deref() != Ok("1"),
        "every backend runs in CI"
    );
    for (name, store, _guard) in all {
        let big = u64::MAX - 7;
        assert!(store
            .apply(vec![put("b@k", None, record(&["p1", "p2"], big, 3))])
            .await
            .unwrap());
        assert!(
            !store
                .apply(vec![put("b@k", None, record(&["p9"], 1, 1))])
                .await
                .unwrap(),
            "{name}: a create over an existing record fails"
        );
        let v1 = store.object("b@k").await.unwrap().expect("stored");
        assert_eq!(v1.value, record(&["p1", "p2"], big, 3), "{name}");
        assert_eq!(
            store.object_version("b@k").await.unwrap(),
            Some(big),
            "{name}: 64-bit versions survive exactly"
        );
        assert!(v1.value.needs_attention());
        assert_eq!(store.attention_len().await.unwrap(), 1, "{name}");
        for k in ["b@a", "b@c", "b@d"] {
            assert!(store
                .apply(vec![put(k, None, record(&["p1"], 5, 1))])
                .await
                .unwrap());
        }
        assert_eq!(
            all_pages(store.as_ref(), "p1").await,
            ["b@a", "b@c", "b@d", "b@k"],
            "{name}: per-peer index, paged"
        );
        assert_eq!(store.object_count().await.unwrap(), 4, "{name}");

        let next = record(&["p2", "p3", "p4"], big + 1, 3);
        assert!(store
            .apply(vec![put("b@k", Some(v1.clone()), next.clone())])
            .await
            .unwrap());
        assert!(
            !store
                .apply(vec![put("b@k", Some(v1.clone()), record(&["x"], 1, 1))])
                .await
                .unwrap(),
            "{name}: a stale revision fails"
        );
        assert_eq!(all_pages(store.as_ref(), "p1").await, ["b@a", "b@c", "b@d"]);
        assert_eq!(all_pages(store.as_ref(), "p4").await, ["b@k"]);
        assert_eq!(store.attention_len().await.unwrap(), 0, "{name}: at its rf");

        let v2 = store.object("b@k").await.unwrap().unwrap();
        assert!(v2.rev != v1.rev);
        assert!(store
            .apply(vec![Write::Object {
                key: "b@k".into(),
                prev: Some(v2),
                next: None
            }])
            .await
            .unwrap());
        assert!(store.object("b@k").await.unwrap().is_none());
        assert!(all_pages(store.as_ref(), "p4").await.is_empty(), "{name}");
        assert_eq!(store.object_count().await.unwrap(), 3, "{name}");
        // recreated after a delete: the reader of the first incarnation cannot write (no ABA)
        assert!(store
            .apply(vec![put("b@k", None, record(&["p1"], 9, 1))])
            .await
            .unwrap());
        assert!(!store
            .apply(vec![put("b@k", Some(v1), record(&["x"], 1, 1))])
            .await
            .unwrap());
    }
}

/// A batch is all or nothing for each object (its record and its task group); the reservations of a
/// batch are written only when every object change went through. Changes of different objects may
/// live on different Redis Cluster masters, so a batch that fails on one object may have applied
/// another object's change: callers re-read and redo per key.
#[tokio::test]
async fn batches_apply_all_or_nothing() {
    for (name, store, _guard) in backends().await {
        assert!(store
            .apply(vec![put("b@k", None, record(&["p"], 1, 1))])
            .await
            .unwrap());
        let stale = store.object("b@k").await.unwrap();
        assert!(store
            .apply(vec![put("b@k", stale.clone(), record(&["q"], 2, 1))])
            .await
            .unwrap());
        let res = Reservation {
            id: "r1".into(),
            peers: vec!["p".into()],
            size: 10,
            expires_at_ns: now_ns() + 60_000_000_000,
        };
        let g = group("g-batch", &["g-batch"]);
        let batch = vec![
            Write::Group {
                id: "g-batch".into(),
                prev: None,
                next: Some(g),
                ttl: Duration::from_secs(60),
            },
            Write::Reserve(res),
            put("b@k", stale, record(&["z"], 3, 1)),
        ];
        assert!(!store.apply(batch).await.unwrap(), "{name}");
        assert!(
            store.group("g-batch").await.unwrap().is_none(),
            "{name}: the object's group is not written when its record fails"
        );
        assert_eq!(
            store.object("b@k").await.unwrap().unwrap().value,
            record(&["q"], 2, 1),
            "{name}"
        );
        assert!(
            store.reservations(now_ns()).await.unwrap().is_empty(),
            "{name}: nothing of a failed batch is written"
        );
    }
}

fn group(id: &str, tasks: &[&str]) -> TaskGroup {
    TaskGroup {
        group_id: id.into(),
        operation: "PUT".into(),
        bucket_id: "b".into(),
        key: "k".into(),
        size: 3,
        content_type: "x".into(),
        tasks: tasks
            .iter()
            .map(|t| TaskX {
                task_id: t.to_string(),
                group_id: id.into(),
                operation: "PUT".into(),
                bucket_id: "b".into(),
                key: "k".into(),
                size: 3,
                peers: vec![format!("peer-{t}")],
                content_type: "x".into(),
                status: "NEW".into(),
            })
            .collect(),
        reservation_id: Some("r".into()),
        created_at_ns: 1,
        expires_at_ns: u64::MAX - 1,
        claimed_until_ns: None,
        claim_token: 0,
        claim_owner: None,
        rf: 2,
        meta: None,
    }
}

#[tokio::test]
async fn task_groups_by_member_id_with_ttl() {
    for (name, store, _guard) in backends().await {
        let g = group("g1", &["g1", "t2"]);
        let w = |prev, next: Option<TaskGroup>, ttl_ms| Write::Group {
            id: "g1".into(),
            prev,
            next,
            ttl: Duration::from_millis(ttl_ms),
        };
        assert!(store
            .apply(vec![w(None, Some(g.clone()), 60_000)])
            .await
            .unwrap());
        let by_task = store.group("t2").await.unwrap().expect("member id");
        assert_eq!(by_task.value, g, "{name}");
        assert_eq!(store.group("g1").await.unwrap().unwrap().rev, by_task.rev);
        assert_eq!(store.group_count().await.unwrap(), 1, "{name}");
        let mut claimed = g.clone();
        claimed.claim_token = 1;
        assert!(store
            .apply(vec![w(
                Some(by_task.clone()),
                Some(claimed.clone()),
                60_000
            )])
            .await
            .unwrap());
        assert!(
            !store
                .apply(vec![w(Some(by_task), Some(g.clone()), 60_000)])
                .await
                .unwrap(),
            "{name}: claims are compare-and-set"
        );
        let cur = store.group("g1").await.unwrap().unwrap();
        assert!(store.apply(vec![w(Some(cur), None, 1)]).await.unwrap());
        assert!(store.group("g1").await.unwrap().is_none());
        assert!(
            store.group("t2").await.unwrap().is_none(),
            "{name}: the member index goes with the group"
        );
        // expiry
        assert!(store
            .apply(vec![w(None, Some(g.clone()), 300)])
            .await
            .unwrap());
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(
            store.group("g1").await.unwrap().is_none(),
            "{name}: expired"
        );
        assert!(
            store.group("t2").await.unwrap().is_none(),
            "{name}: expired"
        );
        store.sweep(now_ns()).await.unwrap();
        assert_eq!(store.group_count().await.unwrap(), 0, "{name}");
    }
}

#[tokio::test]
async fn reservations_leases_documents_and_registry() {
    for (name, store, _guard) in backends().await {
        let now = now_ns();
        let r = |id: &str, ms: u64| Reservation {
            id: id.into(),
            peers: vec!["a".into(), "b".into()],
            size: 7,
            expires_at_ns: now + ms * 1_000_000,
        };
        store
            .apply(vec![
                Write::Reserve(r("live", 60_000)),
                Write::Reserve(r("old", 1)),
            ])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let live = store.reservations(now_ns()).await.unwrap();
        assert_eq!(live, vec![r("live", 60_000)], "{name}");
        store
            .apply(vec![Write::Release("live".into())])
            .await
            .unwrap();
        assert!(store.reservations(now_ns()).await.unwrap().is_empty());
        store.sweep(now_ns()).await.unwrap();

        // Redis shares the lease between routers; the embedded store has one router, which always holds it.
        let ttl = Duration::from_millis(400);
        assert!(store.lease("leader", "A", ttl).await.unwrap());
        assert!(store.lease("leader", "A", ttl).await.unwrap(), "renewal");
        if name != "embedded" {
            assert!(!store.lease("leader", "B", ttl).await.unwrap());
            tokio::time::sleep(Duration::from_millis(600)).await;
            assert!(
                store.lease("leader", "B", ttl).await.unwrap(),
                "after the TTL"
            );
            assert!(!store.lease("leader", "A", ttl).await.unwrap());
        }

        let doc = serde_json::json!({"state": "running", "done": 3});
        store
            .put_doc("drain/p1", Some(doc.clone()), None)
            .await
            .unwrap();
        store
            .put_doc(
                "repair/status",
                Some(serde_json::json!(1)),
                Some(Duration::from_millis(200)),
            )
            .await
            .unwrap();
        assert_eq!(store.doc("drain/p1").await.unwrap(), Some(doc.clone()));
        assert_eq!(
            store.docs("drain/").await.unwrap(),
            vec![("drain/p1".to_string(), doc)],
            "{name}"
        );
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            store.doc("repair/status").await.unwrap(),
            None,
            "{name}: ttl"
        );
        store.put_doc("drain/p1", None, None).await.unwrap();
        assert!(store.docs("drain/").await.unwrap().is_empty());

        let peer = |id: &str, port: u16| PeerInfo {
            peer_id: id.into(),
            ip_addr: "h".into(),
            port,
            protocol: "http".into(),
            api_version: 4,
        };
        store
            .change_registry(vec![peer("a", 1), peer("b", 2)], vec!["s".into()])
            .await
            .unwrap();
        store
            .change_registry(vec![peer("a", 9)], vec!["b".into()])
            .await
            .unwrap();
        let doc = store.registry().await.unwrap();
        let eff: BTreeMap<String, PeerInfo> = doc.effective(&[peer("s", 5), peer("t", 6)]);
        assert_eq!(eff.keys().collect::<Vec<_>>(), ["a", "t"], "{name}");
        assert_eq!(eff["a"].port, 9);
        assert_eq!(store.epoch().await.unwrap(), store.epoch().await.unwrap());
    }
}

#[tokio::test]
async fn embedded_tombstones_and_durable_documents_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let open = || MemoryStore::open(RegistryFile::open(&state).unwrap()).unwrap();
    let store = open();
    let mut tomb = record(&["a", "b"], 10, 2);
    tomb.delete(&["a".to_string()], 20, 5);
    store
        .apply(vec![
            put("b@gone", None, tomb.clone()),
            put("b@live", None, record(&["a"], 3, 1)),
        ])
        .await
        .unwrap();
    store
        .put_doc(
            "drain/a",
            Some(serde_json::json!({"state": "running"})),
            None,
        )
        .await
        .unwrap();
    drop(store);
    let store = open();
    assert_eq!(store.object("b@gone").await.unwrap().unwrap().value, tomb);
    assert!(
        store.object("b@live").await.unwrap().is_none(),
        "live records are rebuilt from the peers, not persisted"
    );
    assert_eq!(store.attention_len().await.unwrap(), 1);
    assert!(store.doc("drain/a").await.unwrap().is_some());
    let v = store.object("b@gone").await.unwrap();
    let mut done = tomb.clone();
    done.cleanup_done("b");
    done.deleted_at_ns = None;
    assert!(done.is_empty());
    store
        .apply(vec![Write::Object {
            key: "b@gone".into(),
            prev: v,
            next: None,
        }])
        .await
        .unwrap();
    drop(store);
    assert!(open().object("b@gone").await.unwrap().is_none());
}

#[tokio::test]
async fn a_redis_that_restarted_empty_has_a_new_epoch_and_the_store_reconnects() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect(&redis.url(), "ep", Duration::from_secs(2))
        .await
        .unwrap();
    let before = store.epoch().await.unwrap();
    store
        .apply(vec![put("b@k", None, record(&["p"], 4, 1))])
        .await
        .unwrap();
    redis.kill();
    assert!(store.object("b@k").await.is_err(), "down");
    redis.restart();
    let mut after = None;
    for _ in 0..100 {
        if let Ok(e) = store.epoch().await {
            after = Some(e);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = after.expect("reconnected");
    assert_ne!(before, after, "an empty Redis gets a new epoch");
    assert!(store.object("b@k").await.unwrap().is_none());
}

#[tokio::test]
async fn redis_at_an_unreachable_url_fails_to_connect_quickly() {
    let started = std::time::Instant::now();
    let err = RedisStore::connect(
        "unix:///nonexistent/redis.sock",
        "x",
        Duration::from_secs(1),
    )
    .await;
    assert!(err.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_redis_that_may_evict_keys_is_reported_at_start_up() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect(&redis.url(), "ev", Duration::from_secs(2))
        .await
        .unwrap();
    assert!(store.startup_warnings().await.is_empty(), "noeviction");
    assert_eq!(
        redis
            .cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
            .as_deref(),
        Some("OK")
    );
    let warnings = store.startup_warnings().await;
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("allkeys-lru") && warnings[0].contains("noeviction"),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn tombstones_are_told_apart_from_live_and_unknown_records() {
    for (name, store, _guard) in backends().await {
        let live = record(&["a"], 10, 1);
        let mut dead = record(&["a"], 10, 1);
        dead.delete(&["a".to_string()], 20, now_ns());
        let mut under = record(&["a"], 10, 3);
        under.rf = 3;
        let writes = vec![
            put("b@live", None, live),
            put("b@dead", None, dead),
            put("b@under", None, under),
        ];
        assert!(store.apply(writes).await.unwrap(), "{name}");
        let keys: Vec<String> = ["b@dead", "b@live", "b@none", "b@under", "b@dead"]
            .iter()
            .map(|k| k.to_string())
            .collect();
        assert_eq!(
            store.tombstones(&keys).await.unwrap(),
            [true, false, false, false, true],
            "{name}"
        );
        assert!(store.tombstones(&[]).await.unwrap().is_empty(), "{name}");
        // a page without any tombstone or pending delete reads no record at all
        assert_eq!(
            store
                .tombstones(&["b@live".to_string(), "b@none".to_string()])
                .await
                .unwrap(),
            [false, false],
            "{name}"
        );
    }
}

/// Finished tombstones (no pending delete) are kept by expiry, out of the attention set, so they never
/// delay repairs; a tombstone with a pending delete needs attention until the delete went through.
#[tokio::test]
async fn finished_tombstones_are_kept_by_expiry_out_of_the_attention_set() {
    use mictlanx_router::cluster::record::TOMBSTONE_RETENTION_NS;
    for (name, store, _guard) in backends().await {
        let now = now_ns();
        let tombstone = |at: u64, pending: &[&str]| {
            let mut r = record(&["a", "b"], 5, 2);
            let confirmed: Vec<String> = ["a", "b"]
                .iter()
                .filter(|p| !pending.contains(p))
                .map(|p| p.to_string())
                .collect();
            r.delete(&confirmed, 6, at);
            r
        };
        let old = now - TOMBSTONE_RETENTION_NS - 60_000_000_000;
        for (key, rec) in [
            ("b@old", tombstone(old, &[])),
            ("b@older", tombstone(old - 1_000_000_000, &[])),
            ("b@recent", tombstone(now, &[])),
            ("b@pending", tombstone(old, &["b"])),
        ] {
            assert!(store.apply(vec![put(key, None, rec)]).await.unwrap());
        }
        assert_eq!(
            attention(store.as_ref()).await,
            ["b@pending"],
            "{name}: only the tombstone with a pending delete needs attention"
        );
        let mut expired = store.expired_tombstones(now, 100).await.unwrap();
        expired.sort();
        assert_eq!(expired, ["b@old", "b@older"], "{name}");
        assert_eq!(store.expired_tombstones(now, 1).await.unwrap().len(), 1);

        // the pending delete goes through: the tombstone leaves the attention set for the expiry order
        let cur = store.object("b@pending").await.unwrap().unwrap();
        let mut done = cur.value.clone();
        done.cleanup_done("b");
        assert!(store
            .apply(vec![put("b@pending", Some(cur), done)])
            .await
            .unwrap());
        assert_eq!(store.attention_len().await.unwrap(), 0, "{name}");
        assert_eq!(store.expired_tombstones(now, 100).await.unwrap().len(), 3);

        // a dropped tombstone, or a write after the delete, leaves the expiry order
        let cur = store.object("b@old").await.unwrap().unwrap();
        assert!(store
            .apply(vec![Write::Object {
                key: "b@old".into(),
                prev: Some(cur),
                next: None
            }])
            .await
            .unwrap());
        let cur = store.object("b@older").await.unwrap().unwrap();
        let mut again = cur.value.clone();
        again.commit(&["a".to_string()], 9, 1, now);
        assert!(store
            .apply(vec![put("b@older", Some(cur), again)])
            .await
            .unwrap());
        assert_eq!(
            store.expired_tombstones(now, 100).await.unwrap(),
            ["b@pending"],
            "{name}"
        );
    }
}

//! Tombstone expiry through a running router: a tombstone whose deletes all went through is dropped by
//! the leader once past its retention, read from the store's expiry order; a younger one stays.

use std::time::Duration;

use mictlanx_router::cluster::record::{ObjectRecord, TOMBSTONE_RETENTION_NS};
use mictlanx_router::cluster::store::redis::RedisStore;
use mictlanx_router::cluster::store::{StateStore, Write};
use mictlanx_router::config::StateBackend;
use mictlanx_testkit::datapath::peer_info;
use mictlanx_testkit::healing::{healing_config, router};
use mictlanx_testkit::peer::spawn_peer;
use mictlanx_testkit::redis::RedisServer;
use mictlanx_testkit::wait::eventually;

fn tombstone(deleted_at_ns: u64) -> ObjectRecord {
    let mut r = ObjectRecord::default();
    r.commit(
        &["tp-0".to_string()],
        deleted_at_ns - 1_000,
        1,
        deleted_at_ns - 1_000,
    );
    r.delete(&["tp-0".to_string()], deleted_at_ns, deleted_at_ns);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_drops_tombstones_past_their_retention_and_keeps_younger_ones() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect(&redis.url(), "tomb", Duration::from_secs(2))
        .await
        .expect("redis store connects");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    for (key, at) in [
        ("b@expired", now - TOMBSTONE_RETENTION_NS - 60_000_000_000),
        ("b@young", now - 60_000_000_000),
    ] {
        let write = Write::Object {
            key: key.into(),
            prev: None,
            next: Some(tombstone(at)),
        };
        assert!(store.apply(vec![write]).await.unwrap());
    }
    assert_eq!(
        store.attention_len().await.unwrap(),
        0,
        "finished tombstones"
    );

    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("tp-0", &dir.path().join("tp-0")).await;
    let mut cfg = healing_config(
        &dir.path().join("router"),
        vec![peer_info(peer.node_id(), peer.addr().port())],
    );
    cfg.replica.backend = StateBackend::Redis {
        url: redis.url(),
        prefix: "tomb".into(),
    };
    let r = router(cfg).await;
    eventually("the expired tombstone is dropped", || async {
        store.object("b@expired").await.unwrap().is_none()
    })
    .await;
    let young = store.object("b@young").await.unwrap().expect("kept");
    assert!(young.value.deleted_at_ns.is_some(), "still a tombstone");
    assert_eq!(store.object_count().await.unwrap(), 1);
    assert!(store.expired_tombstones(now, 10).await.unwrap().is_empty());
    r.stop().await;
}

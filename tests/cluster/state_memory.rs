//! Redis memory per object of the state store: loads records as a space of rf-3 objects leaves them
//! (three holders, a version, the factor; bucket `scale`, bench-like keys) into a real `redis-server`
//! and measures `used_memory` before and after. Prints the figure with short and with 64-character
//! keys, and holds the compact layout to its bound with short names.

use std::time::Duration;

use mictlanx_router::cluster::record::ObjectRecord;
use mictlanx_router::cluster::store::redis::RedisStore;
use mictlanx_router::cluster::store::{StateStore, Write};
use mictlanx_testkit::redis::RedisServer;

const OBJECTS: usize = 20_000;
const BATCH: usize = 250;
/// The Redis settings `docs/multi-router.md` recommends.
const RECOMMENDED: &[(&str, &str)] = &[
    ("hash-max-listpack-value", "128"),
    ("hash-max-listpack-entries", "512"),
];

fn used_memory(redis: &RedisServer) -> u64 {
    let info = redis.cli(&["INFO", "memory"]).expect("redis-cli answers");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

/// Bytes of Redis memory per object for `OBJECTS` rf-3 objects named by `key`.
async fn bytes_per_object(key: impl Fn(usize) -> String, settings: &[(&str, &str)]) -> Option<u64> {
    let redis = RedisServer::start()?;
    for (name, value) in settings {
        assert_eq!(
            redis.cli(&["CONFIG", "SET", name, value]).as_deref(),
            Some("OK")
        );
    }
    let store = RedisStore::connect(&redis.url(), "mictlanx", Duration::from_secs(5))
        .await
        .expect("redis store connects");
    store.epoch().await.unwrap();
    let before = used_memory(&redis);
    let now = 1_765_000_000_000_000_000u64;
    let peers: Vec<String> = (0..3).map(|i| format!("mictlanx-peer-{i}")).collect();
    let mut writes = Vec::new();
    for i in 0..OBJECTS {
        let mut rec = ObjectRecord::default();
        rec.commit(&peers, now + i as u64 * 1_000_003, 3, now + i as u64 * 999);
        writes.push(Write::Object {
            key: format!("scale@{}", key(i)),
            prev: None,
            next: Some(rec),
        });
        if writes.len() == BATCH {
            assert!(store.apply(std::mem::take(&mut writes)).await.unwrap());
        }
    }
    assert!(store.apply(writes).await.unwrap());
    assert_eq!(store.object_count().await.unwrap(), OBJECTS as u64);
    Some((used_memory(&redis) - before) / OBJECTS as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bytes_per_rf3_object() {
    let short = |i| format!("k3x9q2ab-p{i}");
    let long = |i| format!("{:0>64}", format!("k3x9q2ab-p{i}"));
    let Some(default) = bytes_per_object(short, &[]).await else {
        return;
    };
    let compact = bytes_per_object(short, RECOMMENDED).await.unwrap();
    let long = bytes_per_object(long, RECOMMENDED).await.unwrap();
    println!(
        "redis bytes per rf-3 object ({OBJECTS} objects, bucket `scale`): {default} B with bench keys \
         and Redis' default settings, {compact} B with the recommended settings, {long} B with \
         64-character keys and the recommended settings"
    );
    assert!(
        compact <= 400,
        "{compact} B per rf-3 object: the compact layout keeps records and per-peer indexes in listpacks"
    );
}

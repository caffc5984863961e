//! Unit tests of `BallCache`: limits under both policies, LFU vs LRU, oversize objects, coherence races,
//! reset, the disabled cache and the cache metrics.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::config::{CacheConfig, CachePolicy};
use crate::telemetry::Metrics;
use mictlanx_proto::model::Metadata;

fn config(policy: CachePolicy, entries: u64, bytes: u64, max_object: u64) -> CacheConfig {
    CacheConfig {
        enabled: true,
        policy,
        capacity_entries: entries,
        capacity_bytes: bytes,
        max_object_size: max_object,
    }
}

fn metadata(combined: &str, size: usize) -> Metadata {
    let (bucket, key) = combined.split_once('@').unwrap_or(("b", combined));
    Metadata {
        key: key.into(),
        size: size as u64,
        checksum: String::new(),
        tags: Default::default(),
        content_type: "application/octet-stream".into(),
        producer_id: String::new(),
        ball_id: key.into(),
        bucket_id: bucket.into(),
        is_disabled: false,
    }
}

/// Fills `combined` with `body` in two chunks, as a GET tee would.
fn fill(cache: &BallCache, combined: &str, body: &[u8]) -> bool {
    let Some(mut ticket) = cache.begin_fill(combined, body.len() as u64) else {
        return false;
    };
    let (a, b) = body.split_at(body.len() / 2);
    ticket.push(&Bytes::copy_from_slice(a));
    ticket.push(&Bytes::copy_from_slice(b));
    cache.finish_fill(
        ticket,
        metadata(combined, body.len()),
        "text/plain",
        "peer-0",
    )
}

/// Resident bytes and entries as moka sees them, after maintenance.
fn resident(cache: &BallCache) -> (u64, u64) {
    let inner = cache.inner().expect("enabled cache");
    inner.cache.run_pending_tasks();
    let (mut bytes, mut n) = (0, 0);
    for (_, v) in inner.cache.iter() {
        bytes += v.bytes.len() as u64;
        n += 1;
    }
    (bytes, n)
}

fn assert_limits(cache: &BallCache, cfg: &CacheConfig) {
    let (bytes, n) = resident(cache);
    let stats = cache.stats();
    assert!(
        bytes <= cfg.capacity_bytes,
        "resident {bytes} > {}",
        cfg.capacity_bytes
    );
    assert!(
        n <= cfg.capacity_entries,
        "{n} entries > {}",
        cfg.capacity_entries
    );
    let occupancy = cache.inner().expect("enabled").occupancy();
    assert_eq!(
        occupancy.used(),
        bytes,
        "used counter drifted from resident bytes"
    );
    assert_eq!(occupancy.entries(), n, "entry counter drifted");
    assert_eq!(stats.used, bytes);
    assert_eq!(stats.available, stats.total - stats.used);
    assert_eq!(cache.keys().len() as u64, n);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn byte_and_entry_limits_hold_for_any_insert_stream(
        lfu in any::<bool>(),
        ops in prop::collection::vec((0u8..40, 0usize..=2_600, any::<bool>()), 1..250),
    ) {
        let policy = if lfu { CachePolicy::Lfu } else { CachePolicy::Lru };
        let cfg = config(policy, 8, 10_000, 2_500);
        let cache = BallCache::new(&cfg, &Metrics::new());
        for (i, (key, size, read_first)) in ops.into_iter().enumerate() {
            let combined = format!("b@k{key}");
            if read_first {
                cache.get(&combined);
            }
            let landed = fill(&cache, &combined, &vec![key; size]);
            prop_assert_eq!(landed, size <= 2_500);
            if i % 7 == 0 {
                assert_limits(&cache, &cfg);
            }
        }
        assert_limits(&cache, &cfg);
    }
}

#[test]
fn entry_limit_binds_for_tiny_objects() {
    for policy in [CachePolicy::Lru, CachePolicy::Lfu] {
        let cfg = config(policy, 5, 1_000_000, 1_000);
        let cache = BallCache::new(&cfg, &Metrics::new());
        for i in 0..200 {
            let key = format!("b@tiny{i}");
            cache.get(&key);
            assert!(fill(&cache, &key, b"x"));
        }
        let (_, n) = resident(&cache);
        assert!((1..=5).contains(&n), "{policy:?}: {n} entries");
        assert_limits(&cache, &cfg);
    }
}

#[test]
fn byte_limit_binds_for_large_objects() {
    let cfg = config(CachePolicy::Lru, 100, 10_000, 4_000);
    let cache = BallCache::new(&cfg, &Metrics::new());
    for i in 0..20 {
        assert!(fill(&cache, &format!("b@big{i}"), &[7u8; 3_000]));
    }
    let (bytes, n) = resident(&cache);
    assert_eq!(n, 3, "three 3000-byte objects fit in 10000 bytes");
    assert_eq!(bytes, 9_000);
    // LRU keeps the most recent ones.
    let mut keys = cache.keys();
    keys.sort();
    assert_eq!(keys, vec!["b@big17", "b@big18", "b@big19"]);
    assert_limits(&cache, &cfg);
}

/// Four slots. The hot key is read many times once the cache is warm (TinyLFU only starts counting
/// frequencies when the cache is half full), then one-shot keys (one miss, one fill each) flood in.
fn hot_key_survives_flood(policy: CachePolicy) -> bool {
    let cfg = config(policy, 4, 400, 100);
    let cache = BallCache::new(&cfg, &Metrics::new());
    let inner = cache.inner().expect("enabled");
    for key in ["b@hot", "b@w1", "b@w2", "b@w3"] {
        cache.get(key);
        assert!(fill(&cache, key, &[1u8; 100]));
        inner.cache.run_pending_tasks();
    }
    for _ in 0..4 {
        for _ in 0..8 {
            assert!(cache.get("b@hot").is_some());
        }
        inner.cache.run_pending_tasks();
    }
    for i in 0..40 {
        let key = format!("b@once{i}");
        assert!(cache.get(&key).is_none());
        fill(&cache, &key, &[2u8; 100]);
        inner.cache.run_pending_tasks();
    }
    assert_limits(&cache, &cfg);
    cache.keys().iter().any(|k| k == "b@hot")
}

#[test]
fn lfu_keeps_a_frequently_read_object_that_lru_evicts() {
    assert!(
        !hot_key_survives_flood(CachePolicy::Lru),
        "LRU must evict the hot key under a flood"
    );
    assert!(
        hot_key_survives_flood(CachePolicy::Lfu),
        "TinyLFU must keep the hot key"
    );
}

#[test]
fn oversize_objects_are_never_cached() {
    let cache = BallCache::new(&config(CachePolicy::Lru, 10, 1_000, 300), &Metrics::new());
    assert_eq!(cache.max_object_size(), 300);
    assert!(cache.begin_fill("b@big", 301).is_none());
    assert!(!fill(&cache, "b@big", &[0u8; 301]));
    assert!(fill(&cache, "b@edge", &[0u8; 300]));
    assert_eq!(cache.keys(), vec!["b@edge".to_string()]);
}

#[test]
fn short_or_long_streams_insert_nothing() {
    let cache = BallCache::new(&config(CachePolicy::Lru, 10, 1_000, 300), &Metrics::new());
    let mut short = cache.begin_fill("b@short", 10).expect("ticket");
    short.push(&Bytes::from_static(b"12345"));
    assert!(!cache.finish_fill(short, metadata("b@short", 10), "x", "p"));
    let mut long = cache.begin_fill("b@long", 4).expect("ticket");
    long.push(&Bytes::from_static(b"123"));
    assert!(!long.push(&Bytes::from_static(b"45")));
    assert!(!cache.finish_fill(long, metadata("b@long", 4), "x", "p"));
    assert!(cache.keys().is_empty());
    assert_eq!(cache.stats().used, 0);
}

#[test]
fn a_fill_that_began_before_invalidate_never_lands() {
    let cache = BallCache::new(&config(CachePolicy::Lru, 10, 1_000, 300), &Metrics::new());
    let mut stale = cache.begin_fill("b@k", 3).expect("ticket");
    stale.push(&Bytes::from_static(b"old"));
    cache.invalidate("b@k");
    assert!(!cache.finish_fill(stale, metadata("b@k", 3), "x", "p"));
    assert!(cache.get("b@k").is_none());
    // A fill that starts after the invalidation lands.
    assert!(fill(&cache, "b@k", b"new"));
    assert_eq!(
        cache.get("b@k").map(|b| b.bytes),
        Some(Bytes::from_static(b"new"))
    );
    cache.invalidate("b@k");
    assert!(cache.get("b@k").is_none());
    assert!(cache.keys().is_empty());
}

/// Readers start a fill, then read the "peer" version; the writer stores a new version, then invalidates.
/// Once the writer is done, the cache may only hold the final version.
#[test]
fn racing_fills_never_resurrect_an_old_version() {
    let cache = BallCache::new(&config(CachePolicy::Lru, 10, 1_000, 300), &Metrics::new());
    for _round in 0..50 {
        let version = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (cache, version, stop) = (cache.clone(), version.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        let Some(mut ticket) = cache.begin_fill("b@race", 8) else {
                            continue;
                        };
                        let seen = version.load(Ordering::Acquire);
                        ticket.push(&Bytes::copy_from_slice(&seen.to_be_bytes()));
                        cache.finish_fill(ticket, metadata("b@race", 8), "x", "p");
                    }
                })
            })
            .collect();
        for v in 1..=200u64 {
            version.store(v, Ordering::Release);
            cache.invalidate("b@race");
        }
        stop.store(true, Ordering::Release);
        for r in readers {
            r.join().expect("reader thread");
        }
        if let Some(ball) = cache.get("b@race") {
            let cached = u64::from_be_bytes(ball.bytes[..].try_into().expect("8 bytes"));
            assert_eq!(cached, 200, "an old version was resurrected");
        }
        cache.invalidate("b@race");
    }
}

#[test]
fn reset_empties_and_cancels_fills_in_flight() {
    let cfg = config(CachePolicy::Lfu, 10, 1_000, 300);
    let cache = BallCache::new(&cfg, &Metrics::new());
    for i in 0..5 {
        assert!(fill(&cache, &format!("b@r{i}"), &[0u8; 50]));
    }
    assert_eq!(cache.keys().len(), 5);
    assert_eq!(cache.stats().used, 250);
    let mut in_flight = cache.begin_fill("b@late", 2).expect("ticket");
    in_flight.push(&Bytes::from_static(b"zz"));
    cache.reset();
    assert!(!cache.finish_fill(in_flight, metadata("b@late", 2), "x", "p"));
    assert!(cache.keys().is_empty());
    let stats = cache.stats();
    assert_eq!((stats.used, stats.available, stats.uf), (0, 1_000, 0.0));
    assert_limits(&cache, &cfg);
    assert!(
        fill(&cache, "b@after", b"ok"),
        "fills work again after a reset"
    );
}

#[test]
fn disabled_cache_answers_empty_and_zeros() {
    let mut cfg = config(CachePolicy::Lru, 10, 1_000, 300);
    cfg.enabled = false;
    let cache = BallCache::new(&cfg, &Metrics::new());
    assert!(!cache.is_enabled());
    assert!(cache.begin_fill("b@k", 1).is_none());
    assert!(cache.get("b@k").is_none());
    cache.invalidate("b@k");
    cache.reset();
    assert!(cache.keys().is_empty());
    assert_eq!(
        cache.stats(),
        CacheStats {
            total: 0,
            used: 0,
            available: 0,
            uf: 0.0
        }
    );
    assert_eq!(
        serde_json::to_string(&cache.stats()).ok().as_deref(),
        Some(r#"{"total":0,"used":0,"available":0,"uf":0.0}"#)
    );
}

#[test]
fn keys_and_stats_reflect_inserts_and_replacements() {
    let cache = BallCache::new(&config(CachePolicy::Lru, 10, 1_000, 300), &Metrics::new());
    assert!(fill(&cache, "b@a", &[1u8; 100]));
    assert!(fill(&cache, "b@b", &[2u8; 150]));
    let mut keys = cache.keys();
    keys.sort();
    assert_eq!(keys, vec!["b@a", "b@b"]);
    assert_eq!(
        cache.stats(),
        CacheStats {
            total: 1_000,
            used: 250,
            available: 750,
            uf: 0.25
        }
    );
    assert!(
        fill(&cache, "b@a", &[3u8; 10]),
        "a refresh replaces the entry"
    );
    assert_eq!(cache.stats().used, 160);
    let hit = cache.get("b@a").expect("cached");
    assert_eq!(hit.bytes.len(), 10);
    assert_eq!(
        (hit.content_type.as_str(), hit.peer_id.as_str()),
        ("text/plain", "peer-0")
    );
    assert_eq!(hit.metadata.key, "a");
}

#[test]
fn metrics_count_hits_misses_and_size_evictions_only() {
    let metrics = Metrics::new();
    {
        let cache = BallCache::new(&config(CachePolicy::Lru, 2, 200, 100), &metrics);
        assert!(cache.get("b@a").is_none());
        assert!(fill(&cache, "b@a", &[0u8; 100]));
        assert!(cache.get("b@a").is_some());
        assert!(cache.get("b@a").is_some());
        cache.invalidate("b@a");
        for i in 0..3 {
            assert!(fill(&cache, &format!("b@e{i}"), &[0u8; 60]));
        }
        cache.stats();
    }
    let text = metrics.render();
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    };
    assert_eq!(
        value("mictlanx_router_cache_hits_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value("mictlanx_router_cache_misses_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("mictlanx_router_cache_evictions_total"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value("mictlanx_router_cache_used_bytes"),
        Some(120.0),
        "{text}"
    );
    assert_eq!(value("mictlanx_router_cache_entries"), Some(2.0), "{text}");
}

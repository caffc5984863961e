//! Unit tests of the metadata half of the cache: fills, the generation guard, invalidation together with
//! the bytes, reset, the disabled cache and the entry and byte bounds.

use bytes::Bytes;

use super::meta_cache::META_BUDGET_MIN;
use super::*;
use crate::config::{CacheConfig, CachePolicy};
use mictlanx_proto::model::Metadata;

fn cache(entries: u64, bytes: u64) -> BallCache {
    BallCache::new(
        &CacheConfig {
            enabled: true,
            policy: CachePolicy::Lru,
            capacity_entries: entries,
            capacity_bytes: bytes,
            max_object_size: bytes,
        },
        &crate::telemetry::Metrics::new(),
    )
}

fn metadata(key: &str, size: u64) -> Metadata {
    Metadata {
        key: key.into(),
        size,
        checksum: "c".into(),
        tags: [("fullname".to_string(), format!("{key}.bin"))].into(),
        content_type: "application/octet-stream".into(),
        producer_id: String::new(),
        ball_id: key.into(),
        bucket_id: "b".into(),
        is_disabled: false,
    }
}

fn answer() -> Bytes {
    Bytes::from_static(b"{}")
}

fn stamp(c: &BallCache, combined: &str, version: u64) -> FillStamp {
    c.fill_stamp(combined)
        .expect("enabled")
        .with_version(version)
}

#[test]
fn a_metadata_fill_lands_with_its_version_and_an_invalidation_removes_it() {
    let c = cache(100, 1 << 20);
    assert!(c.get_meta("b@k").is_none());
    assert!(c.finish_meta_fill(stamp(&c, "b@k", 7), metadata("k", 3), "p1", answer()));
    let hit = c.get_meta("b@k").expect("filled");
    assert_eq!(
        (hit.version, hit.peer_id.as_str(), hit.metadata.size),
        (7, "p1", 3)
    );
    c.invalidate("b@k");
    assert!(c.get_meta("b@k").is_none());
}

#[test]
fn a_fill_stamped_before_an_invalidation_never_lands() {
    let c = cache(100, 1 << 20);
    let early = stamp(&c, "b@k", 1);
    c.invalidate("b@k");
    assert!(!c.finish_meta_fill(early, metadata("k", 3), "p1", answer()));
    assert!(c.get_meta("b@k").is_none());
    // A stamp taken after the invalidation is good.
    assert!(c.finish_meta_fill(stamp(&c, "b@k", 2), metadata("k", 4), "p1", answer()));
    assert_eq!(c.get_meta("b@k").unwrap().metadata.size, 4);
}

#[test]
fn an_invalidation_removes_the_bytes_and_the_metadata_together() {
    let c = cache(100, 1 << 20);
    let mut ticket = c
        .begin_fill_stamped(stamp(&c, "b@k", 9), 3)
        .expect("admitted");
    ticket.push(&Bytes::from_static(b"abc"));
    assert!(c.finish_fill(ticket, metadata("k", 3), "text/plain", "p2"));
    assert!(c.finish_meta_fill(stamp(&c, "b@k", 9), metadata("k", 3), "p2", answer()));
    let meta = c.get_meta("b@k").expect("filled");
    assert_eq!((meta.version, meta.peer_id.as_str()), (9, "p2"));
    assert_eq!(meta.answer, Some(answer()));
    c.invalidate("b@k");
    assert!(c.get("b@k").is_none());
    assert!(c.get_meta("b@k").is_none());
}

#[test]
fn reset_clears_metadata_and_blocks_older_fills() {
    let c = cache(100, 1 << 20);
    assert!(c.finish_meta_fill(stamp(&c, "b@a", 1), metadata("a", 1), "p1", answer()));
    let early = stamp(&c, "b@b", 1);
    c.reset();
    assert!(c.get_meta("b@a").is_none());
    assert!(!c.finish_meta_fill(early, metadata("b", 1), "p1", answer()));
}

#[test]
fn a_disabled_cache_keeps_no_metadata() {
    let c = BallCache::new(
        &CacheConfig {
            enabled: false,
            policy: CachePolicy::Lru,
            capacity_entries: 10,
            capacity_bytes: 1 << 20,
            max_object_size: 1 << 20,
        },
        &crate::telemetry::Metrics::new(),
    );
    assert!(c.fill_stamp("b@k").is_none());
    assert!(c.get_meta("b@k").is_none());
}

#[test]
fn the_byte_cache_entry_limit_does_not_cap_metadata() {
    let c = cache(10, 1 << 20);
    for i in 0..200 {
        let key = format!("b@k{i}");
        c.finish_meta_fill(
            stamp(&c, &key, 1),
            metadata(&format!("k{i}"), 1),
            "p1",
            answer(),
        );
    }
    let n = c.inner().unwrap().meta().entry_count();
    assert_eq!(n, 200, "small entries all fit the 1 MiB budget");
}

#[test]
fn huge_tags_are_bounded_by_the_metadata_budget() {
    let c = cache(0, 1 << 20);
    let mut big = metadata("k", 1);
    big.tags.insert("blob".into(), "x".repeat(64 * 1024));
    for i in 0..100 {
        let key = format!("b@k{i}");
        c.finish_meta_fill(stamp(&c, &key, 1), big.clone(), "p1", answer());
    }
    let n = c.inner().unwrap().meta().entry_count();
    // 64 KiB each against a 1 MiB budget: at most 16 stay.
    assert!(n <= META_BUDGET_MIN / (64 * 1024), "{n} entries");
}

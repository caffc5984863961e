//! The metadata half of the router cache (issue 16): each object's `Metadata` and the peer it came from,
//! so the metadata GET and the size check answer without a peer call while the entry is valid.
//!
//! Same coherence as the bytes, because it lives behind the same [`super::BallCache`] handle: a fill is
//! stamped (key generation + the object's cluster-state version) before its first peer request and lands
//! only if the generation is unchanged; every invalidation of a key (upload, update, disable, delete,
//! reset) removes its metadata together with its bytes, under the same generation lock; and a caller serves
//! an entry only while `ReplicaManager::object_version` still equals the entry's version (another router
//! may have changed the object).
//!
//! Sizing: metadata is small but its tags are caller-controlled, so entries are weighed by their estimated
//! heap bytes against a budget of [`META_BUDGET_DIVISOR`]th of the byte capacity (at least
//! [`META_BUDGET_MIN`]), on top of it; the byte cache's entry limit does not apply.

use std::sync::Arc;

use bytes::Bytes;
use moka::sync::Cache;

use crate::config::CacheConfig;
use mictlanx_proto::model::Metadata;

/// The metadata budget is this fraction of `MICTLANX_CACHE_CAPACITY_STORAGE`, on top of it.
pub(crate) const META_BUDGET_DIVISOR: u64 = 16;
/// Smallest metadata budget, so a tiny byte cache still keeps metadata of a few thousand objects.
pub(crate) const META_BUDGET_MIN: u64 = 1 << 20;
/// Fixed per-entry charge: the moka node, the map slots and the struct itself.
const ENTRY_OVERHEAD: u64 = 256;

pub(crate) const META_HITS: &str = "mictlanx_router_metadata_cache_hits_total";
pub(crate) const META_MISSES: &str = "mictlanx_router_metadata_cache_misses_total";

/// One cached metadata answer.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedMeta {
    pub metadata: Metadata,
    /// The peer that answered (the metadata GET's `peer_id`).
    pub peer_id: String,
    /// The object's version in the cluster state when the fill started.
    pub version: u64,
    /// The metadata GET's whole JSON answer, serialised once at the fill: a hit then costs a reference
    /// count, not a clone of the tags and a serialisation. `None` when the entry comes from a cached
    /// object's bytes (the caller serialises).
    pub answer: Option<Bytes>,
}

impl CachedMeta {
    /// Estimated heap bytes of the entry (its weight).
    fn weight(&self, key: &str) -> u32 {
        let m = &self.metadata;
        let tags: usize = m.tags.iter().map(|(k, v)| k.len() + v.len() + 48).sum();
        let strings = key.len()
            + m.key.len()
            + m.checksum.len()
            + m.content_type.len()
            + m.producer_id.len()
            + m.ball_id.len()
            + m.bucket_id.len()
            + self.peer_id.len();
        let answer = self.answer.as_ref().map_or(0, Bytes::len);
        let total = ENTRY_OVERHEAD + (tags + strings + answer) as u64;
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

pub(crate) struct MetaCache {
    cache: Cache<String, Arc<CachedMeta>>,
    hits: metrics::Counter,
    misses: metrics::Counter,
}

impl MetaCache {
    pub fn new(cfg: &CacheConfig, metrics: &crate::telemetry::Metrics) -> Self {
        // Bytes only, no entry cap: `MICTLANX_CACHE_CAPACITY` counts cached objects' bytes entries (100 by
        // default), while metadata of small chunks is what this cache is for.
        let budget = (cfg.capacity_bytes / META_BUDGET_DIVISOR).max(META_BUDGET_MIN);
        let (hits, misses) = (metrics.counter(META_HITS), metrics.counter(META_MISSES));
        // Exported before the first lookup.
        hits.increment(0);
        misses.increment(0);
        let cache = Cache::builder()
            .max_capacity(budget)
            .weigher(|key: &String, value: &Arc<CachedMeta>| value.weight(key))
            .build();
        Self {
            cache,
            hits,
            misses,
        }
    }

    /// The entry; the caller counts the lookup with [`MetaCache::count`] (a miss here may still be a hit
    /// on a cached object's entry).
    pub fn get_uncounted(&self, combined: &str) -> Option<Arc<CachedMeta>> {
        self.cache.get(combined)
    }

    pub fn count(&self, hit: bool) {
        if hit { &self.hits } else { &self.misses }.increment(1);
    }

    /// Caller holds the key's generation lock (see `BallCache::finish_meta_fill`).
    pub fn insert(&self, combined: String, entry: CachedMeta) {
        self.cache.insert(combined, Arc::new(entry));
    }

    pub fn contains(&self, combined: &str) -> bool {
        self.cache.contains_key(combined)
    }

    /// Caller holds the key's generation lock.
    pub fn invalidate(&self, combined: &str) {
        self.cache.invalidate(combined);
    }

    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
        self.cache.run_pending_tasks();
    }

    #[cfg(test)]
    pub fn entry_count(&self) -> u64 {
        self.cache.run_pending_tasks();
        self.cache.entry_count()
    }
}

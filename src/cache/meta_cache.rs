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
//! [`META_BUDGET_MIN`]), and the entry count is capped like the byte cache's (`MICTLANX_CACHE_CAPACITY`).

use moka::sync::Cache;

use crate::config::CacheConfig;
use crate::model::Metadata;

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
        let total = ENTRY_OVERHEAD + (tags + strings) as u64;
        u32::try_from(total).unwrap_or(u32::MAX)
    }
}

pub(crate) struct MetaCache {
    cache: Cache<String, CachedMeta>,
}

impl MetaCache {
    pub fn new(cfg: &CacheConfig) -> Self {
        let budget = (cfg.capacity_bytes / META_BUDGET_DIVISOR).max(META_BUDGET_MIN);
        // The entry cap is folded into the weight like the byte cache's: no entry weighs less than
        // budget / entries, so at most `capacity_entries` fit.
        let min_weight = match cfg.capacity_entries {
            0 => 0,
            n => u32::try_from(budget.div_ceil(n)).unwrap_or(u32::MAX),
        };
        metrics::counter!(META_HITS).increment(0);
        metrics::counter!(META_MISSES).increment(0);
        let cache = Cache::builder()
            .max_capacity(budget)
            .weigher(move |key: &String, value: &CachedMeta| value.weight(key).max(min_weight))
            .build();
        Self { cache }
    }

    /// The entry, counting a hit or a miss.
    pub fn get(&self, combined: &str) -> Option<CachedMeta> {
        let found = self.cache.get(combined);
        metrics::counter!(if found.is_some() {
            META_HITS
        } else {
            META_MISSES
        })
        .increment(1);
        found
    }

    /// Caller holds the key's generation lock (see `BallCache::finish_meta_fill`).
    pub fn insert(&self, combined: String, entry: CachedMeta) {
        self.cache.insert(combined, entry);
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

//! `BallCache`: the process-wide moka byte cache on the router's read path (`router-api.md` §7).

use std::sync::Arc;

use bytes::Bytes;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use serde::Serialize;

use super::fill::FillStamp;
use super::fill::FillTicket;
use super::generations::Generations;
use super::limits::Limits;
use super::meta_cache::{CachedMeta, MetaCache};
use super::occupancy::Occupancy;
use crate::config::{CacheConfig, CachePolicy};
use crate::telemetry::Metrics;
use mictlanx_proto::model::Metadata;

/// One cached object: the bytes plus what a GET needs to answer without a peer.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedBall {
    pub bytes: Bytes,
    pub metadata: Metadata,
    pub content_type: String,
    pub peer_id: String,
    /// The object's version in the cluster state when the fill started.
    pub version: u64,
}

/// `GET /api/v4/cache/stats` (`router-api.md` §5.14).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CacheStats {
    /// Byte capacity.
    pub total: u64,
    /// Bytes of resident values, never above `total`.
    pub used: u64,
    /// `total - used`.
    pub available: u64,
    /// `used / total`, `0.0` when `total` is 0.
    pub uf: f64,
}

impl CacheStats {
    const ZERO: Self = Self {
        total: 0,
        used: 0,
        available: 0,
        uf: 0.0,
    };
}

/// The router's byte cache, keyed by combined key `"{bucket}@{key}"`. Cheap to clone; a disabled cache
/// answers every read with nothing and ignores fills.
#[derive(Clone)]
pub struct BallCache {
    inner: Option<Arc<Inner>>,
}

pub(super) struct Inner {
    pub(super) cache: Cache<String, CachedBall>,
    limits: Limits,
    generations: Generations,
    occupancy: Arc<Occupancy>,
    /// Metadata entries, under the same generations (`meta_cache.rs`).
    meta: MetaCache,
}

impl std::fmt::Debug for BallCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            None => f.write_str("BallCache(disabled)"),
            Some(inner) => f
                .debug_struct("BallCache")
                .field("limits", &inner.limits)
                .field("used", &inner.occupancy.used())
                .finish(),
        }
    }
}

impl BallCache {
    /// The cache's counters and gauges go to `metrics` (none when the cache is disabled).
    pub fn new(cfg: &CacheConfig, metrics: &Metrics) -> Self {
        if !cfg.enabled {
            return Self { inner: None };
        }
        let limits = Limits::new(cfg);
        let occupancy = Arc::new(Occupancy::new(metrics));
        let policy = match cfg.policy {
            CachePolicy::Lru => EvictionPolicy::lru(),
            CachePolicy::Lfu => EvictionPolicy::tiny_lfu(),
        };
        let listener = {
            let occupancy = Arc::clone(&occupancy);
            move |_key: Arc<String>, value: CachedBall, cause| {
                occupancy.removed(value.bytes.len() as u64, cause)
            }
        };
        let cache = Cache::builder()
            .max_capacity(limits.max_capacity())
            .eviction_policy(policy)
            .weigher(move |_key: &String, value: &CachedBall| {
                limits.weight(value.bytes.len() as u64)
            })
            .eviction_listener(listener)
            .build();
        Self {
            inner: Some(Arc::new(Inner {
                cache,
                limits,
                generations: Generations::new(),
                occupancy,
                meta: MetaCache::new(cfg, metrics),
            })),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Largest cacheable object (0 when disabled).
    pub fn max_object_size(&self) -> u64 {
        self.inner.as_ref().map_or(0, |i| i.limits.max_object_size)
    }

    /// The cached object, counting a hit or a miss. Always `None` when disabled (and not counted).
    pub fn get(&self, combined: &str) -> Option<CachedBall> {
        let inner = self.inner.as_ref()?;
        let found = inner.cache.get(combined);
        let counter = if found.is_some() {
            &inner.occupancy.hits
        } else {
            &inner.occupancy.misses
        };
        counter.increment(1);
        found
    }

    /// Starts a fill of `size` bytes; `None` when disabled or the object is too large to cache.
    pub fn begin_fill(&self, combined: &str, size: u64) -> Option<FillTicket> {
        self.begin_fill_stamped(self.fill_stamp(combined)?, size)
    }

    /// The key's generation now. A read takes it **before its first peer request**, so an invalidation
    /// that lands while the peers answer (an overwrite committed between our metadata call and our data
    /// call) makes the later fill a no-op. `None` when disabled.
    pub fn fill_stamp(&self, combined: &str) -> Option<FillStamp> {
        let inner = self.inner.as_ref()?;
        Some(FillStamp::new(
            combined.to_string(),
            inner.generations.stamp(combined),
        ))
    }

    /// [`BallCache::begin_fill`] with a stamp taken earlier by [`BallCache::fill_stamp`].
    pub fn begin_fill_stamped(&self, stamp: FillStamp, size: u64) -> Option<FillTicket> {
        let inner = self.inner.as_ref()?;
        if !inner.limits.admits(size) {
            return None;
        }
        Some(FillTicket::new(stamp.key, size, stamp.stamp, stamp.version))
    }

    /// Inserts a completed fill unless its key was invalidated since `begin_fill` or the byte count
    /// differs from the declared size. Returns whether the entry was inserted (moka may still decline to
    /// admit it under the LFU policy).
    pub fn finish_fill(
        &self,
        ticket: FillTicket,
        metadata: Metadata,
        content_type: impl Into<String>,
        peer_id: impl Into<String>,
    ) -> bool {
        let Some(inner) = self.inner.as_ref() else {
            return false;
        };
        let stamp = ticket.stamp;
        let version = ticket.version;
        let key = ticket.key.clone();
        let Some(bytes) = ticket.into_bytes() else {
            return false;
        };
        let len = bytes.len() as u64;
        let ball = CachedBall {
            bytes,
            metadata,
            content_type: content_type.into(),
            peer_id: peer_id.into(),
            version,
        };
        inner.generations.if_unchanged(stamp, || {
            inner.occupancy.added(len);
            // The bytes' entry answers for the metadata from now on (`get_meta`); an older metadata
            // entry would shadow it.
            if inner.meta.contains(&key) {
                inner.meta.invalidate(&key);
            }
            inner.cache.insert(key, ball);
        })
    }

    /// The cached metadata of `combined`: a metadata entry, else what a cached object's entry says (a byte
    /// fill does not store the metadata twice). Counts a metadata hit or miss; `None` when disabled. The
    /// caller serves it only while the object is still at `version` (`api::buckets::cached::current_meta`).
    pub fn get_meta(&self, combined: &str) -> Option<Arc<CachedMeta>> {
        let inner = self.inner.as_ref()?;
        if let Some(hit) = inner.meta.get_uncounted(combined) {
            inner.meta.count(true);
            return Some(hit);
        }
        let from_bytes = inner.cache.get(combined).map(|ball| {
            Arc::new(CachedMeta {
                metadata: ball.metadata,
                peer_id: ball.peer_id,
                version: ball.version,
                answer: None,
            })
        });
        inner.meta.count(from_bytes.is_some());
        from_bytes
    }

    /// Inserts a metadata answer read under `stamp` (taken by [`BallCache::fill_stamp`] before the first
    /// peer request, with the object's version) unless the key was invalidated since. Returns whether it
    /// was inserted.
    pub fn finish_meta_fill(
        &self,
        stamp: FillStamp,
        metadata: Metadata,
        peer_id: impl Into<String>,
        answer: Bytes,
    ) -> bool {
        let Some(inner) = self.inner.as_ref() else {
            return false;
        };
        let entry = CachedMeta {
            metadata,
            peer_id: peer_id.into(),
            version: stamp.version,
            answer: Some(answer),
        };
        let key = stamp.key;
        inner
            .generations
            .if_unchanged(stamp.stamp, || inner.meta.insert(key, entry))
    }

    /// Removes `combined` and bumps its generation, atomically with respect to `finish_fill`.
    pub fn invalidate(&self, combined: &str) {
        if let Some(inner) = &self.inner {
            inner.generations.bump(combined, || {
                inner.cache.invalidate(combined);
                inner.meta.invalidate(combined);
            });
        }
    }

    /// Removes every entry and bumps every generation. A fill that started before the reset never lands:
    /// either it finished before its stripe was bumped (and `invalidate_all` removes it) or it fails the
    /// generation check.
    pub fn reset(&self) {
        if let Some(inner) = &self.inner {
            inner.generations.bump_all();
            inner.cache.invalidate_all();
            inner.cache.run_pending_tasks();
            inner.meta.invalidate_all();
        }
    }

    /// Resident combined keys, in moka iteration order.
    pub fn keys(&self) -> Vec<String> {
        let Some(inner) = &self.inner else {
            return Vec::new();
        };
        inner.cache.run_pending_tasks();
        inner
            .cache
            .iter()
            .map(|(k, _)| k.as_ref().clone())
            .collect()
    }

    /// Capacity and resident bytes after pending maintenance; zeros when disabled.
    pub fn stats(&self) -> CacheStats {
        let Some(inner) = &self.inner else {
            return CacheStats::ZERO;
        };
        inner.cache.run_pending_tasks();
        let total = inner.limits.total;
        let used = inner.occupancy.used().min(total);
        let uf = if total == 0 {
            0.0
        } else {
            used as f64 / total as f64
        };
        CacheStats {
            total,
            used,
            available: total - used,
            uf,
        }
    }

    #[cfg(test)]
    pub(super) fn inner(&self) -> Option<&Inner> {
        self.inner.as_deref()
    }
}

#[cfg(test)]
impl Inner {
    pub(super) fn occupancy(&self) -> &Occupancy {
        &self.occupancy
    }

    pub(super) fn meta(&self) -> &MetaCache {
        &self.meta
    }
}

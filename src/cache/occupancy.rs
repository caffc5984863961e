//! Resident bytes and entries of the cache, kept exact by insert and the eviction listener, and the
//! cache metrics of `router-api.md` §3.11.

use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Counter, Gauge};

use crate::telemetry::Metrics;
use moka::notification::RemovalCause;

pub(crate) const HITS: &str = "mictlanx_router_cache_hits_total";
pub(crate) const MISSES: &str = "mictlanx_router_cache_misses_total";
pub(crate) const EVICTIONS: &str = "mictlanx_router_cache_evictions_total";
pub(crate) const USED_BYTES: &str = "mictlanx_router_cache_used_bytes";
pub(crate) const ENTRIES: &str = "mictlanx_router_cache_entries";

/// Sum of the real lengths of resident values, and their number. Every inserted value is added once
/// and subtracted once, when moka reports its removal (replaced, invalidated, evicted or not admitted).
pub(crate) struct Occupancy {
    used: AtomicU64,
    entries: AtomicU64,
    /// Handles registered once: a `gauge!` looks its key up in the registry on every call (issue 16).
    used_gauge: Gauge,
    entries_gauge: Gauge,
    pub hits: Counter,
    pub misses: Counter,
    evictions: Counter,
}

impl std::fmt::Debug for Occupancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Occupancy")
            .field("used", &self.used())
            .field("entries", &self.entries())
            .finish()
    }
}

impl Occupancy {
    pub fn new(metrics: &Metrics) -> Self {
        let occupancy = Self {
            used: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            used_gauge: metrics.gauge(USED_BYTES),
            entries_gauge: metrics.gauge(ENTRIES),
            hits: metrics.counter(HITS),
            misses: metrics.counter(MISSES),
            evictions: metrics.counter(EVICTIONS),
        };
        // Make the series visible in /metrics before the first event.
        occupancy.hits.increment(0);
        occupancy.misses.increment(0);
        occupancy.evictions.increment(0);
        occupancy.publish();
        occupancy
    }

    pub fn added(&self, len: u64) {
        self.used.fetch_add(len, Ordering::AcqRel);
        self.entries.fetch_add(1, Ordering::AcqRel);
        self.publish();
    }

    pub fn removed(&self, len: u64, cause: RemovalCause) {
        // Each removal matches an earlier `added`, so these never go below zero; saturate anyway.
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(len))
            });
        let _ = self
            .entries
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(1))
            });
        if cause == RemovalCause::Size {
            self.evictions.increment(1);
        }
        self.publish();
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::Acquire)
    }

    fn publish(&self) {
        self.used_gauge.set(self.used() as f64);
        self.entries_gauge.set(self.entries() as f64);
    }
}

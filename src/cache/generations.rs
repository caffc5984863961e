//! Striped per-key generation counters: the coherence guard between fills and invalidations.
//!
//! A fill records the generation of its key's stripe when it starts and inserts only if the stripe still
//! has that generation, under the stripe lock. An invalidation bumps the generation and removes the entry
//! under the same lock, so a fill that started before an invalidation can never land after it. Keys that
//! share a stripe only cost each other a skipped fill.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Number of stripes (`docs/router-api.md` §7 suggests 4096).
pub(crate) const STRIPES: usize = 4096;

/// Where a fill stood when it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub stripe: usize,
    pub generation: u64,
}

pub(crate) struct Generations {
    stripes: Box<[Mutex<u64>]>,
    hasher: RandomState,
}

impl Generations {
    pub fn new() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }

    /// The current stamp of `key`.
    pub fn stamp(&self, key: &str) -> Stamp {
        let stripe = self.stripe_of(key);
        Stamp {
            stripe,
            generation: *self.lock(stripe),
        }
    }

    /// Runs `insert` under the stripe lock if the stripe is still at `stamp`'s generation.
    pub fn if_unchanged(&self, stamp: Stamp, insert: impl FnOnce()) -> bool {
        let guard = self.lock(stamp.stripe);
        if *guard != stamp.generation {
            return false;
        }
        insert();
        true
    }

    /// Bumps `key`'s generation and runs `remove` under the same lock.
    pub fn bump(&self, key: &str, remove: impl FnOnce()) {
        let mut guard = self.lock(self.stripe_of(key));
        *guard = guard.wrapping_add(1);
        remove();
    }

    /// Bumps every generation (one stripe at a time).
    pub fn bump_all(&self) {
        for stripe in 0..self.stripes.len() {
            let mut guard = self.lock(stripe);
            *guard = guard.wrapping_add(1);
        }
    }

    fn stripe_of(&self, key: &str) -> usize {
        // The modulo keeps the value below STRIPES, so the narrowing cast cannot truncate.
        (self.hasher.hash_one(key) % self.stripes.len() as u64) as usize
    }

    fn lock(&self, stripe: usize) -> MutexGuard<'_, u64> {
        // A counter is valid whatever a panicking holder was doing, so poisoning is ignored.
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bump_invalidates_older_stamps_only() {
        let g = Generations::new();
        let before = g.stamp("b@k");
        g.bump("b@k", || {});
        let mut ran = false;
        assert!(!g.if_unchanged(before, || ran = true));
        assert!(!ran);
        let after = g.stamp("b@k");
        assert!(g.if_unchanged(after, || ran = true));
        assert!(ran);
    }

    #[test]
    fn bump_all_invalidates_every_key() {
        let g = Generations::new();
        let stamps: Vec<Stamp> = (0..100).map(|i| g.stamp(&format!("b@{i}"))).collect();
        g.bump_all();
        assert!(stamps.into_iter().all(|s| !g.if_unchanged(s, || {})));
    }

    #[test]
    fn same_key_same_stripe() {
        let g = Generations::new();
        assert_eq!(g.stamp("b@x").stripe, g.stamp("b@x").stripe);
        assert!(g.stamp("b@x").stripe < STRIPES);
    }
}

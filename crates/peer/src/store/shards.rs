//! The committed objects by shard ([`mictlanx_proto::shard`]): for each shard, its objects in
//! `(bucket_id, key)` order and a 64-bit digest, both kept by every index change in O(log n). The digest
//! is the XOR over the shard's objects of a hash of `(bucket_id, key, version, replication_factor)`, so
//! adding or removing one object is one XOR, an overwrite (a new version) changes it, and undoing a change
//! brings the earlier value back. An inventory pass compares digests to skip unchanged shards
//! (`docs/peer-api.md` #5a).
//!
//! Memory: one more `(bucket_id, key)` pair per object (two `String`s, 48 bytes plus their heap copies)
//! in a B-tree, about 100 bytes + the id lengths per object; the digests are 8 KiB.

use std::collections::BTreeSet;
use std::ops::Bound;

use mictlanx_proto::shard::{object_shard, SHARDS};
use xxhash_rust::xxh3::Xxh3;

use super::index::Entry;

pub struct Shards {
    keys: Vec<BTreeSet<(String, String)>>,
    digests: Vec<u64>,
}

impl Default for Shards {
    fn default() -> Self {
        Shards {
            keys: vec![BTreeSet::new(); usize::from(SHARDS)],
            digests: vec![0; usize::from(SHARDS)],
        }
    }
}

impl std::fmt::Debug for Shards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shards").finish_non_exhaustive()
    }
}

/// The hash one object adds to its shard's digest. The lengths keep `("ab", "c")` apart from `("a", "bc")`.
pub fn object_hash(bucket_id: &str, key: &str, version: u64, replication_factor: u32) -> u64 {
    let mut h = Xxh3::new();
    h.update(&(bucket_id.len() as u64).to_le_bytes());
    h.update(bucket_id.as_bytes());
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key.as_bytes());
    h.update(&version.to_le_bytes());
    h.update(&replication_factor.to_le_bytes());
    h.digest()
}

fn entry_hash(e: &Entry) -> u64 {
    object_hash(
        &e.meta.bucket_id,
        &e.meta.key,
        e.version,
        e.replication_factor,
    )
}

impl Shards {
    /// `entry` became committed (after `replaced`, the entry it replaces, was dropped with [`Self::remove`]).
    pub fn add(&mut self, entry: &Entry) {
        let s = usize::from(object_shard(&entry.meta.bucket_id, &entry.meta.key));
        self.digests[s] ^= entry_hash(entry);
        self.keys[s].insert((entry.meta.bucket_id.clone(), entry.meta.key.clone()));
    }

    /// `entry` is no longer committed.
    pub fn remove(&mut self, entry: &Entry) {
        let s = usize::from(object_shard(&entry.meta.bucket_id, &entry.meta.key));
        self.digests[s] ^= entry_hash(entry);
        self.keys[s].remove(&(entry.meta.bucket_id.clone(), entry.meta.key.clone()));
    }

    /// An entry replaced by one with the same `(bucket_id, key)`: only the digest changes.
    pub fn replace(&mut self, old: &Entry, new: &Entry) {
        let s = usize::from(object_shard(&new.meta.bucket_id, &new.meta.key));
        self.digests[s] ^= entry_hash(old) ^ entry_hash(new);
    }

    /// Every shard's digest, shard `n` at `n`.
    pub fn digests(&self) -> &[u64] {
        &self.digests
    }

    /// The `(bucket_id, key)` of shard `shard` strictly after `after`, in order: O(log n + page).
    pub fn after<'a>(
        &'a self,
        shard: u16,
        after: Option<(&str, &str)>,
    ) -> impl Iterator<Item = &'a (String, String)> + 'a {
        let from = match after {
            Some((b, k)) => Bound::Excluded((b.to_string(), k.to_string())),
            None => Bound::Unbounded,
        };
        self.keys
            .get(usize::from(shard))
            .into_iter()
            .flat_map(move |set| set.range((from.clone(), Bound::Unbounded)))
    }
}

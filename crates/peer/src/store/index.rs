//! The in-memory index of committed objects, ordered by `(bucket_id, key)` in byte order, with `used_disk`.

use std::collections::BTreeMap;
use std::ops::Bound;

use axum::http::HeaderValue;

use super::blocks::{block_count, Sha};
use super::disk::Record;
use super::shards::Shards;
use mictlanx_proto::headers::encode_metadata;
use mictlanx_proto::model::Metadata;

/// One committed object: its metadata, where its bytes are, its version and replication factor.
#[derive(Debug, Clone)]
pub struct Entry {
    pub meta: Metadata,
    /// Data file path relative to `DATA_PATH`.
    pub data_file: String,
    pub committed_at: u64,
    pub version: u64,
    /// `0` = unknown.
    pub replication_factor: u32,
    /// The `Mictlanx-Metadata` value of `meta`, encoded once per change instead of once per GET;
    /// `None` when it would exceed the header limit.
    pub meta_header: Option<HeaderValue>,
    /// `None` for objects written before digests existed (served unverified).
    pub digest: Option<ObjectDigest>,
}

/// The digests an entry can be verified with (`blocks.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectDigest {
    pub sha256: Sha,
    pub block_size: u64,
}

impl Entry {
    /// Whether the block digests are in the `{data_file}.blocks` sidecar (more than one block).
    pub fn has_sidecar(&self) -> bool {
        self.digest
            .is_some_and(|d| block_count(self.meta.size, d.block_size) > 1)
    }
}

impl Entry {
    pub fn new(
        meta: Metadata,
        data_file: String,
        committed_at: u64,
        version: u64,
        replication_factor: u32,
    ) -> Self {
        let mut e = Entry {
            meta,
            data_file,
            committed_at,
            version,
            replication_factor,
            meta_header: None,
            digest: None,
        };
        e.refresh_meta_header();
        e
    }

    /// A loaded record; records without a version get `committed_at`.
    pub fn from_record(r: Record) -> Result<Self, String> {
        let version = r.version.unwrap_or(r.committed_at);
        let digest = match (r.sha256.as_deref(), r.block_size) {
            (Some(hex), Some(block_size)) if block_size > 0 => {
                let mut sha = [0u8; 32];
                hex::decode_to_slice(hex, &mut sha)
                    .map_err(|e| format!("bad sha256 {hex:?}: {e}"))?;
                Some(ObjectDigest {
                    sha256: sha,
                    block_size,
                })
            }
            (None, None) => None,
            (sha, bs) => {
                return Err(format!(
                    "inconsistent digests: sha256 {sha:?}, block_size {bs:?}"
                ))
            }
        };
        let mut e = Entry::new(
            r.meta,
            r.data_file,
            r.committed_at,
            version,
            r.replication_factor,
        );
        e.digest = digest;
        Ok(e)
    }

    /// The durable form of this entry.
    pub fn record(&self) -> Record {
        Record {
            meta: self.meta.clone(),
            data_file: self.data_file.clone(),
            committed_at: self.committed_at,
            version: Some(self.version),
            replication_factor: self.replication_factor,
            sha256: self.digest.map(|d| hex::encode(d.sha256)),
            block_size: self.digest.map(|d| d.block_size),
        }
    }

    /// Re-encode the cached `Mictlanx-Metadata` value after `meta` changed.
    pub fn refresh_meta_header(&mut self) {
        self.meta_header = encode_metadata(&self.meta).and_then(|v| HeaderValue::from_str(&v).ok());
    }
}

/// Every change goes through [`Index::insert`] and [`Index::remove`], which keep `used` and the per-shard
/// listing and digests ([`Shards`]) in step.
#[derive(Debug, Default)]
pub struct Index {
    map: BTreeMap<(String, String), Entry>,
    used: u64,
    shards: Shards,
}

impl Index {
    /// Insert or replace; returns the previous entry.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let k = (entry.meta.bucket_id.clone(), entry.meta.key.clone());
        self.used = self.used.saturating_add(entry.meta.size);
        match self.map.get(&k) {
            Some(old) => self.shards.replace(old, &entry),
            None => self.shards.add(&entry),
        }
        let old = self.map.insert(k, entry);
        if let Some(old) = &old {
            self.used = self.used.saturating_sub(old.meta.size);
        }
        old
    }

    pub fn remove(&mut self, bucket_id: &str, key: &str) -> Option<Entry> {
        let old = self.map.remove(&(bucket_id.to_string(), key.to_string()));
        if let Some(old) = &old {
            self.used = self.used.saturating_sub(old.meta.size);
            self.shards.remove(old);
        }
        old
    }

    pub fn get(&self, bucket_id: &str, key: &str) -> Option<&Entry> {
        self.map.get(&(bucket_id.to_string(), key.to_string()))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Σ size of committed objects (disabled ones included).
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Entries `[start, end)` in `(bucket_id, key)` order; `end = None` means to the end.
    pub fn window(&self, start: usize, end: Option<usize>) -> impl Iterator<Item = &Entry> {
        let take = end.map(|e| e.saturating_sub(start)).unwrap_or(usize::MAX);
        self.map.values().skip(start).take(take)
    }

    /// The entries of one bucket, sorted by key.
    pub fn bucket<'a>(&'a self, bucket_id: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        let b = bucket_id.to_string();
        let from = (b.clone(), String::new());
        self.map
            .range((Bound::Included(from), Bound::Unbounded))
            .take_while(move |((eb, _), _)| *eb == b)
            .map(|(_, e)| e)
    }

    /// Every entry in `(bucket_id, key)` order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.map.values()
    }

    /// Entries strictly after `after` (`(bucket_id, key)`; `None` = from the first) in `(bucket_id, key)`
    /// order: a keyset page costs O(log n + page), whatever its position.
    pub fn after(&self, after: Option<(&str, &str)>) -> impl Iterator<Item = &Entry> {
        let from = match after {
            Some((b, k)) => Bound::Excluded((b.to_string(), k.to_string())),
            None => Bound::Unbounded,
        };
        self.map.range((from, Bound::Unbounded)).map(|(_, e)| e)
    }

    /// Every shard's digest ([`Shards`]), shard `n` at `n`.
    pub fn shard_digests(&self) -> &[u64] {
        self.shards.digests()
    }

    /// The entries of shard `shard` strictly after `after`, in `(bucket_id, key)` order: O(log n + page).
    pub fn shard_after<'a>(
        &'a self,
        shard: u16,
        after: Option<(&str, &str)>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        self.shards
            .after(shard, after)
            .filter_map(|k| self.map.get(k))
    }

    /// The entries of one bucket whose key starts with `prefix` and sorts after `start_after`, by key:
    /// O(log n + page).
    pub fn bucket_page<'a>(
        &'a self,
        bucket_id: &str,
        prefix: &str,
        start_after: Option<&str>,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        let b = bucket_id.to_string();
        let p = prefix.to_string();
        let from = match start_after.filter(|s| *s >= prefix) {
            Some(k) => Bound::Excluded((b.clone(), k.to_string())),
            None => Bound::Included((b.clone(), p.clone())),
        };
        self.map
            .range((from, Bound::Unbounded))
            .take_while(move |((eb, ek), _)| *eb == b && ek.starts_with(p.as_str()))
            .map(|(_, e)| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(b: &str, k: &str, size: u64) -> Entry {
        let meta = Metadata {
            key: k.into(),
            size,
            checksum: "c".into(),
            tags: Default::default(),
            content_type: "x".into(),
            producer_id: "p".into(),
            ball_id: k.into(),
            bucket_id: b.into(),
            is_disabled: false,
        };
        Entry::new(meta, String::new(), 0, 0, 0)
    }

    #[test]
    fn used_tracks_replacements_and_removals() {
        let mut ix = Index::default();
        ix.insert(entry("b", "k", 10));
        ix.insert(entry("b", "j", 5));
        assert_eq!(ix.used(), 15);
        ix.insert(entry("b", "k", 3));
        assert_eq!(ix.used(), 8);
        ix.remove("b", "j");
        assert_eq!((ix.used(), ix.len()), (3, 1));
    }

    #[test]
    fn window_and_bucket_follow_byte_order() {
        let mut ix = Index::default();
        for (b, k) in [("b", "z"), ("a", "y"), ("b", "a"), ("ba", "a"), ("B", "q")] {
            ix.insert(entry(b, k, 1));
        }
        let keys: Vec<_> = ix
            .window(1, Some(4))
            .map(|e| e.meta.combined_key())
            .collect();
        assert_eq!(keys, ["a@y", "b@a", "b@z"]);
        let b: Vec<_> = ix.bucket("b").map(|e| e.meta.key.as_str()).collect();
        assert_eq!(b, ["a", "z"]);
        assert_eq!(ix.window(9, None).count(), 0);
        let after: Vec<_> = ix
            .after(Some(("a", "y")))
            .map(|e| e.meta.combined_key())
            .collect();
        assert_eq!(after, ["b@a", "b@z", "ba@a"]);
        assert_eq!(ix.after(None).count(), 5);
        assert_eq!(ix.after(Some(("ba", "a"))).count(), 0);
    }

    fn versioned(b: &str, k: &str, version: u64) -> Entry {
        let mut e = entry(b, k, 1);
        e.version = version;
        e
    }

    #[test]
    fn shard_digests_follow_changes_and_come_back_when_undone() {
        let mut ix = Index::default();
        let s = usize::from(mictlanx_proto::shard::object_shard("b", "k"));
        assert!(ix.shard_digests().iter().all(|d| *d == 0));
        ix.insert(versioned("b", "k", 1));
        let one = ix.shard_digests()[s];
        assert_ne!(one, 0);
        ix.insert(versioned("b", "k", 2));
        let two = ix.shard_digests()[s];
        assert_ne!(two, one, "an overwrite changes the digest");
        ix.insert(versioned("b", "k", 1));
        assert_eq!(ix.shard_digests()[s], one);
        ix.remove("b", "k");
        assert!(ix.shard_digests().iter().all(|d| *d == 0));
        assert_eq!(ix.shard_after(s as u16, None).count(), 0);
    }

    #[test]
    fn a_shard_lists_its_entries_in_order() {
        let mut ix = Index::default();
        for i in 0..3000 {
            ix.insert(entry(&format!("b{}", i % 3), &format!("k{i}"), 1));
        }
        let mut total = 0;
        for shard in 0..mictlanx_proto::shard::SHARDS {
            let listed: Vec<_> = ix.shard_after(shard, None).collect();
            assert!(listed.iter().all(|e| {
                mictlanx_proto::shard::object_shard(&e.meta.bucket_id, &e.meta.key) == shard
            }));
            let keys: Vec<_> = listed
                .iter()
                .map(|e| (e.meta.bucket_id.as_str(), e.meta.key.as_str()))
                .collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]));
            if let Some(first) = keys.first() {
                assert_eq!(ix.shard_after(shard, Some(*first)).count(), keys.len() - 1);
            }
            total += keys.len();
        }
        assert_eq!(total, 3000);
    }

    #[test]
    fn bucket_pages_follow_prefix_and_start_after() {
        let mut ix = Index::default();
        for k in ["a1", "a2", "a3", "b1", "b2"] {
            ix.insert(entry("x", k, 1));
        }
        ix.insert(entry("w", "a0", 1));
        ix.insert(entry("y", "a9", 1));
        let page = |prefix, after| -> Vec<String> {
            ix.bucket_page("x", prefix, after)
                .map(|e| e.meta.key.clone())
                .collect()
        };
        assert_eq!(page("a", None), ["a1", "a2", "a3"]);
        assert_eq!(page("a", Some("a1")), ["a2", "a3"]);
        assert_eq!(page("a", Some("0")), ["a1", "a2", "a3"]);
        assert_eq!(page("", Some("a3")), ["b1", "b2"]);
        assert_eq!(page("b", Some("zz")), Vec::<String>::new());
        assert_eq!(page("", None).len(), 5);
    }
}

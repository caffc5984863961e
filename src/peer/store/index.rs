//! The in-memory index of committed objects, ordered by `(bucket_id, key)` in byte order, with `used_disk`.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::model::Metadata;

/// One committed object: its metadata and where its bytes are.
#[derive(Debug, Clone)]
pub struct Entry {
    pub meta: Metadata,
    /// Data file path relative to `DATA_PATH`.
    pub data_file: String,
    pub committed_at: u64,
}

#[derive(Debug, Default)]
pub struct Index {
    map: BTreeMap<(String, String), Entry>,
    used: u64,
}

impl Index {
    /// Insert or replace; returns the previous entry.
    pub fn insert(&mut self, entry: Entry) -> Option<Entry> {
        let k = (entry.meta.bucket_id.clone(), entry.meta.key.clone());
        self.used = self.used.saturating_add(entry.meta.size);
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
        }
        old
    }

    pub fn get(&self, bucket_id: &str, key: &str) -> Option<&Entry> {
        self.map.get(&(bucket_id.to_string(), key.to_string()))
    }

    pub fn get_mut(&mut self, bucket_id: &str, key: &str) -> Option<&mut Entry> {
        self.map.get_mut(&(bucket_id.to_string(), key.to_string()))
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

    /// Every data file the index references (start-up cleaning).
    pub fn data_files(&self) -> impl Iterator<Item = &str> {
        self.map.values().map(|e| e.data_file.as_str())
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
        Entry {
            meta,
            data_file: String::new(),
            committed_at: 0,
        }
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
    }
}

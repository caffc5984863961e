//! Changes to committed objects that keep their bytes (in-place metadata update, disable) and deletes, each
//! under the key's stripe lock with the version rules of `docs/peer-api.md` §9–§14.

use super::disk::{self, key_hash, now_ns};
use super::index::Entry;
use super::objects::{next_version, run_blocking, to_json, Store, StoreError};

/// The changes an `Update: true` put-metadata applies to a committed object.
#[derive(Debug, Clone)]
pub struct MetadataUpdate {
    pub tags: std::collections::BTreeMap<String, String>,
    pub content_type: String,
    pub producer_id: String,
    pub ball_id: String,
    pub is_disabled: bool,
}

/// What a delete by key did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    Absent,
    /// `If-Version-At-Most` was exceeded: nothing was deleted.
    Newer {
        current: u64,
    },
}

impl Store {
    /// Apply an in-place metadata update to a committed object; `None` when absent. With `version`, a lower
    /// value than the current one is [`StoreError::Stale`] (nothing changes); otherwise it becomes the
    /// object's version. Without, the version moves to `max(now, current + 1)`.
    pub async fn update(
        &self,
        bucket_id: &str,
        key: &str,
        up: MetadataUpdate,
        version: Option<u64>,
    ) -> Result<Option<Entry>, StoreError> {
        self.rewrite(bucket_id, key, move |e| {
            e.version = match version {
                Some(v) if v < e.version => return Err(StoreError::Stale { current: e.version }),
                Some(v) => v,
                None => next_version(Some(e.version)),
            };
            let m = &mut e.meta;
            m.tags = up.tags;
            m.content_type = up.content_type;
            m.producer_id = up.producer_id;
            m.ball_id = up.ball_id;
            m.is_disabled = up.is_disabled;
            m.tags
                .entry("updated_at".into())
                .or_insert_with(|| now_ns().to_string());
            Ok(())
        })
        .await
    }

    /// Mark an object disabled durably; `None` when absent. The version becomes `max(current, version)`, or
    /// `max(now, current + 1)` without one.
    pub async fn disable(
        &self,
        bucket_id: &str,
        key: &str,
        version: Option<u64>,
    ) -> Result<Option<Entry>, StoreError> {
        self.rewrite(bucket_id, key, move |e| {
            e.version = match version {
                Some(v) => e.version.max(v),
                None => next_version(Some(e.version)),
            };
            e.meta.is_disabled = true;
            Ok(())
        })
        .await
    }

    async fn rewrite<F>(
        &self,
        bucket_id: &str,
        key: &str,
        change: F,
    ) -> Result<Option<Entry>, StoreError>
    where
        F: FnOnce(&mut Entry) -> Result<(), StoreError> + Send + 'static,
    {
        let (b, k) = (bucket_id.to_string(), key.to_string());
        let h = key_hash(&b, &k);
        let lock = self.stripe(&h).await;
        let inner = self.inner.clone();
        run_blocking(move || {
            let _lock = lock;
            let Some(mut entry) = inner.read_index().get(&b, &k).cloned() else {
                return Ok(None);
            };
            change(&mut entry)?;
            entry.refresh_meta_header();
            disk::write_atomic(&inner.layout.meta_file(&h), &to_json(&entry.record())?)?;
            inner.write_index().insert(entry.clone());
            Ok(Some(entry))
        })
        .await
    }

    /// Delete one object: record first (unlink + fsync dir), then the index entry, then the bytes. With
    /// `at_most`, a committed version greater than it is kept ([`DeleteOutcome::Newer`]).
    pub async fn delete(
        &self,
        bucket_id: &str,
        key: &str,
        at_most: Option<u64>,
    ) -> Result<DeleteOutcome, StoreError> {
        let (b, k) = (bucket_id.to_string(), key.to_string());
        let h = key_hash(&b, &k);
        let lock = self.stripe(&h).await;
        let inner = self.inner.clone();
        run_blocking(move || {
            let _lock = lock;
            let Some(current) = inner.read_index().get(&b, &k).map(|e| e.version) else {
                return Ok(DeleteOutcome::Absent);
            };
            if at_most.is_some_and(|v| current > v) {
                return Ok(DeleteOutcome::Newer { current });
            }
            disk::remove_durable(&inner.layout.meta_file(&h))?;
            if let Some(old) = inner.write_index().remove(&b, &k) {
                inner.unlink_data(&old);
            }
            Ok(DeleteOutcome::Deleted)
        })
        .await
    }

    /// Delete every object of the bucket whose `ball_id` matches; returns how many were deleted.
    pub async fn delete_ball(&self, bucket_id: &str, ball_id: &str) -> Result<u64, StoreError> {
        let keys: Vec<String> = self
            .index()
            .bucket(bucket_id)
            .filter(|e| e.meta.ball_id == ball_id)
            .map(|e| e.meta.key.clone())
            .collect();
        let mut n = 0;
        for key in keys {
            if self.delete(bucket_id, &key, None).await? == DeleteOutcome::Deleted {
                n += 1;
            }
        }
        Ok(n)
    }
}

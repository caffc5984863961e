//! `Store`: the disk-backed object store of the peer. Queries read the in-memory index; every mutation of
//! one `(bucket, key)` runs under that key's stripe lock on a blocking thread, so it completes (durably, then
//! in the index) even when the request future that started it is dropped.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::disk::{self, key_hash, now_ns, Layout, Record, TempFile};
use super::index::{Entry, Index};
use crate::model::Metadata;

const STRIPES: usize = 64;

/// Store failures (disk I/O).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no space left on device")]
    NoSpace,
    #[error("storage i/o error: {0}")]
    Io(io::Error),
    #[error("storage task failed: {0}")]
    Join(String),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        if is_no_space(&e) {
            StoreError::NoSpace
        } else {
            StoreError::Io(e)
        }
    }
}

/// ENOSPC / EDQUOT.
pub fn is_no_space(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull
        || e.kind() == io::ErrorKind::QuotaExceeded
        || e.raw_os_error() == Some(28)
}

/// The changes an `Update: true` put-metadata applies to a committed object.
#[derive(Debug, Clone)]
pub struct MetadataUpdate {
    pub tags: std::collections::BTreeMap<String, String>,
    pub content_type: String,
    pub producer_id: String,
    pub ball_id: String,
    pub is_disabled: bool,
}

#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    layout: Layout,
    index: RwLock<Index>,
    stripes: Vec<Arc<Mutex<()>>>,
}

impl Store {
    /// Recover the store from `data`/`local` (creating the directories).
    pub async fn open(
        data: PathBuf,
        local: PathBuf,
        traverse_and_clean: bool,
    ) -> Result<Store, StoreError> {
        let layout = Layout { data, local };
        let (layout, index) = run_blocking(move || {
            let index = super::recover::recover(&layout, traverse_and_clean)?;
            Ok((layout, index))
        })
        .await?;
        let stripes = (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect();
        Ok(Store {
            inner: Arc::new(Inner {
                layout,
                index: RwLock::new(index),
                stripes,
            }),
        })
    }

    /// Read access to the index (never hold it across an await).
    pub fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.inner.index.read().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, bucket_id: &str, key: &str) -> Option<Entry> {
        self.index().get(bucket_id, key).cloned()
    }

    pub fn used_disk(&self) -> u64 {
        self.index().used()
    }

    /// Absolute path of an entry's data file.
    pub fn data_path(&self, entry: &Entry) -> PathBuf {
        self.inner.layout.data.join(&entry.data_file)
    }

    /// A guarded `tmp/*.part` path for a new upload.
    pub fn new_part(&self) -> TempFile {
        TempFile::new(self.inner.layout.new_part())
    }

    /// Commit a fully received, fsynced temp file as the new version of `meta`'s object (last commit wins).
    pub async fn commit(&self, mut meta: Metadata, part: TempFile) -> Result<Metadata, StoreError> {
        let h = key_hash(&meta.bucket_id, &meta.key);
        let lock = self.stripe(&h).await;
        let inner = self.inner.clone();
        run_blocking(move || {
            let _lock = lock;
            let now = now_ns();
            meta.tags
                .entry("updated_at".into())
                .or_insert_with(|| now.to_string());
            let rel = Layout::new_data_rel(&h);
            let abs = inner.layout.data.join(&rel);
            let dir = abs
                .parent()
                .map(PathBuf::from)
                .unwrap_or_else(|| inner.layout.objects_dir());
            std::fs::create_dir_all(&dir)?;
            let data = part.rename_to(abs)?;
            disk::fsync_dir(&dir)?;
            let record = Record {
                meta: meta.clone(),
                data_file: rel.clone(),
                committed_at: now,
            };
            disk::write_atomic(&inner.layout.meta_file(&h), &to_json(&record)?)?;
            data.disarm();
            let old = inner.write_index().insert(Entry {
                meta,
                data_file: rel,
                committed_at: now,
            });
            if let Some(old) = old {
                inner.unlink_data(&old);
            }
            Ok(record.meta)
        })
        .await
    }

    /// Apply an in-place metadata update to a committed object; `None` when absent.
    pub async fn update(
        &self,
        bucket_id: &str,
        key: &str,
        up: MetadataUpdate,
    ) -> Result<Option<Metadata>, StoreError> {
        self.rewrite(bucket_id, key, move |m| {
            m.tags = up.tags;
            m.content_type = up.content_type;
            m.producer_id = up.producer_id;
            m.ball_id = up.ball_id;
            m.is_disabled = up.is_disabled;
            m.tags
                .entry("updated_at".into())
                .or_insert_with(|| now_ns().to_string());
        })
        .await
    }

    /// Mark an object disabled durably; `None` when absent.
    pub async fn disable(
        &self,
        bucket_id: &str,
        key: &str,
    ) -> Result<Option<Metadata>, StoreError> {
        self.rewrite(bucket_id, key, |m| m.is_disabled = true).await
    }

    async fn rewrite<F>(
        &self,
        bucket_id: &str,
        key: &str,
        change: F,
    ) -> Result<Option<Metadata>, StoreError>
    where
        F: FnOnce(&mut Metadata) + Send + 'static,
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
            change(&mut entry.meta);
            let record = Record {
                meta: entry.meta.clone(),
                data_file: entry.data_file.clone(),
                committed_at: entry.committed_at,
            };
            disk::write_atomic(&inner.layout.meta_file(&h), &to_json(&record)?)?;
            let meta = entry.meta.clone();
            inner.write_index().insert(entry);
            Ok(Some(meta))
        })
        .await
    }

    /// Delete one object: record first (unlink + fsync dir), then the index entry, then the bytes.
    pub async fn delete(&self, bucket_id: &str, key: &str) -> Result<bool, StoreError> {
        let (b, k) = (bucket_id.to_string(), key.to_string());
        let h = key_hash(&b, &k);
        let lock = self.stripe(&h).await;
        let inner = self.inner.clone();
        run_blocking(move || {
            let _lock = lock;
            if inner.read_index().get(&b, &k).is_none() {
                return Ok(false);
            }
            disk::remove_durable(&inner.layout.meta_file(&h))?;
            if let Some(old) = inner.write_index().remove(&b, &k) {
                inner.unlink_data(&old);
            }
            Ok(true)
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
            if self.delete(bucket_id, &key).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn stripe(&self, h: &str) -> OwnedMutexGuard<()> {
        let i = usize::from_str_radix(&h[..4], 16).unwrap_or(0) % STRIPES;
        self.inner.stripes[i].clone().lock_owned().await
    }
}

impl Inner {
    fn read_index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_index(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Best effort: an unreferenced data file is also removed at the next start-up.
    fn unlink_data(&self, old: &Entry) {
        let path = self.layout.data.join(&old.data_file);
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove old data file");
        }
    }
}

fn to_json(record: &Record) -> io::Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(io::Error::other)
}

async fn run_blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(StoreError::from),
        Err(e) => Err(StoreError::Join(e.to_string())),
    }
}

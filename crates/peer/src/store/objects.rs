//! `Store`: the disk-backed object store of the peer. Queries read the in-memory index; every mutation of
//! one `(bucket, key)` runs under that key's stripe lock on a blocking thread, so it completes (durably, then
//! in the index) even when the request future that started it is dropped. This file holds the store, its
//! queries and the commit of new bytes; in-place changes and deletes are in `changes.rs`.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::{Mutex, OwnedMutexGuard};

use super::blocks::{self, Digests, BLOCK_SIZE};
use super::disk::{self, key_hash, now_ns, Layout, Record, TempFile};
use super::index::{Entry, Index, ObjectDigest};
use mictlanx_proto::model::Metadata;

const STRIPES: usize = 64;

/// Store failures (disk I/O) and refused changes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no space left on device")]
    NoSpace,
    #[error("storage i/o error: {0}")]
    Io(io::Error),
    #[error("storage task failed: {0}")]
    Join(String),
    /// The committed object has a newer version than the change carries (a late or fenced writer).
    #[error("stale version: the object is at version {current}")]
    Stale { current: u64 },
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

/// The version of a change that carries none: after the current one, and not before now (so versions also
/// order writes that went through different peers).
pub fn next_version(current: Option<u64>) -> u64 {
    let now = now_ns();
    current.map_or(now, |c| now.max(c.saturating_add(1)))
}

/// What a commit records besides the metadata.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitOptions {
    /// `Object-Version` of the upload: a committed version greater than it refuses the commit.
    pub version: Option<u64>,
    pub replication_factor: u32,
}

#[derive(Clone)]
pub struct Store {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) layout: Layout,
    index: RwLock<Index>,
    stripes: Vec<Arc<Mutex<()>>>,
    /// Quarantined copies (`quarantine.rs`), for the gauge.
    pub(super) quarantined: AtomicU64,
}

impl Store {
    /// Recover the store from `data`/`local` (creating the directories).
    pub async fn open(
        data: PathBuf,
        local: PathBuf,
        traverse_and_clean: bool,
    ) -> Result<Store, StoreError> {
        let layout = Layout { data, local };
        let (layout, index, quarantined) = run_blocking(move || {
            let index = super::recover::recover(&layout, traverse_and_clean)?;
            let quarantined = super::quarantine::count(&layout);
            Ok((layout, index, quarantined))
        })
        .await?;
        let stripes = (0..STRIPES).map(|_| Arc::new(Mutex::new(()))).collect();
        Ok(Store {
            inner: Arc::new(Inner {
                layout,
                index: RwLock::new(index),
                stripes,
                quarantined: AtomicU64::new(quarantined),
            }),
        })
    }

    /// Read access to the index (never hold it across an await).
    pub fn index(&self) -> RwLockReadGuard<'_, Index> {
        self.inner.read_index()
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

    /// Commit a fully received, fsynced temp file (with its digests) as the new version of `meta`'s
    /// object. Under the key's lock: a committed version greater than `opts.version` refuses the commit
    /// ([`StoreError::Stale`], the temp file is removed); otherwise the last commit wins.
    pub async fn commit(
        &self,
        mut meta: Metadata,
        part: TempFile,
        digests: Digests,
        opts: CommitOptions,
    ) -> Result<Entry, StoreError> {
        let h = key_hash(&meta.bucket_id, &meta.key);
        let lock = self.stripe(&h).await;
        let inner = self.inner.clone();
        run_blocking(move || {
            let _lock = lock;
            let current = inner
                .read_index()
                .get(&meta.bucket_id, &meta.key)
                .map(|e| e.version);
            let version = match (opts.version, current) {
                (Some(v), Some(current)) if current > v => {
                    return Err(StoreError::Stale { current });
                }
                (Some(v), _) => v,
                (None, current) => next_version(current),
            };
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
            let sidecar = if digests.needs_sidecar() {
                let guard = TempFile::new(blocks::sidecar_of(data.path()));
                blocks::write_sidecar(data.path(), &digests.blocks)?;
                Some(guard)
            } else {
                None
            };
            disk::fsync_dir(&dir)?;
            let mut entry = Entry::new(meta, rel, now, version, opts.replication_factor);
            entry.digest = Some(ObjectDigest {
                sha256: digests.sha256,
                block_size: BLOCK_SIZE,
            });
            disk::write_atomic(&inner.layout.meta_file(&h), &to_json(&entry.record())?)?;
            data.disarm();
            if let Some(sidecar) = sidecar {
                sidecar.disarm();
            }
            if let Some(old) = inner.write_index().insert(entry.clone()) {
                inner.unlink_data(&old);
            }
            Ok(entry)
        })
        .await
    }

    pub(super) async fn stripe(&self, h: &str) -> OwnedMutexGuard<()> {
        let i = usize::from_str_radix(&h[..4], 16).unwrap_or(0) % STRIPES;
        self.inner.stripes[i].clone().lock_owned().await
    }
}

impl Inner {
    pub(super) fn read_index(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn write_index(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Best effort: an unreferenced data file is also removed at the next start-up.
    pub(super) fn unlink_data(&self, old: &Entry) {
        let path = self.layout.data.join(&old.data_file);
        if let Err(e) = std::fs::remove_file(&path) {
            tracing::warn!(path = %path.display(), error = %e, "could not remove old data file");
        }
        if old.has_sidecar() {
            let _ = std::fs::remove_file(blocks::sidecar_of(&path));
        }
    }
}

pub(super) fn to_json(record: &Record) -> io::Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(io::Error::other)
}

/// Run a store step on a blocking thread: it finishes even when the awaiting future is dropped.
pub(super) async fn run_blocking<T, F>(f: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Join(e.to_string())),
    }
}

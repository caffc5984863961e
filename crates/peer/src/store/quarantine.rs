//! Quarantine: a stored copy whose bytes do not match their digests leaves the live store. Its data file
//! (and sidecar) move to `DATA_PATH/quarantine/`, its record to `LOCAL_PATH/quarantine/`, each under
//! `{h}.{ns}` (same file system as before, so a rename), and the index forgets it: afterwards the object
//! answers as absent, so the router fails over and its healing writes a good copy. Start-up loads records
//! only from `meta/`, so a quarantined copy never comes back by itself.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;

use super::blocks::sidecar_of;
use super::disk::{self, key_hash, now_ns, Layout};
use super::index::Entry;
use super::objects::{run_blocking, Store, StoreError};

/// Move `entry`'s files into quarantine (blocking; the caller holds the key's lock or is recovering).
pub(super) fn move_to_quarantine(layout: &Layout, entry: &Entry, reason: &str) -> io::Result<()> {
    let h = key_hash(&entry.meta.bucket_id, &entry.meta.key);
    let name = format!("{h}.{}", now_ns());
    let (data_q, meta_q) = (
        layout.data.join("quarantine"),
        layout.local.join("quarantine"),
    );
    fs::create_dir_all(&data_q)?;
    fs::create_dir_all(&meta_q)?;
    let data = layout.data.join(&entry.data_file);
    // the data first: a crash before the record moves leaves a record without data, dropped at start-up
    rename_if_present(&data, &data_q.join(format!("{name}.data")))?;
    if entry.has_sidecar() {
        rename_if_present(
            &sidecar_of(&data),
            &data_q.join(format!("{name}.data.blocks")),
        )?;
    }
    disk::fsync_dir(&data_q)?;
    if let Some(dir) = data.parent() {
        disk::fsync_dir(dir)?;
    }
    let record = layout.meta_file(&h);
    rename_if_present(&record, &meta_q.join(format!("{name}.json")))?;
    disk::fsync_dir(&meta_q)?;
    if let Some(dir) = record.parent() {
        disk::fsync_dir(dir)?;
    }
    tracing::warn!(
        bucket = %entry.meta.bucket_id,
        key = %entry.meta.key,
        version = entry.version,
        %reason,
        quarantine = %name,
        "object quarantined"
    );
    Ok(())
}

fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Quarantined records under `LOCAL_PATH/quarantine/` (start-up count of the gauge).
pub(super) fn count(layout: &Layout) -> u64 {
    fs::read_dir(layout.local.join("quarantine")).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .count() as u64
    })
}

impl Store {
    /// Quarantine `(bucket_id, key)` if its current data file is still `data_file` (an overwrite since the
    /// bad read replaced the copy: nothing to do). Returns whether the object was quarantined.
    pub async fn quarantine(
        &self,
        bucket_id: &str,
        key: &str,
        data_file: &str,
        reason: String,
    ) -> Result<bool, StoreError> {
        let (b, k, data_file) = (
            bucket_id.to_string(),
            key.to_string(),
            data_file.to_string(),
        );
        let lock = self.stripe(&key_hash(&b, &k)).await;
        let inner = self.inner.clone();
        run_blocking(move || {
            let _lock = lock;
            let current = inner.read_index().get(&b, &k).cloned();
            let Some(entry) = current.filter(|e| e.data_file == data_file) else {
                return Ok(false);
            };
            // invisible at once; the files follow
            inner.write_index().remove(&b, &k);
            inner.quarantined.fetch_add(1, Ordering::Relaxed);
            move_to_quarantine(&inner.layout, &entry, &reason)?;
            Ok(true)
        })
        .await
    }

    /// Objects quarantined so far (those found at start-up included).
    pub fn quarantined(&self) -> u64 {
        self.inner.quarantined.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::blocks::BlockHasher;
    use crate::store::CommitOptions;

    async fn commit(store: &Store, bytes: &[u8]) -> Entry {
        let part = store.new_part();
        std::fs::write(part.path(), bytes).unwrap();
        let mut h = BlockHasher::default();
        h.update(bytes);
        let meta = serde_json::from_value(serde_json::json!(
            {"key": "k", "size": bytes.len(), "checksum": "c", "bucket_id": "b"}
        ))
        .unwrap();
        store
            .commit(meta, part, h.finish(), CommitOptions::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn only_the_current_copy_is_quarantined_and_it_stays_out_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (data, local) = (dir.path().join("data"), dir.path().join("local"));
        let store = Store::open(data.clone(), local.clone(), true)
            .await
            .unwrap();
        let old = commit(&store, b"first").await;
        let new = commit(&store, b"second").await;
        // a verification of the overwritten copy must not take the new one out
        let moved = store
            .quarantine("b", "k", &old.data_file, "test".into())
            .await
            .unwrap();
        assert!(!moved);
        assert!(store.get("b", "k").is_some());
        let moved = store
            .quarantine("b", "k", &new.data_file, "test".into())
            .await
            .unwrap();
        assert!(moved);
        assert!(store.get("b", "k").is_none());
        assert_eq!((store.used_disk(), store.quarantined()), (0, 1));
        let store = Store::open(data, local, true).await.unwrap();
        assert!(store.get("b", "k").is_none());
        assert_eq!(store.quarantined(), 1);
    }
}

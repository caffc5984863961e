//! Pending (phase-1) upload tasks, in memory only (`docs/peer-api.md` §3.3), and the byte reservations of the
//! uploads in progress (§5). An [`UploadGuard`] marks a task running; dropping it without
//! [`UploadGuard::complete`] returns the task to pending, so cancelled uploads can be retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use mictlanx_proto::model::Metadata;

/// Why a task operation was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TaskError {
    #[error("Task({0}) not found")]
    NotFound(String),
    #[error("Task({0}) upload already in progress")]
    InProgress(String),
    #[error("Insufficient storage: {size} bytes requested, {free} bytes available")]
    Insufficient { size: u64, free: u64 },
}

#[derive(Debug, Clone)]
struct PendingTask {
    meta: Metadata,
    /// `Replication-Factor` of phase 1, recorded at the commit.
    replication_factor: u32,
    expires_at: Instant,
    uploading: bool,
}

/// The pending-task table (Clone: Arc inside).
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<Mutex<Inner>>,
    ttl: Duration,
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, PendingTask>,
    reserved: u64,
}

impl Tasks {
    pub fn new(ttl: Duration) -> Self {
        Self {
            inner: Arc::default(),
            ttl,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Store (or replace) a pending task; a task whose upload is running cannot be replaced.
    pub fn put(&self, id: &str, meta: Metadata, replication_factor: u32) -> Result<(), TaskError> {
        let mut inner = self.lock();
        if inner.map.get(id).is_some_and(|t| t.uploading) {
            return Err(TaskError::InProgress(id.to_string()));
        }
        let expires_at = Instant::now() + self.ttl;
        inner.map.insert(
            id.to_string(),
            PendingTask {
                meta,
                replication_factor,
                expires_at,
                uploading: false,
            },
        );
        Ok(())
    }

    /// Whether [`Tasks::put`] of `id` would be refused now (its upload is running).
    pub fn is_uploading(&self, id: &str) -> bool {
        self.lock().map.get(id).is_some_and(|t| t.uploading)
    }

    /// Start the upload of a task: it must exist, be unexpired and idle, and its size must fit.
    /// `committed(meta)` returns `(used_disk, old_size)` for the admission check
    /// `used − old + in_progress + size ≤ total`; the size is reserved until the guard drops.
    pub fn begin_upload<F>(
        &self,
        id: &str,
        total: u64,
        committed: F,
    ) -> Result<UploadGuard, TaskError>
    where
        F: FnOnce(&Metadata) -> (u64, u64),
    {
        let mut inner = self.lock();
        let reserved = inner.reserved;
        let task = match inner.map.get_mut(id) {
            Some(t) if t.expires_at > Instant::now() || t.uploading => t,
            _ => return Err(TaskError::NotFound(id.to_string())),
        };
        if task.uploading {
            return Err(TaskError::InProgress(id.to_string()));
        }
        let size = task.meta.size;
        let (used, old) = committed(&task.meta);
        let free = total
            .saturating_sub(used.saturating_sub(old))
            .saturating_sub(reserved);
        if size > free {
            return Err(TaskError::Insufficient { size, free });
        }
        task.uploading = true;
        let meta = task.meta.clone();
        let replication_factor = task.replication_factor;
        inner.reserved += size;
        Ok(UploadGuard {
            tasks: self.clone(),
            id: id.to_string(),
            meta,
            replication_factor,
            done: false,
            one_shot: false,
        })
    }

    /// Bytes reserved by uploads in progress.
    pub fn reserved(&self) -> u64 {
        self.lock().reserved
    }

    /// Number of tasks (pending or uploading).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drop one task unless it is uploading.
    pub fn remove_idle(&self, id: &str) {
        let mut inner = self.lock();
        if inner.map.get(id).is_some_and(|t| !t.uploading) {
            inner.map.remove(id);
        }
    }

    /// `DELETE /api/v4/tasks`: drop every task that is not uploading.
    pub fn clear_idle(&self) -> usize {
        let mut inner = self.lock();
        let before = inner.map.len();
        inner.map.retain(|_, t| t.uploading);
        before - inner.map.len()
    }

    /// Drop expired tasks that are not uploading.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut inner = self.lock();
        let before = inner.map.len();
        inner.map.retain(|_, t| t.uploading || t.expires_at > now);
        before - inner.map.len()
    }

    /// Run [`Tasks::sweep`] every `every` until the handle is aborted.
    pub fn spawn_sweeper(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let tasks = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let n = tasks.sweep();
                if n > 0 {
                    tracing::debug!(expired = n, "swept pending tasks");
                }
            }
        })
    }
}

/// A running upload: holds the reservation and the task's "uploading" mark.
pub struct UploadGuard {
    tasks: Tasks,
    id: String,
    meta: Metadata,
    replication_factor: u32,
    done: bool,
    one_shot: bool,
}

impl UploadGuard {
    /// The task's metadata as declared in phase 1.
    pub fn meta(&self) -> &Metadata {
        &self.meta
    }

    /// The task's `Replication-Factor` (0 = unknown).
    pub fn replication_factor(&self) -> u32 {
        self.replication_factor
    }

    /// Remove the task whatever the outcome (internal transfers that cannot be retried by id).
    pub fn one_shot(mut self) -> Self {
        self.one_shot = true;
        self
    }

    /// The upload committed: the task is removed.
    pub fn complete(mut self) {
        self.done = true;
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        let mut inner = self.tasks.lock();
        inner.reserved = inner.reserved.saturating_sub(self.meta.size);
        let expired = inner
            .map
            .get(&self.id)
            .is_some_and(|t| t.expires_at <= Instant::now());
        if self.done || self.one_shot || expired {
            inner.map.remove(&self.id);
        } else if let Some(t) = inner.map.get_mut(&self.id) {
            t.uploading = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(size: u64) -> Metadata {
        serde_json::from_value(
            serde_json::json!({"key": "k", "size": size, "checksum": "c", "bucket_id": "b"}),
        )
        .unwrap()
    }

    #[test]
    fn running_upload_blocks_replacement_and_second_upload() {
        let t = Tasks::new(Duration::from_secs(60));
        t.put("t1", meta(10), 0).unwrap();
        let g = t.begin_upload("t1", 100, |_| (0, 0)).unwrap();
        assert_eq!(t.reserved(), 10);
        assert_eq!(
            t.put("t1", meta(1), 0),
            Err(TaskError::InProgress("t1".into()))
        );
        assert!(matches!(
            t.begin_upload("t1", 100, |_| (0, 0)),
            Err(TaskError::InProgress(_))
        ));
        assert_eq!(t.clear_idle(), 0);
        drop(g);
        assert_eq!(t.reserved(), 0);
        // back to pending: a retry is allowed
        t.begin_upload("t1", 100, |_| (0, 0)).unwrap().complete();
        assert!(t.is_empty());
    }

    #[test]
    fn capacity_counts_reservations_and_old_size() {
        let t = Tasks::new(Duration::from_secs(60));
        t.put("a", meta(60), 0).unwrap();
        t.put("b", meta(60), 0).unwrap();
        let _a = t.begin_upload("a", 100, |_| (0, 0)).unwrap();
        let err = t.begin_upload("b", 100, |_| (0, 0)).err();
        assert_eq!(err, Some(TaskError::Insufficient { size: 60, free: 40 }));
        // overwriting a 30-byte object frees its size
        assert!(t.begin_upload("b", 100, |_| (30, 30)).is_err());
        drop(_a);
        assert!(t.begin_upload("b", 100, |_| (70, 30)).is_ok());
    }

    #[test]
    fn expired_tasks_are_not_found_and_swept() {
        let t = Tasks::new(Duration::ZERO);
        t.put("x", meta(1), 0).unwrap();
        assert_eq!(
            t.begin_upload("x", 10, |_| (0, 0)).err(),
            Some(TaskError::NotFound("x".into()))
        );
        assert_eq!(t.sweep(), 1);
    }
}

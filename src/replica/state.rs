//! Shared state of the embedded replica manager: registry entries with health, the replica map, task
//! groups and reservations, each behind its own short-lived lock (never held across an await; when two are
//! needed the order is registry → replica map), plus the cancellation token and task tracker of the
//! background work.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::health::PeerHealth;
use super::registry::{PeersDoc, RegistryFile};
use super::replica_map::ReplicaMap;
use super::tasks::TaskStore;
use super::types::PeerInfo;
use crate::config::ReplicaConfig;
use crate::peer_client::PeerClient;

/// One registered peer.
#[derive(Debug, Clone)]
pub struct PeerEntry {
    pub info: PeerInfo,
    pub health: PeerHealth,
}

impl PeerEntry {
    pub fn new(info: PeerInfo) -> Self {
        Self {
            info,
            health: PeerHealth::default(),
        }
    }
}

pub(super) struct Inner {
    pub cfg: ReplicaConfig,
    pub fanout: usize,
    /// Reports every call to this manager (stats fan-out, inventory passes).
    pub client: PeerClient,
    /// Reports nowhere: health probes.
    pub probe_client: PeerClient,
    pub seed: Vec<PeerInfo>,
    pub file: RegistryFile,
    /// The persisted document; the async lock serialises registry writes (file first, then memory).
    pub doc: tokio::sync::Mutex<PeersDoc>,
    pub peers: Mutex<BTreeMap<String, PeerEntry>>,
    pub map: Mutex<ReplicaMap>,
    pub tasks: Mutex<TaskStore>,
    /// Peers whose inventory pass is running (a second one for the same peer is skipped).
    pub passes: Mutex<HashSet<String>>,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
}

impl Inner {
    /// Runs `fut` in the background until it ends or the manager shuts down.
    pub fn spawn<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let cancel = self.cancel.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = fut => {}
            }
        });
    }

    /// Live peers (state `Available`), sorted by `peer_id`.
    pub fn live_peers(&self) -> Vec<PeerInfo> {
        lock(&self.peers)
            .values()
            .filter(|e| e.health.is_live())
            .map(|e| e.info.clone())
            .collect()
    }

    pub fn update_map_gauge(&self, keys: usize) {
        metrics::gauge!("mictlanx_router_replica_map_keys").set(keys as f64);
    }

    pub fn update_tasks_gauge(&self, groups: usize) {
        metrics::gauge!("mictlanx_router_task_groups").set(groups as f64);
    }
}

/// Locks a mutex; a poisoned lock (a panic elsewhere) still yields the data, which stays consistent
/// because every critical section is a few plain map operations.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

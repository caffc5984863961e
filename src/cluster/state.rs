//! What the replica manager keeps per router: its view of the registry with each peer's health (each
//! router observes its own network path), the state store shared with other routers, whether this router
//! is the leader of background work, and the bookkeeping of its background tasks. Locks are short and
//! never held across an await.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::health::PeerHealth;
use super::registry::PeersDoc;
use super::repair::RepairState;
use super::store::{StateStore, StoreError};
use super::throttle::Throttle;
use super::types::{PeerInfo, RmError};
use crate::config::ReplicaConfig;
use crate::peer_client::PeerClient;
use crate::telemetry::Metrics;

/// One registered peer as this router sees it.
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
    /// Reports every call to this manager (stats fan-out, inventory passes, repair copies).
    pub client: PeerClient,
    /// Reports nowhere: health probes.
    pub probe_client: PeerClient,
    pub seed: Vec<PeerInfo>,
    pub store: Arc<dyn StateStore>,
    /// This router's name in leases and claims.
    pub router_id: String,
    pub peers: Mutex<BTreeMap<String, PeerEntry>>,
    /// The last registry document read from the store (republished if the store loses its data).
    pub last_registry: Mutex<Option<PeersDoc>>,
    /// Peers being drained: no new placements.
    pub draining: Mutex<BTreeSet<String>>,
    /// Peers whose inventory pass is running (a second one for the same peer is skipped).
    pub passes: Mutex<HashSet<String>>,
    /// Whether this router holds the leader lease of background work.
    pub leader: AtomicBool,
    /// Whether the last store call succeeded.
    pub store_up: AtomicBool,
    /// The store's data-set identity seen last (a change = the store lost its data).
    pub epoch: Mutex<Option<String>>,
    /// Bumped whenever caches built on the shared state must be dropped (store reachable again, or
    /// restarted empty).
    pub resets: watch::Sender<u64>,
    /// The bandwidth bound shared by every repair and drain copy.
    pub throttle: Arc<Throttle>,
    pub repair: Mutex<RepairState>,
    /// Wakes the repair loop before its interval (a peer came back, a drain started).
    pub repair_kick: Notify,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
    /// The App's recorder (store, map, leader, repair and availability gauges).
    pub metrics: Metrics,
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

    /// The ids among `ids` that are registered.
    pub fn registered(&self, ids: &[String]) -> Vec<String> {
        let peers = lock(&self.peers);
        ids.iter()
            .filter(|id| peers.contains_key(*id))
            .cloned()
            .collect()
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    /// One store call, bounded by the state timeout; tracks whether the store is reachable. Coming back
    /// after an outage drops the caches built on the shared state (their versions were not checked
    /// meanwhile).
    pub async fn st<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, RmError> {
        let result = match tokio::time::timeout(self.cfg.state_timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {:?}",
                self.cfg.state_timeout
            ))),
        };
        match &result {
            Ok(_) => self.mark_store(true, None),
            Err(StoreError::Unavailable(m)) => self.mark_store(false, Some(m)),
            Err(StoreError::Backend(_)) => {}
        }
        result.map_err(RmError::from)
    }

    fn mark_store(&self, up: bool, why: Option<&str>) {
        let was = self.store_up.swap(up, Ordering::Relaxed);
        if was == up {
            return;
        }
        self.metrics
            .gauge("mictlanx_router_state_store_up")
            .set(if up { 1.0 } else { 0.0 });
        if up {
            tracing::info!(
                backend = self.store.backend(),
                "state store reachable again; caches dropped"
            );
            self.reset_caches();
        } else {
            tracing::warn!(
                backend = self.store.backend(),
                error = why.unwrap_or(""),
                "state store unreachable"
            );
        }
    }

    pub fn reset_caches(&self) {
        self.resets.send_modify(|n| *n += 1);
    }

    pub fn update_map_gauge(&self, keys: u64) {
        self.metrics
            .gauge("mictlanx_router_replica_map_keys")
            .set(keys as f64);
    }

    pub fn update_tasks_gauge(&self, groups: u64) {
        self.metrics
            .gauge("mictlanx_router_task_groups")
            .set(groups as f64);
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

pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

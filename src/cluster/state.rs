//! What the replica manager keeps per router, in the parts modules take: the peer table (its view of the
//! registry with each peer's liveness; each router observes its own network path), the link to the state
//! store shared with other routers, and the background work (leader lease, passes, repair bookkeeping).
//! Locks are short and never held across an await.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::inventory_digests::Digests;
use super::liveness::PeerLiveness;
use super::record::ObjectRecord;
use super::registry::PeersDoc;
use super::repair::RepairState;
use super::store::{StateStore, StoreError, Versioned, Write};
use super::throttle::Throttle;
use super::types::{PeerInfo, RmError};
use crate::config::ReplicaConfig;
use crate::peer_client::PeerClient;
use crate::telemetry::Metrics;

/// One registered peer as this router sees it.
#[derive(Debug, Clone)]
pub struct PeerEntry {
    pub info: PeerInfo,
    pub liveness: PeerLiveness,
}

impl PeerEntry {
    pub fn new(info: PeerInfo) -> Self {
        Self {
            info,
            liveness: PeerLiveness::default(),
        }
    }
}

/// Everything one manager keeps, by the part each module touches: the configuration and the clients
/// (flat), the peer table, the link to the state store, and the bookkeeping of background work.
pub(super) struct Inner {
    pub cfg: ReplicaConfig,
    pub fanout: usize,
    /// Reports every call to this manager (stats fan-out, inventory passes, repair copies).
    pub client: PeerClient,
    /// Reports nowhere: liveness probes.
    pub probe_client: PeerClient,
    /// This router's name in leases and claims.
    pub router_id: String,
    /// The App's recorder (availability and repair series).
    pub metrics: Metrics,
    pub table: PeerTable,
    pub state: StateLink,
    pub work: Work,
}

/// This router's view of the registry: who the peers are, how each is doing, which are draining.
pub(super) struct PeerTable {
    pub seed: Vec<PeerInfo>,
    pub peers: Mutex<BTreeMap<String, PeerEntry>>,
    /// The last registry document read from the store (republished if the store loses its data).
    pub last_registry: Mutex<Option<PeersDoc>>,
    /// Peers being drained: no new placements.
    pub draining: Mutex<BTreeSet<String>>,
}

impl PeerTable {
    /// Live peers (state `Available`), sorted by `peer_id`.
    pub fn live_peers(&self) -> Vec<PeerInfo> {
        lock(&self.peers)
            .values()
            .filter(|e| e.liveness.is_live())
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
}

/// The state store shared with other routers, and what this router knows about reaching it.
pub(super) struct StateLink {
    pub store: Arc<dyn StateStore>,
    /// Bound of one store call (`MICTLANX_ROUTER_STATE_TIMEOUT`).
    pub timeout: Duration,
    /// Whether the last store call succeeded.
    pub up: AtomicBool,
    /// The store's data-set identity seen last (a change = the store lost its data).
    pub epoch: Mutex<Option<String>>,
    /// Bumped whenever caches built on the shared state must be dropped (store reachable again, or
    /// restarted empty).
    pub resets: watch::Sender<u64>,
    pub metrics: Metrics,
}

impl StateLink {
    /// One store call, bounded by the state timeout; tracks whether the store is reachable. Coming back
    /// after an outage drops the caches built on the shared state (their versions were not checked
    /// meanwhile).
    pub async fn st<T>(
        &self,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, RmError> {
        let result = match tokio::time::timeout(self.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        };
        match &result {
            Ok(_) => self.mark_store(true, None),
            Err(StoreError::Unavailable(m)) => self.mark_store(false, Some(m)),
            Err(StoreError::Backend(_)) => {}
        }
        result.map_err(RmError::from)
    }

    /// [`StateStore::object`] through [`Self::st`], counted in `mictlanx_router_state_object_reads_total`.
    pub async fn object(&self, key: &str) -> Result<Option<Versioned<ObjectRecord>>, RmError> {
        let rec = self.st(self.store.object(key)).await?;
        self.count_reads(1);
        Ok(rec)
    }

    /// [`StateStore::objects`] through [`Self::st`], counted in `mictlanx_router_state_object_reads_total`
    /// (one per key asked for).
    pub async fn objects(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Versioned<ObjectRecord>>>, RmError> {
        let recs = self.st(self.store.objects(keys)).await?;
        self.count_reads(keys.len() as u64);
        Ok(recs)
    }

    fn count_reads(&self, n: u64) {
        self.metrics
            .counter("mictlanx_router_state_object_reads_total")
            .increment(n);
    }

    /// [`StateStore::apply`] through [`Self::st`], counting what the store was given: every successful
    /// batch adds its object-record writes to `mictlanx_router_state_object_writes_total` and one to
    /// `mictlanx_router_state_batches_total` (the work a background pass costs the store, whatever the
    /// backend).
    pub async fn apply(&self, writes: Vec<Write>) -> Result<bool, RmError> {
        let objects = writes
            .iter()
            .filter(|w| matches!(w, Write::Object { .. }))
            .count() as u64;
        let applied = self.st(self.store.apply(writes)).await?;
        if applied {
            self.metrics
                .counter("mictlanx_router_state_object_writes_total")
                .increment(objects);
            self.metrics
                .counter("mictlanx_router_state_batches_total")
                .increment(1);
        }
        Ok(applied)
    }

    fn mark_store(&self, up: bool, why: Option<&str>) {
        let was = self.up.swap(up, Ordering::Relaxed);
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

/// The background work of this router: the leader lease, running inventory passes, the repair loop's
/// bookkeeping and wake-up, the copy bandwidth bound, and the tasks to stop at shutdown.
pub(super) struct Work {
    /// Whether this router holds the leader lease of background work.
    pub leader: AtomicBool,
    /// Peers whose inventory pass is running (a second one for the same peer is skipped).
    pub passes: Mutex<HashSet<String>>,
    /// The shard digests of each peer's last reconciled shards (leader only; cleared when leadership
    /// changes).
    pub digests: Mutex<Digests>,
    /// The bandwidth bound shared by every repair and drain copy.
    pub throttle: Arc<Throttle>,
    pub repair: Mutex<RepairState>,
    /// Wakes the repair loop before its interval (a peer came back, a drain started).
    pub repair_kick: Notify,
    pub cancel: CancellationToken,
    pub tracker: TaskTracker,
}

impl Work {
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

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
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

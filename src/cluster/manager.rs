//! `Manager`: the one implementation of [`ReplicaManager`], over the embedded store or Redis.
//! `start` opens the store, loads the registry, then runs the background loops (liveness probes, the leader
//! lease, inventory rebuilds, sweeps) until `shutdown`.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::liveness::{self, LivenessSink};
use super::placement::{self, Candidate};
use super::registry::RegistryFile;
use super::repair::{self, RepairState};
use super::state::{lock, now_ns, Inner, PeerEntry, PeerTable, StateLink, Work};
use super::store::memory::MemoryStore;
use super::store::redis::RedisStore;
use super::store::{StateStore, Write};
use super::throttle::Throttle;
use super::types::*;
use super::{background, drain, groups, membership, objects, status, Readiness, ReplicaManager};
use crate::config::{Config, StateBackend};
use crate::peer_client::PeerClient;
use crate::telemetry::Metrics;

pub struct Manager {
    inner: Arc<Inner>,
}

/// The shared state store could not be reached at start-up: the router exits 2 with this one line, and
/// never falls back to the embedded store (two routers with split state are worse than one down).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StateStoreUnreachable(pub String);

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// The manager on the embedded store (one router).
pub type EmbeddedReplicaManager = Manager;
/// The manager on Redis (several routers, one storage space).
pub type RedisReplicaManager = Manager;

fn combined(bucket: &str, key: &str) -> String {
    format!("{bucket}@{key}")
}

impl Manager {
    /// Opens the store named by the configuration (the state dir is created and checked either way),
    /// loads the registry (all peers "not probed yet") and starts the background loops.
    /// Its gauges and counters go to `metrics` (the App's recorder).
    pub async fn start(
        cfg: &Config,
        client: PeerClient,
        metrics: Metrics,
    ) -> anyhow::Result<Arc<Self>> {
        let dir = &cfg.replica.state_dir;
        let file = RegistryFile::open(dir)
            .with_context(|| format!("MICTLANX_ROUTER_STATE_DIR={}", dir.display()))?;
        let store: Arc<dyn StateStore> = match &cfg.replica.backend {
            StateBackend::Embedded => Arc::new(
                MemoryStore::open(file)
                    .with_context(|| format!("MICTLANX_ROUTER_STATE_DIR={}", dir.display()))?,
            ),
            StateBackend::Redis { url, prefix } => Arc::new(
                RedisStore::connect(url, prefix, cfg.replica.state_timeout)
                    .await
                    .map_err(|e| {
                        StateStoreUnreachable(format!(
                            "cannot reach Redis at MICTLANX_ROUTER_REDIS_URL={url}: {}",
                            one_line(&format!("{e:#}"))
                        ))
                    })?,
            ),
            StateBackend::RedisCluster { seeds, prefix } => Arc::new(
                RedisStore::connect_cluster(seeds, prefix, cfg.replica.state_timeout)
                    .await
                    .map_err(|e| {
                        StateStoreUnreachable(format!(
                            "cannot reach the Redis Cluster at MICTLANX_ROUTER_REDIS_URL={}: {}",
                            seeds.join(","),
                            one_line(&format!("{e:#}"))
                        ))
                    })?,
            ),
        };
        Self::start_with_store(cfg, client, store, metrics).await
    }

    /// [`Manager::start`] on a given store (tests).
    pub async fn start_with_store(
        cfg: &Config,
        client: PeerClient,
        store: Arc<dyn StateStore>,
        metrics: Metrics,
    ) -> anyhow::Result<Arc<Self>> {
        for warning in store.startup_warnings().await {
            tracing::warn!(backend = store.backend(), "{warning}");
        }
        let doc = store
            .registry()
            .await
            .context("reading the peer registry from the state store")?;
        let epoch = store
            .epoch()
            .await
            .context("reading the state store's epoch")?;
        let peers: BTreeMap<String, PeerEntry> = doc
            .effective(&cfg.seed_peers)
            .into_iter()
            .map(|(id, p)| (id, PeerEntry::new(p)))
            .collect();
        for id in peers.keys() {
            liveness::set_available_gauge(&metrics, id, false);
        }
        let router_id = format!(
            "{}:{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "router".into()),
            cfg.server.port,
            nanoid::nanoid!(8)
        );
        let (resets, _) = tokio::sync::watch::channel(0u64);
        // Background calls report to this manager through a weak sink (no reference cycle); probes report
        // nowhere: their results drive the state machine directly.
        let inner = Arc::new_cyclic(|weak| Inner {
            cfg: cfg.replica.clone(),
            fanout: cfg.peer_io.fanout_concurrency.max(1),
            client: client.reporting_to_sink(Arc::new(LivenessSink(weak.clone()))),
            probe_client: client.without_reporting(),
            router_id,
            metrics: metrics.clone(),
            table: PeerTable {
                seed: cfg.seed_peers.clone(),
                peers: Mutex::new(peers),
                last_registry: Mutex::new(Some(doc)),
                draining: Mutex::new(Default::default()),
            },
            state: StateLink {
                store,
                timeout: cfg.replica.state_timeout,
                up: AtomicBool::new(true),
                epoch: Mutex::new(Some(epoch)),
                resets,
                metrics: metrics.clone(),
            },
            work: Work {
                leader: AtomicBool::new(false),
                passes: Mutex::new(Default::default()),
                digests: Mutex::new(Default::default()),
                throttle: Arc::new(Throttle::new(cfg.replica.repair.bandwidth)),
                repair: Mutex::new(RepairState::default()),
                repair_kick: Default::default(),
                cancel: CancellationToken::new(),
                tracker: TaskTracker::new(),
            },
        });
        metrics.gauge("mictlanx_router_state_store_up").set(1.0);
        metrics.gauge("mictlanx_router_leader").set(0.0);
        inner.state.update_map_gauge(0);
        inner.state.update_tasks_gauge(0);
        repair::register_metrics(&metrics);
        drain::refresh(&inner).await;
        // One full liveness round before the router serves: until it knows which peers are up, it would
        // answer "not found" for objects whose holders it has not probed yet, and place overwrites on the
        // few holders probed so far. The round is bounded by the health timeout (connections wait in the
        // listen backlog meanwhile).
        liveness::probe_round(&inner, false).await;
        background::start(&inner);
        Ok(Arc::new(Manager { inner }))
    }

    /// Stops the background loops (waiting for them).
    pub async fn shutdown(&self) {
        self.inner.work.cancel.cancel();
        self.inner.work.tracker.close();
        self.inner.work.tracker.wait().await;
    }

    /// The seed peers this manager started with (`MICTLANX_PEERS_URI`).
    pub fn seed_peers(&self) -> Vec<PeerInfo> {
        self.inner.table.seed.clone()
    }

    /// `embedded` or `redis`.
    pub fn backend(&self) -> &'static str {
        self.inner.state.store.backend()
    }

    /// Changes whenever caches built on the shared state must be dropped.
    pub fn resets(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.state.resets.subscribe()
    }

    /// Whether this router runs the space's background work now.
    pub fn is_leader(&self) -> bool {
        self.inner.work.is_leader()
    }

    /// The shared state store itself, for the small documents other facades keep next to the cluster
    /// state (the S3 bucket registry and multipart uploads).
    pub fn store(&self) -> Arc<dyn StateStore> {
        self.inner.state.store.clone()
    }

    /// This router's name in leases and claims.
    pub fn router_id(&self) -> &str {
        &self.inner.router_id
    }

    /// How many of `holders` are registered peers that are not live now.
    fn registered_down(&self, holders: &[String]) -> usize {
        let peers = lock(&self.inner.table.peers);
        holders
            .iter()
            .filter_map(|h| peers.get(h))
            .filter(|e| !e.liveness.is_live())
            .count()
    }

    /// Live holders sorted by (in flight, latency, id).
    fn sorted_live(&self, holders: &[String]) -> Vec<PeerInfo> {
        let peers = lock(&self.inner.table.peers);
        let mut live: Vec<&PeerEntry> = holders
            .iter()
            .filter_map(|h| peers.get(h))
            .filter(|e| e.liveness.is_live())
            .collect();
        live.sort_by(|a, b| {
            a.liveness
                .in_flight
                .cmp(&b.liveness.in_flight)
                .then(
                    a.liveness
                        .ewma_latency_ms
                        .total_cmp(&b.liveness.ewma_latency_ms),
                )
                .then_with(|| a.info.peer_id.cmp(&b.info.peer_id))
        });
        live.into_iter().map(|e| e.info.clone()).collect()
    }

    /// Placement of a write of `size` bytes at `rf` (see [`ReplicaManager::place`]); `replacing` for
    /// [`ReplicaManager::place_replacing`].
    async fn placed(
        &self,
        bucket: &str,
        key: &str,
        (size, rf): (u64, u32),
        replacing: bool,
    ) -> Result<Placement, PlacementError> {
        let inner = &self.inner;
        let rf = rf.max(1);
        let rec = objects::get(&inner.state, &combined(bucket, key))
            .await?
            .unwrap_or_default();
        let mut holders = rec.holder_ids();
        holders.sort();
        let now = now_ns();
        let reservations = inner.state.st(inner.state.store.reservations(now)).await?;
        let draining = lock(&inner.table.draining).clone();
        let candidates: Vec<Candidate> = lock(&inner.table.peers)
            .values()
            .filter(|e| e.liveness.is_live() && !draining.contains(&e.info.peer_id))
            .filter_map(|e| {
                let f = e.liveness.figures.as_ref()?;
                let reserved = reservations
                    .iter()
                    .filter(|r| r.peers.contains(&e.info.peer_id))
                    .fold(0u64, |acc, r| acc.saturating_add(r.size));
                Some(Candidate {
                    peer: e.info.clone(),
                    total_disk: f.total_disk,
                    used_disk: f.used_disk,
                    reserved,
                })
            })
            .collect();
        // a replacing write goes to the live holders even when no other peer exists
        let spare = replacing
            || lock(&inner.table.peers)
                .keys()
                .any(|id| !draining.contains(id) && holders.binary_search(id).is_err());
        let plan = placement::plan(&candidates, &holders, spare, size, rf)?;
        let reservation_id = nanoid::nanoid!();
        let reservation = Reservation {
            id: reservation_id.clone(),
            peers: plan.write_set.iter().map(|p| p.peer_id.clone()).collect(),
            size,
            expires_at_ns: now.saturating_add(super::state::nanos(inner.cfg.task_ttl)),
        };
        inner.state.apply(vec![Write::Reserve(reservation)]).await?;
        let under_replicated = plan.write_set.len() < rf as usize;
        if under_replicated {
            let ids: Vec<&str> = plan.write_set.iter().map(|p| p.peer_id.as_str()).collect();
            tracing::warn!(bucket, key, rf, write_set = ?ids, "under-replicated write");
            self.inner
                .metrics
                .counter("mictlanx_router_under_replicated_writes_total")
                .increment(1);
        }
        Ok(Placement {
            write_set: plan.write_set,
            new_peers: plan.new_peers,
            holders,
            requested_rf: rf,
            under_replicated,
            reservation_id,
        })
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.inner.work.cancel.cancel();
    }
}

#[async_trait]
impl ReplicaManager for Manager {
    async fn get_peers(&self) -> Result<PeersView, RmError> {
        let peers = lock(&self.inner.table.peers);
        let (available, unavailable): (Vec<&PeerEntry>, Vec<&PeerEntry>) =
            peers.values().partition(|e| e.liveness.is_live());
        Ok(PeersView {
            available: available.into_iter().map(|e| e.info.clone()).collect(),
            unavailable: unavailable.into_iter().map(|e| e.info.clone()).collect(),
        })
    }

    async fn get_peer(&self, peer_id: &str) -> Result<PeerInfo, RmError> {
        match lock(&self.inner.table.peers).get(peer_id) {
            None => Err(RmError::NotFound(format!("Peer {peer_id} not found"))),
            Some(e) if !e.liveness.is_live() => Err(RmError::Unavailable(format!(
                "Peer {peer_id} is not available"
            ))),
            Some(e) => Ok(e.info.clone()),
        }
    }

    async fn add_peers(&self, peers: Vec<PeerInfo>) -> Result<(), RmError> {
        membership::add_peers(&self.inner, peers).await
    }

    async fn remove_peers(&self, peer_ids: Vec<String>) -> Result<usize, RmError> {
        membership::remove_peers(&self.inner, peer_ids).await
    }

    async fn get_stats(
        &self,
        start: i64,
        end: i64,
    ) -> Result<BTreeMap<String, PeerStats>, RmError> {
        let client = &self.inner.client;
        let calls = self
            .inner
            .table
            .live_peers()
            .into_iter()
            .map(|p| async move {
                let r = client.stats(&p, start, end).await;
                if let Err(e) = &r {
                    tracing::warn!(peer_id = %p.peer_id, error = %e, "peer stats left out");
                }
                (p.peer_id, r.ok())
            });
        // A stalled peer is left out at the fan-out deadline, like one that failed.
        let answers =
            crate::deadline::within_deadline(calls, self.inner.fanout, client.fanout_deadline())
                .await;
        Ok(answers
            .into_iter()
            .filter_map(|(id, s)| s.map(|s| (id, s)))
            .collect())
    }

    async fn readiness(&self) -> Readiness {
        let (available, registered) = {
            let peers = lock(&self.inner.table.peers);
            let live = peers.values().filter(|e| e.liveness.is_live()).count();
            (live, peers.len())
        };
        let store_error = self
            .inner
            .state
            .st(self.inner.state.store.epoch())
            .await
            .err()
            .map(|e| e.to_string());
        Readiness {
            available,
            registered,
            store_error,
        }
    }

    async fn get_replicas(&self, bucket: &str, key: &str) -> Result<ReplicaView, RmError> {
        let rec = objects::get(&self.inner.state, &combined(bucket, key))
            .await?
            .unwrap_or_default();
        let holders = rec.holder_ids();
        let peers = lock(&self.inner.table.peers);
        let mut recorded: Vec<&PeerEntry> = holders.iter().filter_map(|h| peers.get(h)).collect();
        recorded.sort_by(|a, b| {
            b.liveness
                .is_live()
                .cmp(&a.liveness.is_live())
                .then_with(|| a.info.peer_id.cmp(&b.info.peer_id))
        });
        let available_replicas = peers
            .values()
            .filter(|e| e.liveness.is_live() && !holders.contains(&e.info.peer_id))
            .map(|e| e.info.clone())
            .collect();
        Ok(ReplicaView {
            replicas: recorded.into_iter().map(|e| e.info.clone()).collect(),
            available_replicas,
        })
    }

    async fn place(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        rf: u32,
    ) -> Result<Placement, PlacementError> {
        self.placed(bucket, key, (size, rf), false).await
    }

    async fn place_replacing(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        rf: u32,
    ) -> Result<Placement, PlacementError> {
        self.placed(bucket, key, (size, rf), true).await
    }

    async fn release_reservation(&self, reservation_id: &str) -> Result<(), RmError> {
        let w = Write::Release(reservation_id.to_string());
        self.inner.state.apply(vec![w]).await?;
        Ok(())
    }

    async fn choose_read_replica(&self, bucket: &str, key: &str) -> Result<ReadPlan, RmError> {
        let Some(rec) = objects::get(&self.inner.state, &combined(bucket, key)).await? else {
            return Ok(ReadPlan::default());
        };
        let (peers, down) = if rec.is_live() {
            let holders = rec.holder_ids();
            (self.sorted_live(&holders), self.registered_down(&holders))
        } else {
            (Vec::new(), 0)
        };
        Ok(ReadPlan {
            peers,
            version: rec.version,
            down,
        })
    }

    async fn object_version(&self, bucket: &str, key: &str) -> Result<Option<u64>, RmError> {
        let key = combined(bucket, key);
        self.inner
            .state
            .st(self.inner.state.store.object_version(&key))
            .await
    }

    async fn add_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Vec<String>,
    ) -> Result<(), RmError> {
        let ids = self.inner.table.registered(&peer_ids);
        if ids.is_empty() {
            return Ok(());
        }
        let now = now_ns();
        objects::modify(&self.inner, &combined(bucket, key), |rec| {
            for id in &ids {
                rec.holders.insert(id.clone(), now);
                rec.cleanup.remove(id);
            }
            rec.deleted_at_ns = None;
            true
        })
        .await
        .map(|_| ())
    }

    async fn set_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Vec<String>,
    ) -> Result<(), RmError> {
        let ids = self.inner.table.registered(&peer_ids);
        let now = now_ns();
        objects::modify(&self.inner, &combined(bucket, key), |rec| {
            if ids.is_empty() {
                rec.holders.clear();
            } else {
                let version = rec.next_version(now);
                let rf = rec.rf;
                rec.commit(&ids, version, rf, now);
            }
            true
        })
        .await
        .map(|_| ())
    }

    async fn delete_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Option<Vec<String>>,
    ) -> Result<usize, RmError> {
        let mut removed = 0;
        objects::modify(&self.inner, &combined(bucket, key), |rec| {
            let ids = peer_ids.clone().unwrap_or_else(|| rec.holder_ids());
            removed = rec.drop_holders(&ids);
            removed > 0
        })
        .await?;
        Ok(removed)
    }

    async fn record_found(
        &self,
        bucket: &str,
        key: &str,
        copies: Vec<FoundCopy>,
    ) -> Result<Vec<String>, RmError> {
        let copies: Vec<FoundCopy> = {
            let peers = lock(&self.inner.table.peers);
            copies
                .into_iter()
                .filter(|c| peers.contains_key(&c.peer_id))
                .collect()
        };
        if copies.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ns();
        let rec = objects::modify(&self.inner, &combined(bucket, key), |rec| {
            let before = rec.clone();
            // The newest first, so older copies are judged against it.
            let mut sorted = copies.clone();
            sorted.sort_by_key(|c| std::cmp::Reverse(c.version));
            for c in &sorted {
                rec.adopt(&c.peer_id, c.version, c.rf, now);
            }
            *rec != before
        })
        .await?;
        Ok(copies
            .into_iter()
            .filter(|c| rec.is_live() && rec.holders.contains_key(&c.peer_id))
            .map(|c| c.peer_id)
            .collect())
    }

    async fn deleted_keys(&self, bucket: &str, keys: Vec<String>) -> Result<Vec<String>, RmError> {
        let mut deleted = Vec::new();
        for chunk in keys.chunks(500) {
            let combined: Vec<String> = chunk.iter().map(|k| combined(bucket, k)).collect();
            let dead = self
                .inner
                .state
                .st(self.inner.state.store.tombstones(&combined))
                .await?;
            for (key, dead) in chunk.iter().zip(dead) {
                if dead {
                    deleted.push(key.clone());
                }
            }
        }
        Ok(deleted)
    }

    async fn next_version(&self, bucket: &str, key: &str) -> Result<u64, RmError> {
        let rec = objects::get(&self.inner.state, &combined(bucket, key))
            .await?
            .unwrap_or_default();
        Ok(rec.next_version(now_ns()))
    }

    async fn record_delete(
        &self,
        bucket: &str,
        key: &str,
        confirmed: Vec<String>,
        version: u64,
    ) -> Result<(), RmError> {
        let now = now_ns();
        objects::modify(&self.inner, &combined(bucket, key), |rec| {
            rec.delete(&confirmed, version, now);
            true
        })
        .await
        .map(|_| ())
    }

    async fn record_update(
        &self,
        bucket: &str,
        key: &str,
        applied: Vec<String>,
        version: u64,
    ) -> Result<(), RmError> {
        let now = now_ns();
        objects::modify(&self.inner, &combined(bucket, key), |rec| {
            if !rec.is_live() {
                return false;
            }
            rec.update(&applied, version, now);
            true
        })
        .await
        .map(|_| ())
    }

    async fn put_task_group(&self, group: TaskGroup) -> Result<(), RmError> {
        groups::put(&self.inner, group).await
    }

    async fn get_task_group(&self, id: &str) -> Result<Option<TaskGroup>, RmError> {
        groups::get(&self.inner.state, id).await
    }

    async fn claim_task_group(&self, id: &str) -> Result<Claim, RmError> {
        groups::claim(&self.inner, id).await
    }

    async fn renew_claim(&self, claim: &Claim) -> Result<(), RmError> {
        groups::renew(&self.inner, claim).await
    }

    async fn release_task_group(&self, claim: &Claim) -> Result<(), RmError> {
        groups::release(&self.inner, claim).await
    }

    async fn commit_write(&self, claim: &Claim, succeeded: Vec<String>) -> Result<(), RmError> {
        groups::commit(&self.inner, claim, succeeded).await
    }

    async fn delete_task_group(&self, id: &str) -> Result<bool, RmError> {
        groups::delete(&self.inner, id).await
    }

    async fn repair_status(&self) -> RepairStatus {
        status::repair_status(&self.inner).await
    }

    async fn start_drain(&self, peer_id: &str) -> Result<DrainStatus, RmError> {
        drain::start(&self.inner, peer_id).await
    }

    async fn drain_status(&self, peer_id: &str) -> Result<Option<DrainStatus>, RmError> {
        drain::status(&self.inner.state, peer_id).await
    }

    async fn report_start(&self, peer_id: &str) {
        liveness::on_start(&self.inner.table, peer_id);
    }

    async fn report_outcome(&self, peer_id: &str, outcome: PeerOutcome) {
        liveness::on_outcome(&self.inner, peer_id, outcome);
    }
}

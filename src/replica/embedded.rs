//! `EmbeddedReplicaManager`: the in-process implementation of [`ReplicaManager`]. `start` loads the
//! registry, then runs the background loops (health probes, inventory rebuilds, task-group sweep) until
//! `shutdown`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use async_trait::async_trait;
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::background;
use super::health::{self, HealthSink};
use super::membership;
use super::placement::{self, Candidate};
use super::registry::RegistryFile;
use super::replica_map::{combined, ReplicaMap};
use super::state::{lock, now_ns, Inner, PeerEntry};
use super::tasks::TaskStore;
use super::types::*;
use super::ReplicaManager;
use crate::config::Config;
use crate::peer_client::PeerClient;

pub struct EmbeddedReplicaManager {
    inner: Arc<Inner>,
}

impl EmbeddedReplicaManager {
    /// Apply `change` to the holders of `bucket@key` with the ids that are registered. The registry lock is
    /// held while the map changes, so a concurrent peer removal cannot be undone.
    fn record_registered(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Vec<String>,
        change: impl FnOnce(&mut ReplicaMap, &str, &[String], u64),
    ) {
        let peers = lock(&self.inner.peers);
        let ids: Vec<String> = peer_ids
            .into_iter()
            .filter(|id| peers.contains_key(id))
            .collect();
        let mut map = lock(&self.inner.map);
        change(&mut map, &combined(bucket, key), &ids, now_ns());
        self.inner.update_map_gauge(map.len());
    }

    /// Creates the state dir, loads `peers.json` (unparsable = error), registers seed ∪ added − removed
    /// (all "not probed yet") and starts the background loops. Needs a tokio runtime.
    pub async fn start(cfg: &Config, client: PeerClient) -> anyhow::Result<Arc<Self>> {
        let dir = &cfg.replica.state_dir;
        let file = RegistryFile::open(dir)
            .with_context(|| format!("MICTLANX_ROUTER_STATE_DIR={}", dir.display()))?;
        let doc = file
            .load()
            .with_context(|| format!("MICTLANX_ROUTER_STATE_DIR={}", dir.display()))?;
        let peers: BTreeMap<String, PeerEntry> = doc
            .effective(&cfg.seed_peers)
            .into_iter()
            .map(|(id, p)| (id, PeerEntry::new(p)))
            .collect();
        for id in peers.keys() {
            health::set_available_gauge(id, false);
        }
        // Background calls report to this manager through a weak sink (no reference cycle); probes report
        // nowhere: their results drive the state machine directly.
        let inner = Arc::new_cyclic(|weak| Inner {
            cfg: cfg.replica.clone(),
            fanout: cfg.peer_io.fanout_concurrency.max(1),
            client: client.reporting_to_sink(Arc::new(HealthSink(weak.clone()))),
            probe_client: client.without_reporting(),
            seed: cfg.seed_peers.clone(),
            file,
            doc: tokio::sync::Mutex::new(doc),
            peers: Mutex::new(peers),
            map: Mutex::new(ReplicaMap::default()),
            tasks: Mutex::new(TaskStore::new(cfg.replica.task_ttl.as_nanos() as u64)),
            passes: Mutex::new(Default::default()),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        inner.update_map_gauge(0);
        inner.update_tasks_gauge(0);
        background::start(&inner);
        Ok(Arc::new(EmbeddedReplicaManager { inner }))
    }

    /// Stops the background loops (waiting for them) and persists the registry document once more.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        membership::persist_now(&self.inner).await;
    }

    /// The seed peers this manager started with (`MICTLANX_PEERS_URI`).
    pub fn seed_peers(&self) -> Vec<PeerInfo> {
        self.inner.seed.clone()
    }

    fn sorted_live_holders(&self, c: &str) -> Vec<PeerInfo> {
        let holders = lock(&self.inner.map).holders(c);
        let peers = lock(&self.inner.peers);
        let mut live: Vec<&PeerEntry> = holders
            .iter()
            .filter_map(|h| peers.get(h))
            .filter(|e| e.health.is_live())
            .collect();
        live.sort_by(|a, b| {
            a.health
                .in_flight
                .cmp(&b.health.in_flight)
                .then(
                    a.health
                        .ewma_latency_ms
                        .total_cmp(&b.health.ewma_latency_ms),
                )
                .then_with(|| a.info.peer_id.cmp(&b.info.peer_id))
        });
        live.into_iter().map(|e| e.info.clone()).collect()
    }
}

impl Drop for EmbeddedReplicaManager {
    fn drop(&mut self) {
        self.inner.cancel.cancel();
    }
}

#[async_trait]
impl ReplicaManager for EmbeddedReplicaManager {
    async fn get_peers(&self) -> Result<PeersView, RmError> {
        let peers = lock(&self.inner.peers);
        let (available, unavailable): (Vec<&PeerEntry>, Vec<&PeerEntry>) =
            peers.values().partition(|e| e.health.is_live());
        Ok(PeersView {
            available: available.into_iter().map(|e| e.info.clone()).collect(),
            unavailable: unavailable.into_iter().map(|e| e.info.clone()).collect(),
        })
    }

    async fn get_peer(&self, peer_id: &str) -> Result<PeerInfo, RmError> {
        match lock(&self.inner.peers).get(peer_id) {
            None => Err(RmError::NotFound(format!("Peer {peer_id} not found"))),
            Some(e) if !e.health.is_live() => Err(RmError::Unavailable(format!(
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
        let answers: Vec<(String, Option<PeerStats>)> =
            futures::stream::iter(self.inner.live_peers())
                .map(|p| async move {
                    let r = client.stats(&p, start, end).await;
                    if let Err(e) = &r {
                        tracing::warn!(peer_id = %p.peer_id, error = %e, "peer stats left out");
                    }
                    (p.peer_id, r.ok())
                })
                .buffer_unordered(self.inner.fanout)
                .collect()
                .await;
        Ok(answers
            .into_iter()
            .filter_map(|(id, s)| s.map(|s| (id, s)))
            .collect())
    }

    async fn get_replicas(&self, bucket: &str, key: &str) -> Result<ReplicaView, RmError> {
        let holders = lock(&self.inner.map).holders(&combined(bucket, key));
        let peers = lock(&self.inner.peers);
        let mut recorded: Vec<&PeerEntry> = holders.iter().filter_map(|h| peers.get(h)).collect();
        recorded.sort_by(|a, b| {
            b.health
                .is_live()
                .cmp(&a.health.is_live())
                .then_with(|| a.info.peer_id.cmp(&b.info.peer_id))
        });
        let available_replicas = peers
            .values()
            .filter(|e| e.health.is_live() && !holders.contains(&e.info.peer_id))
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
        let rf = rf.max(1);
        let mut holders = lock(&self.inner.map).holders(&combined(bucket, key));
        holders.sort();
        let live: Vec<(PeerInfo, u64, u64)> = lock(&self.inner.peers)
            .values()
            .filter(|e| e.health.is_live())
            .filter_map(|e| {
                e.health
                    .figures
                    .as_ref()
                    .map(|f| (e.info.clone(), f.total_disk, f.used_disk))
            })
            .collect();
        let now = now_ns();
        let reservation_id = nanoid::nanoid!();
        let plan = {
            let mut tasks = lock(&self.inner.tasks);
            let candidates: Vec<Candidate> = live
                .into_iter()
                .map(|(peer, total_disk, used_disk)| {
                    let reserved = tasks.reserved_on(&peer.peer_id, now);
                    Candidate {
                        peer,
                        total_disk,
                        used_disk,
                        reserved,
                    }
                })
                .collect();
            let plan = placement::plan(&candidates, &holders, size, rf)?;
            let ids = plan.write_set.iter().map(|p| p.peer_id.clone()).collect();
            tasks.reserve(reservation_id.clone(), ids, size, now);
            plan
        };
        let under_replicated = plan.write_set.len() < rf as usize;
        if under_replicated {
            let ids: Vec<&str> = plan.write_set.iter().map(|p| p.peer_id.as_str()).collect();
            tracing::warn!(bucket, key, rf, write_set = ?ids, "under-replicated write");
            metrics::counter!("mictlanx_router_under_replicated_writes_total").increment(1);
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

    async fn release_reservation(&self, reservation_id: &str) -> Result<(), RmError> {
        lock(&self.inner.tasks).release_reservation(reservation_id);
        Ok(())
    }

    async fn choose_read_replica(&self, bucket: &str, key: &str) -> Result<Vec<PeerInfo>, RmError> {
        Ok(self.sorted_live_holders(&combined(bucket, key)))
    }

    async fn add_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Vec<String>,
    ) -> Result<(), RmError> {
        self.record_registered(bucket, key, peer_ids, |map, key, ids, now| {
            map.add(key, ids, now)
        });
        Ok(())
    }

    async fn set_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Vec<String>,
    ) -> Result<(), RmError> {
        self.record_registered(bucket, key, peer_ids, |map, key, ids, now| {
            map.set(key, ids, now)
        });
        Ok(())
    }

    async fn delete_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Option<Vec<String>>,
    ) -> Result<usize, RmError> {
        let mut map = lock(&self.inner.map);
        let n = map.delete(&combined(bucket, key), peer_ids.as_deref());
        self.inner.update_map_gauge(map.len());
        Ok(n)
    }

    async fn put_task_group(&self, group: TaskGroup) -> Result<(), RmError> {
        let mut tasks = lock(&self.inner.tasks);
        tasks.put(group, now_ns());
        self.inner.update_tasks_gauge(tasks.group_count());
        Ok(())
    }

    async fn get_task_group(&self, id: &str) -> Result<Option<TaskGroup>, RmError> {
        Ok(lock(&self.inner.tasks).get(id, now_ns()))
    }

    async fn claim_task_group(&self, id: &str) -> Result<TaskGroup, RmError> {
        lock(&self.inner.tasks).claim(id, now_ns())
    }

    async fn release_task_group(&self, id: &str) -> Result<(), RmError> {
        lock(&self.inner.tasks).release(id);
        Ok(())
    }

    async fn delete_task_group(&self, id: &str) -> Result<bool, RmError> {
        let mut tasks = lock(&self.inner.tasks);
        let existed = tasks.delete(id);
        self.inner.update_tasks_gauge(tasks.group_count());
        Ok(existed)
    }

    async fn report_start(&self, peer_id: &str) {
        health::on_start(&self.inner, peer_id);
    }

    async fn report_outcome(&self, peer_id: &str, outcome: PeerOutcome) {
        health::on_outcome(&self.inner, peer_id, outcome);
    }
}

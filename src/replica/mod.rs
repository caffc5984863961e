//! The replica manager (the SPM role, `replica-manager.md`): the [`ReplicaManager`] trait and its embedded
//! implementation (peer registry + health, placement, replica map, upload task groups).

mod background;
pub mod discovery;
pub mod embedded;
pub mod health;
pub mod inventory;
mod membership;
pub mod placement;
pub mod registry;
pub mod replica_map;
mod state;
pub mod tasks;
pub mod types;

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use types::*;

/// Cluster state behind one async, object-safe interface. Every result is owned; no lock spans two calls,
/// so a shared backend (several routers) can implement it later (`replica-manager.md` §2, §10).
#[async_trait]
pub trait ReplicaManager: Send + Sync + 'static {
    async fn get_peers(&self) -> Result<PeersView, RmError>;
    /// `NotFound` if not registered, `Unavailable` if registered but not available.
    async fn get_peer(&self, peer_id: &str) -> Result<PeerInfo, RmError>;
    async fn add_peers(&self, peers: Vec<PeerInfo>) -> Result<(), RmError>;
    async fn remove_peers(&self, peer_ids: Vec<String>) -> Result<usize, RmError>;
    async fn get_stats(&self, start: i64, end: i64)
        -> Result<BTreeMap<String, PeerStats>, RmError>;

    async fn get_replicas(&self, bucket: &str, key: &str) -> Result<ReplicaView, RmError>;
    async fn place(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        rf: u32,
    ) -> Result<Placement, PlacementError>;
    async fn release_reservation(&self, reservation_id: &str) -> Result<(), RmError>;
    /// Live holders, best first; empty = no live holder known (the caller may run discovery).
    async fn choose_read_replica(&self, bucket: &str, key: &str) -> Result<Vec<PeerInfo>, RmError>;
    async fn add_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Vec<String>,
    ) -> Result<(), RmError>;
    async fn set_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Vec<String>,
    ) -> Result<(), RmError>;
    async fn delete_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Option<Vec<String>>,
    ) -> Result<usize, RmError>;

    async fn put_task_group(&self, group: TaskGroup) -> Result<(), RmError>;
    async fn get_task_group(&self, id: &str) -> Result<Option<TaskGroup>, RmError>;
    /// `NotFound` if absent or expired; `Conflict` if a live claim exists.
    async fn claim_task_group(&self, id: &str) -> Result<TaskGroup, RmError>;
    async fn release_task_group(&self, id: &str) -> Result<(), RmError>;
    async fn delete_task_group(&self, id: &str) -> Result<bool, RmError>;

    async fn report_start(&self, peer_id: &str);
    async fn report_outcome(&self, peer_id: &str, outcome: PeerOutcome);
}

//! The replica manager (the SPM role, `docs/replica-manager.md`): the [`ReplicaManager`] trait the router's
//! handlers use, implemented once by [`manager::Manager`] over a [`store::StateStore`] — in process
//! ([`store::memory`], the default, one router) or on Redis ([`store::redis`], several routers sharing
//! one storage space). The rules live here once: placement ([`placement`]), the liveness state machine
//! ([`liveness`]), object records with versions and tombstones ([`record`]), claims ([`claims`]); a store
//! only stores and fetches atomically.

mod background;
pub mod claims;
mod copies;
mod copy;
pub mod discovery;
mod drain;
mod groups;
pub mod inventory;
mod inventory_digests;
mod inventory_shards;
pub mod liveness;
pub mod manager;
mod membership;
mod objects;
pub mod placement;
pub mod record;
pub mod registry;
mod repair;
mod reporting;
mod state;
pub mod state_log;
mod status;
pub mod store;
pub mod throttle;
mod tombstones;
pub mod types;

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use manager::{EmbeddedReplicaManager, Manager, RedisReplicaManager, StateStoreUnreachable};
pub use types::*;

/// Readiness of the cluster state as `/ready` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub available: usize,
    pub registered: usize,
    /// `None` when the state store answers; otherwise why not.
    pub store_error: Option<String>,
}

/// Cluster state behind one async, object-safe interface. Every result is owned; no lock spans two calls;
/// every change is one atomic step in the store (`docs/replica-manager.md` §2, §10).
#[async_trait]
pub trait ReplicaManager: Send + Sync + 'static {
    async fn get_peers(&self) -> Result<PeersView, RmError>;
    /// `NotFound` if not registered, `Unavailable` if registered but not available.
    async fn get_peer(&self, peer_id: &str) -> Result<PeerInfo, RmError>;
    async fn add_peers(&self, peers: Vec<PeerInfo>) -> Result<(), RmError>;
    async fn remove_peers(&self, peer_ids: Vec<String>) -> Result<usize, RmError>;
    async fn get_stats(&self, start: i64, end: i64)
        -> Result<BTreeMap<String, PeerStats>, RmError>;
    async fn readiness(&self) -> Readiness;

    async fn get_replicas(&self, bucket: &str, key: &str) -> Result<ReplicaView, RmError>;
    async fn place(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        rf: u32,
    ) -> Result<Placement, PlacementError>;
    /// [`Self::place`] for a write that replaces the object: when every registered peer already holds the
    /// key, the live holders take the new version instead of the answer being `AllHold` (which then only
    /// means that no peer is live).
    async fn place_replacing(
        &self,
        bucket: &str,
        key: &str,
        size: u64,
        rf: u32,
    ) -> Result<Placement, PlacementError>;
    async fn release_reservation(&self, reservation_id: &str) -> Result<(), RmError>;
    /// Live holders of the current version, best first, and that version; no peers = no live holder
    /// known (the caller may run discovery).
    async fn choose_read_replica(&self, bucket: &str, key: &str) -> Result<ReadPlan, RmError>;
    /// The object's current version (what cache entries are checked against); `None` = no record.
    async fn object_version(&self, bucket: &str, key: &str) -> Result<Option<u64>, RmError>;
    /// Union registered `peer_ids` into the holders of the current version (unverified copies).
    async fn add_replicas(
        &self,
        bucket: &str,
        key: &str,
        peer_ids: Vec<String>,
    ) -> Result<(), RmError>;
    /// Replace the holders with `peer_ids` as a new version (empty = remove the key).
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
    /// Copies found on peers (discovery): each is judged by its version; returns the peers that hold the
    /// current version afterwards (stale and deleted copies are scheduled for deletion, never returned).
    async fn record_found(
        &self,
        bucket: &str,
        key: &str,
        copies: Vec<FoundCopy>,
    ) -> Result<Vec<String>, RmError>;
    /// The keys among `keys` (of `bucket`) that were deleted and not written again: listings built from
    /// the peers leave them out (a holder that missed the delete may still list its copy).
    async fn deleted_keys(&self, bucket: &str, keys: Vec<String>) -> Result<Vec<String>, RmError>;
    /// A version for a change of `bucket@key` (update, disable, delete), above every version seen.
    async fn next_version(&self, bucket: &str, key: &str) -> Result<u64, RmError>;
    /// A delete at `version`: `confirmed` holders deleted their copy; the others get a tombstone.
    async fn record_delete(
        &self,
        bucket: &str,
        key: &str,
        confirmed: Vec<String>,
        version: u64,
    ) -> Result<(), RmError>;
    /// An update or disable at `version` that the `applied` holders accepted (the rest are stale).
    async fn record_update(
        &self,
        bucket: &str,
        key: &str,
        applied: Vec<String>,
        version: u64,
    ) -> Result<(), RmError>;

    async fn put_task_group(&self, group: TaskGroup) -> Result<(), RmError>;
    async fn get_task_group(&self, id: &str) -> Result<Option<TaskGroup>, RmError>;
    /// `NotFound` if absent or expired; `Conflict` if a live claim exists.
    async fn claim_task_group(&self, id: &str) -> Result<Claim, RmError>;
    /// Extend the claim's lease; `Conflict` once another upload took the group over.
    async fn renew_claim(&self, claim: &Claim) -> Result<(), RmError>;
    /// Clear the claim (the group stays until it expires, for a retry).
    async fn release_task_group(&self, claim: &Claim) -> Result<(), RmError>;
    /// Phase 2 succeeded on `succeeded`: fenced by the claim, record holders and version, delete the group.
    async fn commit_write(&self, claim: &Claim, succeeded: Vec<String>) -> Result<(), RmError>;
    async fn delete_task_group(&self, id: &str) -> Result<bool, RmError>;

    /// What the repair loop does (this router's, and the leader's as it published it).
    async fn repair_status(&self) -> RepairStatus;
    /// Stop placing new copies on the peer and copy everything it holds elsewhere.
    async fn start_drain(&self, peer_id: &str) -> Result<DrainStatus, RmError>;
    /// The drain of a peer, if one was started.
    async fn drain_status(&self, peer_id: &str) -> Result<Option<DrainStatus>, RmError>;

    async fn report_start(&self, peer_id: &str);
    async fn report_outcome(&self, peer_id: &str, outcome: PeerOutcome);
}

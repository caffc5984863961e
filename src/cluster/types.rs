//! Data types of the replica manager (`docs/replica-manager.md` §1). Field names are the JSON names.

use serde::{Deserialize, Serialize};

pub use crate::peer::{PeerInfo, PeerOutcome, PeerStats};
use crate::peer_client::PeerPutMetadata;

/// Registry snapshot split by availability; both lists sorted by `peer_id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeersView {
    pub available: Vec<PeerInfo>,
    pub unavailable: Vec<PeerInfo>,
}

/// Holders of one key from the replica map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaView {
    /// Recorded holders, live first, then by `peer_id`.
    pub replicas: Vec<PeerInfo>,
    /// Live peers that are not holders.
    pub available_replicas: Vec<PeerInfo>,
}

/// The outcome of `place` (`docs/replica-manager.md` §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Live holders by `peer_id`, then new peers in choice order.
    pub write_set: Vec<PeerInfo>,
    pub new_peers: Vec<String>,
    pub holders: Vec<String>,
    pub requested_rf: u32,
    pub under_replicated: bool,
    pub reservation_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// Every live peer holds the key, or there is no live peer (router: 404 code 666).
    #[error("every live peer already holds the key")]
    AllHold { holders: Vec<String> },
    /// No peer has room (router: 507).
    #[error("no peer has enough free space for {size} bytes")]
    NoCapacity { size: u64 },
    #[error("{0}")]
    Backend(String),
    /// The shared state store cannot be reached (router: 503).
    #[error("{0}")]
    StateUnavailable(String),
}

impl From<RmError> for PlacementError {
    fn from(e: RmError) -> Self {
        match e {
            RmError::StateUnavailable(m) => PlacementError::StateUnavailable(m),
            other => PlacementError::Backend(other.to_string()),
        }
    }
}

/// One pending upload on one peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskX {
    /// The id the peer returned.
    pub task_id: String,
    pub group_id: String,
    pub operation: String,
    pub bucket_id: String,
    pub key: String,
    pub size: u64,
    /// Exactly one peer id.
    pub peers: Vec<String>,
    pub content_type: String,
    pub status: String,
}

/// All tasks of one phase 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskGroup {
    pub group_id: String,
    pub operation: String,
    pub bucket_id: String,
    pub key: String,
    pub size: u64,
    pub content_type: String,
    pub tasks: Vec<TaskX>,
    pub reservation_id: Option<String>,
    pub created_at_ns: u64,
    pub expires_at_ns: u64,
    /// End of the current claim's lease (`None` = not claimed).
    pub claimed_until_ns: Option<u64>,
    /// Fencing token of the latest claim (0 = never claimed).
    #[serde(default)]
    pub claim_token: u64,
    /// The router that holds the claim (logs and status only).
    #[serde(default)]
    pub claim_owner: Option<String>,
    /// Desired number of copies (the request's replication factor).
    #[serde(default)]
    pub rf: u32,
    /// The peer metadata body of phase 1, so a router that takes the group over can open fresh tasks.
    #[serde(default)]
    pub meta: Option<PeerPutMetadata>,
}

/// A claim on a task group: the group as claimed, the fencing token every later step presents, and the
/// version the write gets (sent to the peers as `Object-Version`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub group: TaskGroup,
    pub token: u64,
    pub version: u64,
}

/// Space reserved on peers by a placement until its upload ends (or the TTL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    pub id: String,
    pub peers: Vec<String>,
    pub size: u64,
    pub expires_at_ns: u64,
}

/// Where to read `bucket@key`: live current holders, best first, and the object's version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadPlan {
    pub peers: Vec<PeerInfo>,
    /// The record's version (0 when unknown or absent); cache entries are tagged with it.
    pub version: u64,
    /// Recorded holders of the current version that are not live now (down, stalled, cooling down, not
    /// probed yet): when no live holder can answer, the object is unavailable, not absent.
    pub down: usize,
}

/// A copy of an object found on a peer (discovery, inventory): its version and desired rf as the peer
/// keeps them (`Object-Version`, `Replication-Factor`; 0 = the peer did not say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCopy {
    pub peer_id: String,
    pub version: u64,
    pub rf: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RmError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Backend(String),
    /// The shared state store (Redis) cannot be reached: the router answers 503 with `Retry-After`.
    #[error("{0}")]
    StateUnavailable(String),
}

/// Progress of draining one peer (`GET /api/v4/peers/{peer_id}/drain`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DrainStatus {
    pub peer_id: String,
    /// `running` while objects still need copies elsewhere, then `done`; the peer takes no new placements
    /// until it is removed.
    pub state: String,
    /// Objects the peer held when the drain started.
    pub objects_total: u64,
    /// Of those, objects whose full replication factor is on other peers.
    pub objects_done: u64,
    pub bytes_copied: u64,
    pub started_at_ns: u64,
    pub finished_at_ns: Option<u64>,
}

/// What a repair loop did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepairTotals {
    pub rounds: u64,
    /// Copies made (each restores one missing copy).
    pub repaired: u64,
    pub failed: u64,
    pub bytes_copied: u64,
    /// Pending deletes applied (tombstones and stale copies).
    pub deletes_applied: u64,
}

/// One round of the repair loop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepairRound {
    pub started_at_ns: u64,
    pub finished_at_ns: u64,
    /// Records looked at.
    pub examined: u64,
    /// Records found with fewer live current copies than their replication factor.
    pub under_replicated: u64,
    pub repaired: u64,
    pub failed: u64,
    pub deletes_applied: u64,
    pub bytes_copied: u64,
}

/// `GET /api/v4/repair`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepairStatus {
    pub router_id: String,
    /// Whether this router runs the space's repair loop (one router per space does).
    pub leader: bool,
    pub backend: String,
    pub interval_ms: u64,
    pub delay_ms: u64,
    /// Bytes per second shared by all copies (0 = no bound).
    pub bandwidth: u64,
    pub concurrency: u64,
    /// Records that need attention now: under-replicated, pending deletes, stale copies, tombstones.
    pub queued: u64,
    /// Keys this router is repairing right now.
    pub running: Vec<String>,
    /// What this router's repair loop did since it started.
    pub done: RepairTotals,
    pub last_round: Option<RepairRound>,
    /// The leader's status as it last published it (when this router is not the leader).
    pub leader_status: Option<serde_json::Value>,
    pub drains: Vec<DrainStatus>,
}

/// Replica-manager failures the handlers do not map themselves: an unreachable cluster state is a 503
/// the client may retry; anything else from the backend is a 500 with its text.
impl From<RmError> for mictlanx_http::ApiError {
    fn from(e: RmError) -> Self {
        match e {
            RmError::StateUnavailable(m) => mictlanx_http::ApiError::state_unavailable(m),
            RmError::NotFound(m) => mictlanx_http::ApiError::not_found(m),
            RmError::Conflict(m) => mictlanx_http::ApiError::conflict(m),
            RmError::Unavailable(m) => mictlanx_http::ApiError::unavailable(m),
            RmError::Backend(m) => mictlanx_http::ApiError::internal(m),
        }
    }
}

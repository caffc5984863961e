//! The cluster-state store: where the replica manager keeps what several routers must share (peer
//! registry, object records with their per-peer index, task groups, reservations, leases, status
//! documents). A store only stores and fetches, atomically; every decision is the manager's
//! ([`super::record`], [`super::claims`], [`super::placement`]). Two backends: [`memory`] (one router,
//! in process, the default) and [`redis`] (several routers on one Redis). The contract tests in
//! `tests/state_store.rs` run against both.
//!
//! Changes are compare-and-set: a reader gets a value with its revision ([`Versioned`]); a [`Write`]
//! names the revision it read (`prev`), and [`StateStore::apply`] applies a batch of writes all together
//! or not at all (when any revision moved on). The store keeps two derived indexes from what it is given:
//! the per-peer index of object holders, the set of records that need attention
//! ([`ObjectRecord::needs_attention`]) and the finished tombstones by expiry
//! ([`ObjectRecord::tombstone_expiry_ns`]); and the member-task index of task groups.

pub mod memory;
mod record_codec;
pub mod redis;
mod redis_conn;
mod redis_docs;
mod redis_keys;
mod redis_script;
mod redis_shards;
mod redis_tombstones;

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::record::ObjectRecord;
use super::registry::PeersDoc;
use super::types::{PeerInfo, Reservation, RmError, TaskGroup};

/// A revision for compare-and-set; a value that does not exist has no revision.
pub type Rev = u64;

#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub rev: Rev,
    pub value: T,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// The store cannot be reached (or did not answer in time): retry later.
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// The store answered with an error, or its content could not be read.
    #[error("state store error: {0}")]
    Backend(String),
}

impl From<StoreError> for RmError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(m) => RmError::StateUnavailable(format!(
                "Cluster state unavailable, try again later: {m}"
            )),
            StoreError::Backend(m) => RmError::Backend(m),
        }
    }
}

/// One change of an atomic batch. `prev` is what the writer read (`None` = it must not exist); `next`
/// `None` deletes. (The variants are short-lived values in a small batch, so their size difference
/// does not matter.)
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Write {
    Object {
        key: String,
        prev: Option<Versioned<ObjectRecord>>,
        next: Option<ObjectRecord>,
    },
    Group {
        id: String,
        prev: Option<Versioned<TaskGroup>>,
        next: Option<TaskGroup>,
        /// How long the store keeps `next` (the group expires with it).
        ttl: Duration,
    },
    Reserve(Reservation),
    Release(String),
}

/// A page of a set (the per-peer index, the attention set): keys and the cursor of the next page
/// (`None` = done). A page may hold fewer keys than asked for, even none, and still have a next page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub keys: Vec<String>,
    pub next: Option<String>,
}

#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// Short name for logs and metrics (`embedded`, `redis`).
    fn backend(&self) -> &'static str;

    /// The runtime part of the peer registry (added and removed peers).
    async fn registry(&self) -> Result<PeersDoc, StoreError>;
    /// Upsert `add` into `added` (removing them from `removed`) and move `remove` into `removed`,
    /// atomically and durably.
    async fn change_registry(
        &self,
        add: Vec<PeerInfo>,
        remove: Vec<String>,
    ) -> Result<(), StoreError>;

    async fn object(&self, key: &str) -> Result<Option<Versioned<ObjectRecord>>, StoreError>;
    async fn objects(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Versioned<ObjectRecord>>>, StoreError>;
    /// Only the record's version: the cheap check a cache hit makes.
    async fn object_version(&self, key: &str) -> Result<Option<u64>, StoreError>;
    /// The keys a peer holds, a page at a time (`cursor` from the previous page, `None` to start).
    async fn peer_objects(
        &self,
        peer_id: &str,
        cursor: Option<String>,
        count: usize,
    ) -> Result<Page, StoreError>;
    /// The keys of shard `shard` ([`mictlanx_proto::shard::shard_of`]) the peer holds: one shard's part of
    /// the per-peer index, read without touching the peer's other shards (an inventory pass reconciles a
    /// shard at a time).
    async fn peer_shard_objects(
        &self,
        peer_id: &str,
        shard: u16,
    ) -> Result<Vec<String>, StoreError>;
    /// How many keys the peer holds (the size of its per-peer index), without reading any record: the
    /// total a drain starts with.
    async fn peer_object_count(&self, peer_id: &str) -> Result<u64, StoreError>;
    /// The keys whose records need attention, a page at a time.
    async fn attention(&self, cursor: Option<String>, count: usize) -> Result<Page, StoreError>;
    async fn attention_len(&self) -> Result<u64, StoreError>;
    /// Up to `count` keys of tombstones past their expiry at `now_ns`
    /// ([`ObjectRecord::tombstone_expiry_ns`]), oldest first within a shard. The store keeps them apart,
    /// ordered by expiry, so finding them costs O(found), never a scan of the tombstones.
    async fn expired_tombstones(
        &self,
        now_ns: u64,
        count: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// How many object records exist.
    async fn object_count(&self) -> Result<u64, StoreError>;

    /// A task group by its id or by a member task id.
    async fn group(&self, id: &str) -> Result<Option<Versioned<TaskGroup>>, StoreError>;
    async fn group_count(&self) -> Result<u64, StoreError>;
    /// Reservations that have not expired at `now_ns`.
    async fn reservations(&self, now_ns: u64) -> Result<Vec<Reservation>, StoreError>;

    /// All of `writes` or none: `Ok(false)` when a revision moved on since it was read.
    async fn apply(&self, writes: Vec<Write>) -> Result<bool, StoreError>;

    /// Take or keep the lease `name` for `owner` for `ttl`; `true` when `owner` holds it now.
    async fn lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Small JSON documents (drain and repair status). `ttl` `None` = kept until replaced.
    async fn put_doc(
        &self,
        name: &str,
        value: Option<Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError>;
    async fn doc(&self, name: &str) -> Result<Option<Value>, StoreError>;
    /// Documents whose name starts with `prefix`.
    async fn docs(&self, prefix: &str) -> Result<Vec<(String, Value)>, StoreError>;

    /// The identity of the store's data set. It changes when the store lost its data (a Redis that
    /// restarted empty), which the manager treats as "rebuild everything from the peers".
    async fn epoch(&self) -> Result<String, StoreError>;

    /// Drop expired entries the backend does not expire by itself (reservations, groups). Leader only.
    async fn sweep(&self, now_ns: u64) -> Result<u64, StoreError>;

    /// Problems worth one warning at start-up (e.g. Redis configured to evict keys).
    async fn startup_warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// For each of `keys` (combined keys), whether its record is a tombstone: the check a listing page makes
    /// for every key it lists, cheaper than reading every record (only records in the attention set can
    /// be tombstones).
    async fn tombstones(&self, keys: &[String]) -> Result<Vec<bool>, StoreError>;
}

//! The cluster state: the replica manager and its backends (embedded, Redis), several routers on one
//! space (in process and as processes), cache coherence across writers, healing and draining.

mod cache_coherence;
mod drain_progress;
mod healing;
mod healing_drain;
mod inventory_passes;
mod inventory_shards;
mod multi_router;
mod multi_router_process;
mod peer_shard_index;
mod redis_cluster;
mod replica_manager;
mod state_memory;
mod state_store;
mod tombstones;

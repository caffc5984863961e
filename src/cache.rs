//! The router's byte cache (`docs/router-api.md` §7): a process-wide moka cache of whole objects keyed by
//! combined key, with byte and entry limits, LRU or TinyLFU eviction, and generation-guarded fills so an
//! invalidated key is never resurrected by a read that started before the invalidation. Object metadata is
//! cached beside the bytes under the same generations (`meta_cache.rs`).

mod ball_cache;
mod fill;
mod generations;
mod limits;
mod meta_cache;
#[cfg(test)]
mod meta_tests;
mod occupancy;
#[cfg(test)]
mod tests;

pub use ball_cache::{BallCache, CacheStats, CachedBall};
pub use fill::{FillStamp, FillTicket};
pub use meta_cache::CachedMeta;

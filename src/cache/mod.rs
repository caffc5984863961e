//! The router's byte cache (`router-api.md` §7): a process-wide moka cache of whole objects keyed by
//! combined key, with byte and entry limits, LRU or TinyLFU eviction, and generation-guarded fills so an
//! invalidated key is never resurrected by a read that started before the invalidation.

mod ball_cache;
mod fill;
mod generations;
mod limits;
mod occupancy;
#[cfg(test)]
mod tests;

pub use ball_cache::{BallCache, CacheStats, CachedBall};
pub use fill::{FillStamp, FillTicket};

//! The wire contract shared by the router, the storage peer and the load generator: object metadata,
//! human units, the peer API (paths, request and answer bodies) and its headers, and the shard function
//! the state store and the peers' per-shard digests share.

pub mod headers;
pub mod model;
pub mod peer;
pub mod shard;
pub mod units;

pub use model::Metadata;

//! The wire contract shared by the router, the storage peer and the load generator: object metadata,
//! human units, the peer API (paths, request and answer bodies) and its headers.

pub mod headers;
pub mod model;
pub mod peer;
pub mod units;

pub use model::Metadata;

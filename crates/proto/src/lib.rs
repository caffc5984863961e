//! The wire contract shared by the router, the storage peer and the load generator: object metadata,
//! human units, and the peer API's paths and extension headers.

pub mod headers;
pub mod model;
pub mod units;

pub use model::Metadata;

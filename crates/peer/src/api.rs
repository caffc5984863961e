//! HTTP handlers of the storage peer, one file per resource, and the ordered route table.

pub mod digests;
pub mod download;
pub mod late_tags;
pub mod listing_json;
pub mod metadata;
pub mod metrics;
pub mod objects;
pub mod paging;
pub mod put_metadata;
pub mod replicate;
pub mod reply;
pub mod routes;
pub mod stats;
pub mod upload;

pub use routes::table;

//! The S3 facade: an S3-compatible listener over the same storage space. S3 buckets and objects are
//! MictlanX buckets and objects ([`names`] maps the names both ways); writes and reads go through the
//! router's own API in process ([`backend`]), so replication, healing, caching and the shared state are
//! the MictlanX ones. s3s provides the S3 protocol: SigV4, the REST routes, XML, streaming bodies.
//! See docs/s3.md.

mod attrs;
mod backend;
mod body;
mod bucket_ops;
mod buckets;
mod checksum;
mod conditional;
mod content_headers;
mod copy_object;
mod errors;
mod list;
mod list_ops;
pub mod listener;
pub mod listing;
mod manifest;
mod multipart;
mod multipart_copy;
mod multipart_part;
pub mod names;
mod object_attributes;
mod objects;
mod operations;
mod presign;
mod read;
mod service;
mod storage_class;
mod sweep;
mod upload_list;
mod uploads;
mod write;

pub use listener::S3Listener;
pub use service::{DURATION, REQUESTS};

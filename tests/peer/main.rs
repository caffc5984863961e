//! The storage peer on its own: in-process `mictlanx-peer` servers and the binary, driven over HTTP
//! (two-phase PUT, reads, ranges, versions, listings, integrity, scrub, auth, metrics, restarts, memory).

mod auth;
mod binary;
mod concurrency;
mod failures;
mod integrity;
mod listing;
mod memory;
mod metadata_header;
mod metrics;
mod range;
mod replicate;
mod restart;
mod roundtrip;
mod scrub;
mod shard_digests;
mod versions;

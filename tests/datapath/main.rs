//! The router's data path against real peers: writes, reads, ranges, the GET without a metadata request,
//! the metadata cache, end-to-end integrity, updates in place, and the router's peer client.

mod failures;
mod get_direct;
mod get_one_request;
mod integrity;
mod lifecycle;
mod metadata_cache;
mod peer_client_compat;
mod peer_client_outcomes;
mod peer_client_timeouts;
mod range_reads;
mod read_path;
mod update_in_place;

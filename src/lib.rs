//! mictlanx-router: the gateway of a MictlanX virtual storage space, and `mictlanx-peer`, a disk-backed
//! storage peer. See docs/architecture.md for the architecture map.
//!
//! Router request flow: the route table (`mictlanx-http`) → [`api`] handlers → [`datapath`] (write fan-out,
//! read failover) → [`cluster`] (replica manager) / [`peer_client`] → storage peers; [`cache`] sits on the
//! read path. [`peer`] is what both sides know of a storage peer. [`security`] holds tokens and the peer
//! allowlist.

pub mod api;
pub mod app;
pub mod cache;
pub mod cluster;
pub mod config;
pub mod datapath;
pub mod deadline;
pub mod health_check;
pub mod ids;
pub mod peer;
pub mod peer_client;
pub mod peers_uri;
pub mod s3;
pub mod security;
pub mod server;
pub mod telemetry;
pub mod validate;

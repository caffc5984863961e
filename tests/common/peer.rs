//! In-process storage peers for black-box tests: real `mictlanx-peer` servers on 127.0.0.1 port 0.
#![allow(dead_code)]

use std::path::Path;

use mictlanx_router::peer::{serve, PeerConfig, PeerServer};

/// Start a peer with id `node_id` storing under `dir` (data/, local/, log/); default capacity 10 GB.
pub async fn spawn_peer(node_id: &str, dir: &Path) -> PeerServer {
    spawn_peer_with(peer_config(node_id, dir)).await
}

/// Same with a declared disk capacity in bytes (507 tests).
pub async fn spawn_peer_with_capacity(node_id: &str, dir: &Path, capacity: u64) -> PeerServer {
    let mut cfg = peer_config(node_id, dir);
    cfg.disk_capacity = capacity;
    spawn_peer_with(cfg).await
}

/// The config `spawn_peer` uses, for tests that tweak more fields.
pub fn peer_config(node_id: &str, dir: &Path) -> PeerConfig {
    let mut cfg = PeerConfig::for_tests(dir);
    cfg.node_id = node_id.to_string();
    cfg
}

pub async fn spawn_peer_with(cfg: PeerConfig) -> PeerServer {
    serve(cfg).await.expect("peer starts")
}

/// A reqwest client usable without TLS setup (installs the ring provider once).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().expect("reqwest client")
}

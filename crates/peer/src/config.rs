//! `PeerConfig`: the typed configuration of `mictlanx-peer` (`docs/config.md` §3), and its test constructor.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::auth::PeerToken;

/// Log line format of the peer binary (`MICTLANX_PEER_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Everything the storage peer needs to run. Tests build it with [`PeerConfig::for_tests`].
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// `NODE_ID`: `peer_id` / `node_id` in responses.
    pub node_id: String,
    /// `SERVER_IP_ADDR`: bind address (host name or IP).
    pub host: String,
    /// `NODE_PORT`: listen port, `0` = any free port.
    pub port: u16,
    /// `IP_ADDRESS`: advertised address (`/api/v4/nodes`, `/api/v4/peers/state`).
    pub ip_address: String,
    /// `DATA_PATH`: object bytes (`objects/`) and upload temp files (`tmp/`).
    pub data_path: PathBuf,
    /// `LOCAL_PATH`: durable metadata records (`meta/`).
    pub local_path: PathBuf,
    /// `LOG_PATH`: directory of the daily log file (binary only).
    pub log_path: PathBuf,
    /// `NODE_DISK_CAPACITY`: declared `total_disk` in bytes.
    pub disk_capacity: u64,
    /// `NODE_MEMORY_CAPACITY`: accepted, no effect.
    pub memory_capacity: u64,
    /// `PAYLOAD_LIMIT`: largest object accepted, `0` = no limit.
    pub payload_limit: u64,
    /// `CLIENT_REQUEST_TIMEOUT`: idle timeout while receiving a request body; also how long a keep-alive
    /// connection may wait for its next request.
    pub client_request_timeout: Duration,
    /// `WORKERS`: runtime worker threads (binary only); `None` = one per CPU.
    pub workers: Option<usize>,
    /// `PEERS`: neighbour URLs as given, reported in `/api/v4/stats`.
    pub peers: Vec<String>,
    /// `TRAVERSE_AND_CLEAN`: delete unreferenced data files at start-up.
    pub traverse_and_clean: bool,
    /// `MICTLANX_PEER_TASK_TTL`: lifetime of pending (phase-1) tasks.
    pub task_ttl: Duration,
    /// Period of the expired-task sweep (one minute in production).
    pub task_sweep_interval: Duration,
    /// `MICTLANX_PEER_LOG_LEVEL` (`RUST_LOG` overrides).
    pub log_level: String,
    /// `MICTLANX_PEER_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `MICTLANX_PEER_TOKEN` / `MICTLANX_PEER_TOKEN_FILE`: bearer token of writes (and reads, see below).
    pub token: Option<PeerToken>,
    /// `MICTLANX_PEER_TOKEN_READS`: every route but `/health` and `/metrics` needs the token.
    pub token_reads: bool,
    /// `MICTLANX_PEER_HEADER_TIMEOUT`: a request's head must be complete this long after its first byte.
    pub header_timeout: Duration,
    /// `MICTLANX_PEER_SCRUB_INTERVAL`: one verification pass over every object per interval; zero = off.
    pub scrub_interval: Duration,
    /// `MICTLANX_PEER_SCRUB_BANDWIDTH`: bytes per second a scrub pass may read.
    pub scrub_bandwidth: u64,
}

impl Default for PeerConfig {
    fn default() -> Self {
        let base = PathBuf::from("/app/mictlanx");
        Self {
            node_id: "mictlanx-peer-0".into(),
            host: "0.0.0.0".into(),
            port: 25000,
            ip_address: "localhost".into(),
            data_path: base.join("data"),
            local_path: base.join("local"),
            log_path: base.join("log"),
            disk_capacity: 10_000_000_000,
            memory_capacity: 1_000_000_000,
            payload_limit: 0,
            client_request_timeout: Duration::from_secs(300),
            workers: None,
            peers: Vec::new(),
            traverse_and_clean: true,
            task_ttl: Duration::from_secs(3600),
            task_sweep_interval: Duration::from_secs(60),
            log_level: "info".into(),
            log_format: LogFormat::Text,
            token: None,
            token_reads: false,
            header_timeout: Duration::from_secs(10),
            scrub_interval: Duration::ZERO,
            scrub_bandwidth: 50_000_000,
        }
    }
}

impl PeerConfig {
    /// A peer on `127.0.0.1`, port 0, with `data/`, `local/` and `log/` under `dir`.
    pub fn for_tests(dir: &Path) -> Self {
        Self {
            host: Ipv4Addr::LOCALHOST.to_string(),
            port: 0,
            ip_address: "127.0.0.1".into(),
            data_path: dir.join("data"),
            local_path: dir.join("local"),
            log_path: dir.join("log"),
            client_request_timeout: Duration::from_secs(60),
            ..Self::default()
        }
    }

    /// The bind address: an IP literal as is, anything else resolved at bind time.
    pub fn bind_target(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => format!("[{ip}]:{}", self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

//! A storage peer as the router knows it: its address (`PeerInfo`, the one place peer URLs are built),
//! the stats it relays, and how one call to it ended (`PeerOutcome`). Below both the peer client and the
//! cluster state, which each speak of peers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A registered storage peer. Serialises as `PeerModel` (`docs/router-api.md` §5.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerInfo {
    pub peer_id: String,
    pub ip_addr: String,
    pub port: u16,
    pub protocol: String,
    pub api_version: u32,
}

impl PeerInfo {
    /// Base URL `{protocol}://{host}:{port}[/{path prefix}]` (A.5 rule 7). With `test_mode`
    /// (`MICTLANX_TEST=1`) the host is rewritten to `localhost`. This is the one place peer URLs are built.
    pub fn base_url(&self, test_mode: bool) -> String {
        let (host, path) = match self.ip_addr.split_once('/') {
            Some((h, p)) => (h, Some(p.trim_end_matches('/'))),
            None => (self.ip_addr.as_str(), None),
        };
        let host = if test_mode { "localhost" } else { host };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        match path {
            Some(p) if !p.is_empty() => format!("{}://{}:{}/{}", self.protocol, host, self.port, p),
            _ => format!("{}://{}:{}", self.protocol, host, self.port),
        }
    }
}

/// Per-peer stats relayed by `/api/v4/peers/stats`: the peer's seven-key answer.
pub use mictlanx_proto::peer::PeerStats;

/// How one peer call ended, reported for error limiting and read ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerOutcome {
    /// Any 2xx–4xx answer (a 404 is an answer, not a fault); latency = time to response headers.
    Ok { latency: Duration },
    /// Refused, DNS, TLS, connect timeout.
    Connect,
    /// Idle or total timeout.
    Timeout,
    /// 5xx except 507.
    ServerError(u16),
    /// 507.
    InsufficientStorage,
}

//! `PeerState`: what every peer handler shares (config, store, pending tasks, known neighbours, metrics).

use std::sync::Mutex;

use super::config::PeerConfig;
use super::metrics::PeerMetrics;
use super::store::Store;
use super::tasks::Tasks;
use mictlanx_proto::peer::NodeInfo;

pub struct PeerState {
    pub config: PeerConfig,
    /// Client for pulling replicas from neighbours (#19).
    pub http: reqwest::Client,
    pub store: Store,
    pub tasks: Tasks,
    pub nodes: Mutex<Vec<NodeInfo>>,
    /// This peer's own recorder (never the process-global one, which the router owns).
    pub metrics: PeerMetrics,
}

impl PeerState {
    /// `PEERS` entries as given, then ids added through `/api/v4/nodes`.
    pub fn neighbours(&self) -> Vec<String> {
        let mut out = self.config.peers.clone();
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        for n in nodes.iter() {
            if !out.contains(&n.id) {
                out.push(n.id.clone());
            }
        }
        out
    }

    /// Base URLs of the neighbours: `PEERS` entries (scheme added when missing), then announced nodes.
    pub fn neighbour_urls(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .config
            .peers
            .iter()
            .map(|p| {
                let p = p.trim_end_matches('/');
                if p.contains("://") {
                    p.to_string()
                } else {
                    format!("http://{p}")
                }
            })
            .collect();
        let nodes = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        out.extend(
            nodes
                .iter()
                .map(|n| format!("http://{}:{}", n.ip_addr, n.port)),
        );
        out
    }

    /// A GET to a neighbour, with this peer's token (peers of one space share it).
    pub fn neighbour_get(&self, url: String) -> reqwest::RequestBuilder {
        let req = self.http.get(url);
        match &self.config.token {
            Some(t) => req.bearer_auth(t.secret()),
            None => req,
        }
    }

    pub fn total_disk(&self) -> u64 {
        self.config.disk_capacity
    }
}

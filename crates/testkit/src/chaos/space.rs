//! The space a random run works on: a real state store (one `redis-server`, or a Redis Cluster of three
//! masters and three replicas), `mictlanx-peer` processes on their own data dirs, and several
//! `mictlanx-router` processes sharing that store, each restartable on its port and state dir. The nemesis owns it; the clients only know the routers' base URLs (stable across restarts).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cluster::{seed_uri, Peer, RouterProc};
use crate::peer::http_client;

use super::store::{Backend, Store};

pub struct Space {
    pub store: Store,
    pub peers: Vec<Peer>,
    /// `false` once a peer was drained and removed from the registry.
    pub active: Vec<bool>,
    pub routers: Vec<RouterProc>,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
}

/// The router settings of a random run: fast health and repair so faults are noticed and healed within a
/// short run, the cache on (its version checks are under test), short leases.
fn router_env(uri: &str, store: &Store) -> Vec<(String, String)> {
    [
        ("MICTLANX_PEERS_URI", uri.to_string()),
        (
            "MICTLANX_ROUTER_STATE_BACKEND",
            store.backend().name().into(),
        ),
        ("MICTLANX_ROUTER_REDIS_URL", store.url()),
        ("MICTLANX_ROUTER_HEALTH_INTERVAL", "200ms".into()),
        ("MICTLANX_ROUTER_HEALTH_TIMEOUT", "1s".into()),
        ("MICTLANX_ROUTER_STATE_TIMEOUT", "1s".into()),
        ("MICTLANX_ROUTER_CLAIM_LEASE", "2s".into()),
        ("MICTLANX_ROUTER_ERROR_COOLDOWN", "2s".into()),
        ("MICTLANX_ROUTER_REPAIR_DELAY", "2s".into()),
        ("MICTLANX_ROUTER_REPAIR_INTERVAL", "1s".into()),
        ("MICTLANX_CACHE", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

impl Space {
    /// `peers` peer processes `m0..` and `routers` router processes on one state store; `None` without
    /// `redis-server` (and `redis-cli` for a cluster).
    pub async fn start(peers: usize, routers: usize, backend: Backend) -> Option<Space> {
        crate::log::init();
        let store = Store::start(backend)?;
        let dir = crate::cluster::tmpfs_dir();
        let mut ps = Vec::new();
        for i in 0..peers {
            ps.push(Peer::process(&format!("m{i}"), dir.path()).await);
        }
        let uri = seed_uri(&ps.iter().map(Peer::info).collect::<Vec<_>>());
        let mut rs = Vec::new();
        for i in 0..routers {
            let state = dir.path().join(format!("router-{i}"));
            std::fs::create_dir_all(&state).expect("router state dir");
            rs.push(RouterProc::start(&state, router_env(&uri, &store)).await);
        }
        let space = Space {
            store,
            active: vec![true; ps.len()],
            peers: ps,
            routers: rs,
            dir,
            http: http_client(),
        };
        space.wait_all_available(Duration::from_secs(60)).await;
        Some(space)
    }

    /// The routers' base URLs.
    pub fn router_urls(&self) -> Vec<String> {
        self.routers.iter().map(|r| r.url("")).collect()
    }

    /// The peers still registered.
    pub fn active_peers(&self) -> Vec<usize> {
        (0..self.peers.len()).filter(|i| self.active[*i]).collect()
    }

    /// Wait until every router sees every registered peer available; `false` at the deadline.
    pub async fn wait_all_available(&self, within: Duration) -> bool {
        let want = self.active_peers().len();
        let deadline = Instant::now() + within;
        loop {
            let mut all = true;
            for r in &self.routers {
                let n = match self.http.get(r.url("/api/v4/peers")).send().await {
                    Ok(res) => res
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|v| v["available"].as_array().map(Vec::len))
                        .unwrap_or(0),
                    Err(_) => 0,
                };
                all &= n == want;
            }
            if all {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Drain peer `i` through router 0, wait until the drain is done, remove it from the registry and stop
    /// it. Returns what happened, for the fault log.
    pub async fn drain_and_remove(&mut self, i: usize) -> String {
        let id = self.peers[i].id.clone();
        let base = self.routers[0].url("");
        let started = self
            .http
            .post(format!("{base}/api/v4/peers/{id}/drain"))
            .send()
            .await;
        if !started.is_ok_and(|r| r.status().is_success()) {
            return format!("drain of {id} not started");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state = match self
                .http
                .get(format!("{base}/api/v4/peers/{id}/drain"))
                .send()
                .await
            {
                Ok(res) => res.json::<Value>().await.unwrap_or_default()["state"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                Err(_) => String::new(),
            };
            if state == "done" {
                break;
            }
            if Instant::now() > deadline {
                return format!("drain of {id} not done within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let removed = self
            .http
            .delete(format!("{base}/api/v4/peers/{id}"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if !removed {
            return format!("{id} drained, not removed");
        }
        self.active[i] = false;
        self.peers[i].kill().await;
        format!("{id} drained and removed")
    }

    /// SIGCONT everything that may be stopped and restart every registered peer and router that is down.
    pub async fn heal(&mut self) {
        self.store.cont();
        for i in self.active_peers() {
            if self.peers[i].is_running() {
                self.peers[i].resume();
            } else {
                self.peers[i].restart().await;
            }
        }
    }
}

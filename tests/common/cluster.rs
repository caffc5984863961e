//! A cluster of real in-process storage peers that tests stop and restart on the same port and
//! directories, and the polling helper the health tests wait with.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mictlanx_peer::PeerServer;
use mictlanx_router::cluster::PeerInfo;
use serde_json::{json, Value};

use super::peer::{peer_config, spawn_peer_with};

/// Generous bound for "eventually" (a loaded 2-core CI machine); the checks poll every 50 ms.
pub const EVENTUALLY: Duration = Duration::from_secs(20);

pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// One real peer that can be stopped and restarted on the same port and directories.
pub struct TestPeer {
    pub id: String,
    pub dir: PathBuf,
    pub port: u16,
    pub server: Option<PeerServer>,
}

impl TestPeer {
    pub async fn start(id: &str, root: &Path) -> TestPeer {
        let dir = root.join(id);
        let server = spawn_peer_with(peer_config(id, &dir)).await;
        TestPeer {
            id: id.into(),
            dir,
            port: server.addr().port(),
            server: Some(server),
        }
    }

    pub fn info(&self) -> PeerInfo {
        PeerInfo {
            peer_id: self.id.clone(),
            ip_addr: "127.0.0.1".into(),
            port: self.port,
            protocol: "http".into(),
            api_version: 4,
        }
    }

    pub fn payload(&self) -> Value {
        json!({"protocol": "http", "peer_id": self.id, "hostname": "127.0.0.1", "port": self.port})
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub async fn restart(&mut self) {
        let mut cfg = peer_config(&self.id, &self.dir);
        cfg.port = self.port;
        self.server = Some(spawn_peer_with(cfg).await);
    }
}

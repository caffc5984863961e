//! Shared by the healing tests: `mictlanx-peer` processes (SIGKILL, SIGSTOP, restart on the same port and
//! data) in front of routers running in process, with a short repair delay and interval.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use mictlanx_router::app::{App, TestApp};
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::Config;
use serde_json::{json, Value};

use crate::common::process::{free_port, peer_process, wait_ok, Proc};

/// One peer process that can be killed, stopped and restarted on the same port and directory.
pub struct PeerProc {
    pub id: String,
    pub port: u16,
    pub dir: PathBuf,
    pub proc: Option<Proc>,
}

impl PeerProc {
    pub async fn start(id: &str, root: &Path, http: &reqwest::Client) -> PeerProc {
        let port = free_port();
        let dir = root.join(id);
        let proc = peer_process(id, port, &dir);
        wait_ok(http, &format!("http://127.0.0.1:{port}/health")).await;
        PeerProc {
            id: id.into(),
            port,
            dir,
            proc: Some(proc),
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

    pub fn kill(&mut self) {
        if let Some(p) = self.proc.as_ref() {
            p.signal("KILL");
        }
        if let Some(mut p) = self.proc.take() {
            if let Some(c) = p.0.as_mut() {
                let _ = c.wait();
            }
            p.0 = None;
        }
    }

    pub fn stop(&self) {
        self.proc.as_ref().expect("running").signal("STOP");
    }

    pub fn cont(&self) {
        self.proc.as_ref().expect("running").signal("CONT");
    }

    pub async fn restart(&mut self, http: &reqwest::Client) {
        self.proc = Some(peer_process(&self.id, self.port, &self.dir));
        wait_ok(http, &format!("http://127.0.0.1:{}/health", self.port)).await;
    }

    /// GET the object straight from this peer: status and bytes.
    pub async fn get_direct(&self, http: &reqwest::Client, b: &str, k: &str) -> (u16, Vec<u8>) {
        let res = http
            .get(format!(
                "http://127.0.0.1:{}/api/v4/buckets/{b}/{k}",
                self.port
            ))
            .send()
            .await
            .expect("direct get");
        let status = res.status().as_u16();
        (status, res.bytes().await.unwrap_or_default().to_vec())
    }
}

/// Router settings for fast healing: probes every 200 ms, repair after 1 s down, a round every 300 ms.
pub fn healing_config(state: &Path, seed: Vec<PeerInfo>) -> Config {
    let mut cfg = Config::for_tests(state.to_path_buf());
    cfg.seed_peers = seed;
    cfg.cache.enabled = false;
    cfg.replica.health_interval = Duration::from_millis(200);
    cfg.replica.health_timeout = Duration::from_secs(1);
    cfg.peer_io.peer_timeout = Duration::from_secs(5);
    cfg.peer_io.fanout_deadline = Duration::from_secs(1);
    cfg.replica.repair.delay = Duration::from_secs(1);
    cfg.replica.repair.interval = Duration::from_millis(300);
    cfg.replica.repair.bandwidth = 0;
    cfg
}

pub async fn router(cfg: Config) -> TestApp {
    App::spawn(cfg).await.expect("router starts")
}

/// Both phases through `router`; returns the peers that stored the bytes.
pub async fn put(
    http: &reqwest::Client,
    router: &TestApp,
    b: &str,
    k: &str,
    bytes: &[u8],
    rf: u32,
) -> Vec<String> {
    let body = json!({
        "bucket_id": b, "key": k, "ball_id": k, "checksum": "-", "size": bytes.len(),
        "producer_id": "heal", "content_type": "application/octet-stream", "tags": {},
        "replication_factor": rf,
    });
    let res = http
        .post(router.url(&format!("/api/v4/buckets/{b}/metadata")))
        .json(&body)
        .send()
        .await
        .expect("phase 1");
    assert_eq!(res.status(), 200, "phase 1 {b}@{k}");
    let v: Value = res.json().await.unwrap();
    let task = v["tasks_ids"][0].as_str().unwrap().to_string();
    let res = http
        .post(router.url(&format!("/api/v4/buckets/data/{task}/chunked")))
        .body(bytes.to_vec())
        .send()
        .await
        .expect("phase 2");
    assert_eq!(res.status(), 200, "phase 2 {b}@{k}");
    let v: Value = res.json().await.unwrap();
    v["peer_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

/// GET bytes through the router with `Force-Get: 1`.
pub async fn get(http: &reqwest::Client, router: &TestApp, b: &str, k: &str) -> (u16, Vec<u8>) {
    let res = http
        .get(router.url(&format!("/api/v4/buckets/{b}/{k}")))
        .header("Force-Get", "1")
        .send()
        .await
        .expect("get");
    let status = res.status().as_u16();
    (status, res.bytes().await.unwrap_or_default().to_vec())
}

/// The live holders of `b@k` as the router records them.
pub async fn live_holders(router: &TestApp, b: &str, k: &str) -> Vec<String> {
    let mut ids: Vec<String> = router
        .state
        .rm
        .choose_read_replica(b, k)
        .await
        .map(|p| p.peers.into_iter().map(|p| p.peer_id).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// Wait until `router` counts exactly `n` available peers.
pub async fn wait_available(router: &TestApp, n: usize) {
    let what = format!("{n} available peers");
    crate::common::cluster::eventually(&what, || async {
        router.state.rm.get_peers().await.unwrap().available.len() == n
    })
    .await;
}

/// Which of the peers `{prefix}0` … `{prefix}{n-1}` appears in the most of `holders` (the peer whose loss
/// costs the most copies).
pub fn busiest<'a>(
    prefix: &str,
    n: usize,
    holders: impl Iterator<Item = &'a [String]> + Clone,
) -> usize {
    (0..n)
        .max_by_key(|i| {
            let id = format!("{prefix}{i}");
            holders.clone().filter(|h| h.contains(&id)).count()
        })
        .unwrap()
}

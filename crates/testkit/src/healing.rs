//! The healing tests' setting: `mictlanx-peer` processes ([`crate::Peer::process`]: SIGKILL, SIGSTOP,
//! restart on the same port and data) in front of routers running in process, with a short repair delay
//! and interval.

use std::path::Path;
use std::time::Duration;

use mictlanx_router::app::{App, TestApp};
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::Config;

use crate::client::RouterClient;

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
    let client = RouterClient::new(http.clone(), router.url(""));
    let group = client
        .put_metadata_group(b, k, bytes.len() as u64, rf)
        .await;
    let res = http
        .post(router.url(&format!("/api/v4/buckets/data/{group}/chunked")))
        .body(bytes.to_vec())
        .send()
        .await
        .expect("phase 2");
    assert_eq!(res.status(), 200, "phase 2 {b}@{k}");
    let v: serde_json::Value = res.json().await.unwrap();
    v["peer_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect()
}

/// GET bytes through the router with `Force-Get: 1`.
pub async fn get(http: &reqwest::Client, router: &TestApp, b: &str, k: &str) -> (u16, Vec<u8>) {
    let client = RouterClient::new(http.clone(), router.url(""));
    let res = client.get_object(b, k, &[]).await;
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
    crate::wait::eventually(&what, || async {
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

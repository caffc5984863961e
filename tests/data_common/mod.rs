//! Shared helpers of the data-path tests: a real router (`App::spawn`) in front of real in-process storage
//! peers (`spawn_peer`) on 127.0.0.1 port 0, plus the two-phase PUT and the reads a client does.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use mictlanx_peer::PeerServer;
use mictlanx_router::app::{App, TestApp};
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::Config;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::common::peer::{peer_config, spawn_peer_with};

pub const BOUNDARY: &str = "data-test-boundary-91c3";

/// A router and its peers. Peers can be stopped and restarted on the same port and directories.
pub struct Cluster {
    pub router: TestApp,
    pub peers: Vec<Option<PeerServer>>,
    pub ports: Vec<u16>,
    pub dir: TempDir,
    pub http: reqwest::Client,
}

/// The strings of a JSON array, sorted (peer id lists in responses).
pub fn sorted_ids(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v
        .as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

pub fn peer_id(i: usize) -> String {
    format!("peer-{i}")
}

pub fn peer_info(id: &str, port: u16) -> PeerInfo {
    PeerInfo {
        peer_id: id.to_string(),
        ip_addr: "127.0.0.1".into(),
        port,
        protocol: "http".into(),
        api_version: 4,
    }
}

/// Deterministic bytes of `len` for seed `seed`.
pub fn object(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(31)
                .wrapping_add(seed as u64 * 7 + (i as u64 >> 8)) as u8
        })
        .collect()
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// Config with fast health probes; `tweak` adjusts it before the router starts.
pub async fn start(n: usize, tweak: impl FnOnce(&mut Config)) -> Cluster {
    start_with(n, Vec::new(), tweak).await
}

/// Like [`start`], with extra (fake) peers registered in the seed list.
pub async fn start_with(
    n: usize,
    extra: Vec<PeerInfo>,
    tweak: impl FnOnce(&mut Config),
) -> Cluster {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut peers = Vec::new();
    let mut ports = Vec::new();
    for i in 0..n {
        let cfg = peer_config(&peer_id(i), &dir.path().join(peer_id(i)));
        let p = spawn_peer_with(cfg).await;
        ports.push(p.addr().port());
        peers.push(Some(p));
    }
    let mut cfg = Config::for_tests(dir.path().join("router-state"));
    cfg.seed_peers = (0..n).map(|i| peer_info(&peer_id(i), ports[i])).collect();
    cfg.seed_peers.extend(extra.iter().cloned());
    cfg.replica.health_interval = Duration::from_millis(200);
    cfg.replica.health_timeout = Duration::from_secs(2);
    tweak(&mut cfg);
    let router = App::spawn(cfg).await.expect("router starts");
    let c = Cluster {
        router,
        peers,
        ports,
        dir,
        http: client(),
    };
    c.wait_available(n + extra.len()).await;
    c
}

impl Cluster {
    pub fn url(&self, path: &str) -> String {
        self.router.url(path)
    }

    /// Wait until the router sees `n` available peers (generous bound).
    pub async fn wait_available(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let view = self.router.state.rm.get_peers().await.expect("peers view");
            if view.available.len() >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} peers became available",
                view.available.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn kill(&mut self, i: usize) {
        if let Some(p) = self.peers[i].take() {
            p.shutdown().await;
        }
    }

    /// Restart peer `i` on its old port and directories.
    pub async fn restart(&mut self, i: usize) {
        let mut cfg = peer_config(&peer_id(i), &self.dir.path().join(peer_id(i)));
        cfg.port = self.ports[i];
        self.peers[i] = Some(spawn_peer_with(cfg).await);
    }

    /// Phase 1; returns the raw response.
    pub async fn put_metadata_raw(&self, bucket: &str, body: Value) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/api/v4/buckets/{bucket}/metadata")))
            .json(&body)
            .send()
            .await
            .expect("put metadata request")
    }

    /// Phase 1 for `bytes`; asserts 200 and returns the response JSON.
    pub async fn put_metadata(
        &self,
        bucket: &str,
        key: &str,
        bytes: &[u8],
        rf: u32,
        tags: Value,
    ) -> Value {
        let body = dto(bucket, key, key, bytes.len(), rf, tags);
        let res = self.put_metadata_raw(bucket, body).await;
        assert_eq!(res.status(), 200, "put metadata {bucket}@{key}");
        res.json().await.expect("put metadata json")
    }

    /// Phase 2, raw body streamed in 64 KiB frames (chunked transfer encoding).
    pub async fn put_chunked_raw(&self, task: &str, bytes: Vec<u8>) -> reqwest::Response {
        let frames: Vec<Result<Bytes, std::io::Error>> = bytes
            .chunks(64 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        self.http
            .post(self.url(&format!("/api/v4/buckets/data/{task}/chunked")))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(frames)))
            .send()
            .await
            .expect("chunked upload request")
    }

    /// Phase 2, multipart with a skipped part before `data`.
    pub async fn put_multipart_raw(&self, task: &str, bytes: &[u8]) -> reqwest::Response {
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nskipped\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"x.bin\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
        self.http
            .post(self.url(&format!("/api/v4/buckets/data/{task}")))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .expect("multipart upload request")
    }

    /// Both phases with the raw-body route; asserts success and returns the phase-2 JSON.
    pub async fn put(&self, bucket: &str, key: &str, bytes: &[u8], rf: u32) -> Value {
        let meta = self.put_metadata(bucket, key, bytes, rf, json!({})).await;
        let task = meta["tasks_ids"][0].as_str().expect("group id").to_string();
        let res = self.put_chunked_raw(&task, bytes.to_vec()).await;
        assert_eq!(res.status(), 200, "put data {bucket}@{key}");
        res.json().await.expect("put data json")
    }

    /// The router's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.get("/metrics")
            .await
            .text()
            .await
            .expect("metrics text")
    }

    /// The balls of the router's bucket listing.
    pub async fn listing(&self, bucket: &str) -> Vec<Value> {
        let listing: Value = self
            .get(&format!("/api/v4/buckets/{bucket}/metadata"))
            .await
            .json()
            .await
            .expect("listing json");
        listing["balls"].as_array().expect("balls").clone()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("get request")
    }

    /// GET bytes with `Force-Get: 1` (no cache); asserts 200.
    pub async fn get_bytes(&self, bucket: &str, key: &str) -> Vec<u8> {
        let res = self
            .http
            .get(self.url(&format!("/api/v4/buckets/{bucket}/{key}")))
            .header("Force-Get", "1")
            .send()
            .await
            .expect("get request");
        assert_eq!(res.status(), 200, "get {bucket}@{key}");
        res.bytes().await.expect("get body").to_vec()
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .send()
            .await
            .expect("delete request")
    }

    pub async fn stop(mut self) {
        for i in 0..self.peers.len() {
            self.kill(i).await;
        }
        self.router.stop().await;
    }
}

/// A `PutMetadataDTO`.
pub fn dto(bucket: &str, key: &str, ball: &str, size: usize, rf: u32, tags: Value) -> Value {
    json!({
        "bucket_id": bucket, "key": key, "ball_id": ball, "checksum": "abc", "size": size,
        "tags": tags, "producer_id": "data-tests", "content_type": "application/octet-stream",
        "replication_factor": rf,
    })
}

pub async fn detail(res: reqwest::Response) -> Value {
    let v: Value = res.json().await.expect("json error body");
    v["detail"].clone()
}

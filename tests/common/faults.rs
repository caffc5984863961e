//! The fault suite's cluster: real `mictlanx-peer` processes (so SIGSTOP and SIGKILL are real) behind an
//! in-process router, whose replica manager and `/metrics` the tests read. Peer data lives on tmpfs when
//! there is one (large objects, no fsync cost), else in the temp dir. Tests of one binary run one at a
//! time ([`serial`]): they share the process-wide metrics recorder and measure time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use mictlanx_router::app::{App, TestApp};
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::Config;
use serde_json::Value;

use super::peer::{object_stream, sha256_stream};
use super::process::{free_port, peer_process, router_put_metadata, wait_ok, Proc};

pub const MIB: u64 = 1 << 20;

static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Run the tests of one binary one at a time.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}

pub struct FaultCluster {
    pub router: TestApp,
    pub peers: Vec<Proc>,
    pub ids: Vec<String>,
    pub ports: Vec<u16>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn data_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::Builder::new()
            .prefix("mictlanx-faults")
            .tempdir_in(shm)
        {
            return dir;
        }
    }
    tempfile::tempdir().expect("temp dir")
}

impl FaultCluster {
    /// `n` peer processes `f0..`, every one answering, then the router (`tweak` adjusts its config: by
    /// default the health interval is long, so a stalled peer stays "available" unless a test wants the
    /// health loop to notice).
    pub async fn start(n: usize, tweak: impl FnOnce(&mut Config)) -> FaultCluster {
        let dir = data_dir();
        let http = super::peer::http_client();
        let mut peers = Vec::new();
        let mut seed = Vec::new();
        let mut ids = Vec::new();
        let mut ports = Vec::new();
        for i in 0..n {
            let id = format!("f{i}");
            let port = free_port();
            peers.push(peer_process(&id, port, &dir.path().join(&id)));
            wait_ok(&http, &format!("http://127.0.0.1:{port}/health")).await;
            seed.push(PeerInfo {
                peer_id: id.clone(),
                ip_addr: "127.0.0.1".into(),
                port,
                protocol: "http".into(),
                api_version: 4,
            });
            ids.push(id);
            ports.push(port);
        }
        let mut cfg = Config::for_tests(dir.path().join("router-state"));
        cfg.seed_peers = seed;
        cfg.replica.health_interval = Duration::from_secs(30);
        cfg.replica.health_timeout = Duration::from_secs(2);
        tweak(&mut cfg);
        let router = App::spawn(cfg).await.expect("router starts");
        let c = FaultCluster {
            router,
            peers,
            ids,
            ports,
            http,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.available().await.len() < n {
            assert!(Instant::now() < deadline, "peers never all available");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        c
    }

    pub fn url(&self, path: &str) -> String {
        self.router.url(path)
    }

    pub fn index(&self, peer_id: &str) -> usize {
        self.ids
            .iter()
            .position(|id| id == peer_id)
            .expect("known peer")
    }

    pub fn signal(&self, peer_id: &str, sig: &str) {
        self.peers[self.index(peer_id)].signal(sig);
    }

    /// The ids of the peers the router considers available.
    pub async fn available(&self) -> Vec<String> {
        let view = self.router.state.rm.get_peers().await.expect("peers view");
        view.available.into_iter().map(|p| p.peer_id).collect()
    }

    /// The live holders of `b@k` in the router's read order.
    pub async fn read_order(&self, b: &str, k: &str) -> Vec<String> {
        let plan = self.router.state.rm.choose_read_replica(b, k).await;
        plan.expect("read plan")
            .peers
            .into_iter()
            .map(|p| p.peer_id)
            .collect()
    }

    /// Both phases through the router with `body` (exactly `size` bytes); returns status and JSON.
    pub async fn put_stream<S>(&self, b: &str, k: &str, size: u64, rf: u32, body: S) -> (u16, Value)
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let group = router_put_metadata(&self.http, &self.url(""), b, k, size, rf).await;
        let res = self
            .http
            .post(self.url(&format!("/api/v4/buckets/data/{group}/chunked")))
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .expect("phase 2 request");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// [`Self::put_stream`] of [`object_stream`]`(seed, size)`, asserting 200.
    pub async fn put(&self, b: &str, k: &str, size: u64, rf: u32, seed: u64) -> Value {
        let (status, v) = self
            .put_stream(b, k, size, rf, object_stream(seed, size))
            .await;
        assert_eq!(status, 200, "put {b}@{k}: {v}");
        v
    }

    /// `GET /api/v4/buckets/{b}/{k}` with `Force-Get: 1` and `headers`.
    pub async fn get(&self, b: &str, k: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self
            .http
            .get(self.url(&format!("/api/v4/buckets/{b}/{k}")))
            .header("Force-Get", "1");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send().await.expect("get request")
    }

    /// Status, SHA-256 and length of a forced GET.
    pub async fn get_sha(&self, b: &str, k: &str, headers: &[(&str, &str)]) -> (u16, String, u64) {
        let res = self.get(b, k, headers).await;
        let status = res.status().as_u16();
        let (sha, n) = sha256_stream(res.bytes_stream()).await;
        (status, sha, n)
    }

    /// The sum of every sample of `name` whose labels contain `labels` (e.g. `kind="get"`).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .filter(|l| l.starts_with(name) && !l.starts_with('#'))
            .filter(|l| {
                let rest = &l[name.len()..];
                (rest.starts_with('{') || rest.starts_with(' ')) && rest.contains(labels)
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

/// The SHA-256 of [`object_stream`]`(seed, size)`.
pub async fn expected_sha(seed: u64, size: u64) -> String {
    sha256_stream(object_stream(seed, size)).await.0
}

/// [`object_stream`] that calls `at_offset` once, when the bytes produced reach `offset`.
pub fn object_stream_with_hook(
    seed: u64,
    size: u64,
    offset: u64,
    at_offset: impl FnOnce() + Send + 'static,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let mut hook = Some(at_offset);
    let mut produced = 0u64;
    object_stream(seed, size).map(move |chunk| {
        if let Ok(c) = &chunk {
            produced += c.len() as u64;
            if produced >= offset {
                if let Some(h) = hook.take() {
                    h();
                }
            }
        }
        chunk
    })
}

/// Read a response body to the end, calling `at_offset` once when `offset` bytes arrived; returns the
/// SHA-256 and the length, or the error that ended the body.
pub async fn read_with_hook(
    res: reqwest::Response,
    offset: u64,
    at_offset: impl FnOnce(),
) -> Result<(String, u64), String> {
    use sha2::Digest;
    let mut hook = Some(at_offset);
    let mut h = sha2::Sha256::new();
    let mut n = 0u64;
    let mut body = res.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("body failed after {n} bytes: {e}"))?;
        n += chunk.len() as u64;
        h.update(&chunk);
        if n >= offset {
            if let Some(f) = hook.take() {
                f();
            }
        }
    }
    Ok((hex::encode(h.finalize()), n))
}

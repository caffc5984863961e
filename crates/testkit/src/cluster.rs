//! One builder for a test cluster: N storage peers (in process or `mictlanx-peer` child processes) with
//! temp dirs, a router (in-process `App` or a `mictlanx-router` child process), embedded state or a
//! `redis-server` of its own, and the faults tests inject: SIGSTOP/SIGCONT, SIGKILL, restart on the same
//! port and directories.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mictlanx_peer::PeerServer;
use mictlanx_router::app::{App, TestApp};
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::{Config, StateBackend};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::client::RouterClient;
use crate::peer::{http_client, peer_config, spawn_peer_with};
use crate::process::{free_port, peer_process, router_process, wait_ok, Proc};
use crate::redis::RedisServer;

/// Where a peer or the router runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// In the test process (`mictlanx_peer::serve`, `App::spawn`).
    InProcess,
    /// A child process of the workspace's binary, so SIGSTOP and SIGKILL are real.
    Process,
}

/// One storage peer that can be stopped, killed, paused and restarted on the same port and directories.
pub struct Peer {
    pub id: String,
    pub port: u16,
    pub dir: PathBuf,
    node: Node,
}

enum Node {
    InProcess(Option<PeerServer>),
    Process(Option<Proc>),
}

impl Peer {
    /// An in-process peer `id` storing under `root/id`, on a port of its own.
    pub async fn in_process(id: &str, root: &Path) -> Peer {
        let dir = root.join(id);
        let server = spawn_peer_with(peer_config(id, &dir)).await;
        Peer {
            id: id.into(),
            port: server.addr().port(),
            dir,
            node: Node::InProcess(Some(server)),
        }
    }

    /// An in-process peer around a server started with a config of the test's own, storing under `dir`
    /// (a restart uses the default config on the same port and directories).
    pub fn from_server(server: PeerServer, dir: PathBuf) -> Peer {
        Peer {
            id: server.node_id().to_string(),
            port: server.addr().port(),
            dir,
            node: Node::InProcess(Some(server)),
        }
    }

    /// A `mictlanx-peer` process `id` storing under `root/id`; returns once it answers `/health`.
    pub async fn process(id: &str, root: &Path) -> Peer {
        let port = free_port();
        let dir = root.join(id);
        let mut proc = peer_process(id, port, &dir);
        wait_ok(&http_client(), &format!("http://127.0.0.1:{port}/health")).await;
        proc.assert_running(&format!("peer {id}"));
        Peer {
            id: id.into(),
            port,
            dir,
            node: Node::Process(Some(proc)),
        }
    }

    pub fn mode(&self) -> Mode {
        match self.node {
            Node::InProcess(_) => Mode::InProcess,
            Node::Process(_) => Mode::Process,
        }
    }

    pub fn info(&self) -> PeerInfo {
        peer_info(&self.id, self.port)
    }

    /// The body of `POST /api/v4/peers` registering this peer.
    pub fn payload(&self) -> Value {
        json!({"protocol": "http", "peer_id": self.id, "hostname": "127.0.0.1", "port": self.port})
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        match &self.node {
            Node::InProcess(s) => s.is_some(),
            Node::Process(p) => p.is_some(),
        }
    }

    /// The running in-process server.
    pub fn server(&self) -> &PeerServer {
        match &self.node {
            Node::InProcess(Some(s)) => s,
            _ => panic!("peer {} is not a running in-process peer", self.id),
        }
    }

    /// The running child process.
    pub fn proc(&self) -> &Proc {
        match &self.node {
            Node::Process(Some(p)) => p,
            _ => panic!("peer {} is not a running peer process", self.id),
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc().pid()
    }

    /// Send a signal (`"STOP"`, `"CONT"`, `"KILL"`, `"TERM"` …) to the peer process.
    pub fn signal(&self, sig: &str) {
        self.proc().signal(sig);
    }

    /// SIGSTOP: the process keeps its sockets but answers nothing.
    pub fn pause(&self) {
        self.signal("STOP");
    }

    /// SIGCONT after [`Self::pause`].
    pub fn resume(&self) {
        self.signal("CONT");
    }

    /// Wait for the process's exit code, at most `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> i32 {
        match &mut self.node {
            Node::Process(Some(p)) => {
                let code = p.wait_exit(within).await;
                self.node = Node::Process(None);
                code
            }
            _ => panic!("peer {} is not a running peer process", self.id),
        }
    }

    /// Graceful stop: an in-process server drains; a process gets SIGTERM and is reaped.
    pub async fn shutdown(&mut self) {
        match &mut self.node {
            Node::InProcess(s) => {
                if let Some(s) = s.take() {
                    s.shutdown().await;
                }
            }
            Node::Process(p) => {
                if let Some(mut p) = p.take() {
                    p.signal("TERM");
                    let _ = p.wait_exit(Duration::from_secs(30)).await;
                }
            }
        }
    }

    /// Crash: an in-process server drops every connection at once; a process gets SIGKILL and is reaped.
    pub async fn kill(&mut self) {
        match &mut self.node {
            Node::InProcess(s) => {
                if let Some(s) = s.take() {
                    s.kill().await;
                }
            }
            Node::Process(p) => {
                if let Some(mut p) = p.take() {
                    p.signal("KILL");
                    if let Some(c) = p.0.as_mut() {
                        let _ = c.wait();
                    }
                    p.0 = None;
                }
            }
        }
    }

    /// Start again on the same port and directories (after a stop or a kill).
    pub async fn restart(&mut self) {
        match &mut self.node {
            Node::InProcess(s) => {
                let mut cfg = peer_config(&self.id, &self.dir);
                cfg.port = self.port;
                *s = Some(spawn_peer_with(cfg).await);
            }
            Node::Process(p) => {
                let mut proc = peer_process(&self.id, self.port, &self.dir);
                let url = format!("http://127.0.0.1:{}/health", self.port);
                wait_ok(&http_client(), &url).await;
                proc.assert_running(&format!("peer {}", self.id));
                *p = Some(proc);
            }
        }
    }

    /// GET the object straight from this peer: status and bytes.
    pub async fn get_direct(&self, b: &str, k: &str) -> (u16, Vec<u8>) {
        let res = http_client()
            .get(format!("{}/api/v4/buckets/{b}/{k}", self.base_url()))
            .send()
            .await
            .expect("direct get");
        let status = res.status().as_u16();
        (status, res.bytes().await.unwrap_or_default().to_vec())
    }
}

/// A router child process: its port, state directory and environment, so it can be restarted as it was.
pub struct RouterProc {
    pub port: u16,
    pub state: PathBuf,
    env: Vec<(String, String)>,
    proc: Option<Proc>,
}

impl RouterProc {
    /// A `mictlanx-router` process on a port of its own; returns once it answers `/health`.
    pub async fn start(state: &Path, env: Vec<(String, String)>) -> RouterProc {
        let mut r = RouterProc {
            port: free_port(),
            state: state.to_path_buf(),
            env,
            proc: None,
        };
        r.restart().await;
        r
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn proc(&self) -> &Proc {
        self.proc.as_ref().expect("router process running")
    }

    pub fn proc_mut(&mut self) -> &mut Proc {
        self.proc.as_mut().expect("router process running")
    }

    pub fn signal(&self, sig: &str) {
        self.proc().signal(sig);
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.signal("KILL");
            if let Some(c) = p.0.as_mut() {
                let _ = c.wait();
            }
            p.0 = None;
        }
    }

    /// Start (again) on the same port, state directory and environment.
    pub async fn restart(&mut self) {
        let env: Vec<(&str, String)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        self.proc = Some(router_process(self.port, &self.state, &env));
        wait_ok(&http_client(), &self.url("/health")).await;
    }
}

/// The cluster's router, in process or as a child process.
pub enum RouterNode {
    App(TestApp),
    Process(RouterProc),
}

impl RouterNode {
    pub fn url(&self, path: &str) -> String {
        match self {
            RouterNode::App(app) => app.url(path),
            RouterNode::Process(p) => p.url(path),
        }
    }

    /// The in-process router (its state, its cache, its replica manager).
    pub fn app(&self) -> &TestApp {
        match self {
            RouterNode::App(app) => app,
            RouterNode::Process(_) => panic!("the router runs as a child process"),
        }
    }

    /// The router child process.
    pub fn process(&mut self) -> &mut RouterProc {
        match self {
            RouterNode::Process(p) => p,
            RouterNode::App(_) => panic!("the router runs in process"),
        }
    }

    pub async fn stop(self) {
        match self {
            RouterNode::App(app) => app.stop().await,
            RouterNode::Process(mut p) => p.kill(),
        }
    }
}

/// The [`PeerInfo`] of a loopback http peer.
pub fn peer_info(id: &str, port: u16) -> PeerInfo {
    PeerInfo {
        peer_id: id.to_string(),
        ip_addr: "127.0.0.1".into(),
        port,
        protocol: "http".into(),
        api_version: 4,
    }
}

type Tweak<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// Builds a [`Cluster`]; every option has a default that suits most tests.
pub struct ClusterBuilder<'a> {
    peers: usize,
    peer_mode: Mode,
    router_mode: Mode,
    prefix: String,
    extra_seed: Vec<PeerInfo>,
    redis: bool,
    tmpfs: bool,
    health_interval: Duration,
    tweak: Option<Tweak<'a>>,
    router_env: Vec<(String, String)>,
}

impl Default for ClusterBuilder<'_> {
    fn default() -> Self {
        ClusterBuilder {
            peers: 3,
            peer_mode: Mode::InProcess,
            router_mode: Mode::InProcess,
            prefix: "peer-".into(),
            extra_seed: Vec::new(),
            redis: false,
            tmpfs: false,
            health_interval: Duration::from_millis(200),
            tweak: None,
            router_env: Vec::new(),
        }
    }
}

impl<'a> ClusterBuilder<'a> {
    /// `n` storage peers named `{prefix}{i}` (default 3, prefix `peer-`).
    pub fn peers(mut self, n: usize) -> Self {
        self.peers = n;
        self
    }

    pub fn peer_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Peers as `mictlanx-peer` child processes (default: in process).
    pub fn peer_processes(mut self) -> Self {
        self.peer_mode = Mode::Process;
        self
    }

    /// The router as a `mictlanx-router` child process configured by environment (default: in process,
    /// configured by [`Self::config`]).
    pub fn router_process(mut self) -> Self {
        self.router_mode = Mode::Process;
        self
    }

    /// One more variable for a router process.
    pub fn router_env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.router_env.push((name.into(), value.into()));
        self
    }

    /// Peers the router is seeded with beside the cluster's own (fakes, unreachable addresses).
    pub fn extra_seed(mut self, extra: Vec<PeerInfo>) -> Self {
        self.extra_seed = extra;
        self
    }

    /// The cluster state in a `redis-server` of the cluster's own (default: embedded).
    pub fn redis(mut self) -> Self {
        self.redis = true;
        self
    }

    /// Peer data on tmpfs (`/dev/shm`) when there is one: large objects without fsync cost.
    pub fn tmpfs(mut self) -> Self {
        self.tmpfs = true;
        self
    }

    /// The router's health probe interval (default 200 ms).
    pub fn health_interval(mut self, every: Duration) -> Self {
        self.health_interval = every;
        self
    }

    /// Adjust the in-process router's config after the kit's defaults.
    pub fn config(mut self, tweak: impl FnOnce(&mut Config) + 'a) -> Self {
        self.tweak = Some(Box::new(tweak));
        self
    }

    /// Start; `None` (after printing `SKIPPED`) when Redis was asked for and is not installed.
    pub async fn try_start(self) -> Option<Cluster> {
        crate::log::init();
        let redis = if self.redis {
            Some(RedisServer::start()?)
        } else {
            None
        };
        let dir = if self.tmpfs { tmpfs_dir() } else { temp_dir() };
        let mut peers = Vec::new();
        for i in 0..self.peers {
            let id = format!("{}{i}", self.prefix);
            peers.push(match self.peer_mode {
                Mode::InProcess => Peer::in_process(&id, dir.path()).await,
                Mode::Process => Peer::process(&id, dir.path()).await,
            });
        }
        let mut seed: Vec<PeerInfo> = peers.iter().map(Peer::info).collect();
        seed.extend(self.extra_seed.iter().cloned());
        let state = dir.path().join("router-state");
        let router = match self.router_mode {
            Mode::InProcess => {
                let mut cfg = Config::for_tests(state);
                cfg.seed_peers = seed.clone();
                cfg.replica.health_interval = self.health_interval;
                cfg.replica.health_timeout = Duration::from_secs(2);
                if let Some(redis) = &redis {
                    cfg.replica.backend = StateBackend::Redis {
                        url: redis.url(),
                        prefix: "kit".into(),
                    };
                }
                if let Some(tweak) = self.tweak {
                    tweak(&mut cfg);
                }
                RouterNode::App(App::spawn(cfg).await.expect("router starts"))
            }
            Mode::Process => {
                std::fs::create_dir_all(&state).expect("router state dir");
                let mut env = vec![
                    ("MICTLANX_PEERS_URI".to_string(), seed_uri(&seed)),
                    (
                        "MICTLANX_ROUTER_HEALTH_INTERVAL".to_string(),
                        format!("{}ms", self.health_interval.as_millis()),
                    ),
                ];
                if let Some(redis) = &redis {
                    env.push(("MICTLANX_ROUTER_STATE_BACKEND".into(), "redis".into()));
                    env.push(("MICTLANX_ROUTER_REDIS_URL".into(), redis.url()));
                }
                env.extend(self.router_env);
                RouterNode::Process(RouterProc::start(&state, env).await)
            }
        };
        let http = http_client();
        let c = Cluster {
            client: RouterClient::new(http.clone(), router.url("")),
            ports: peers.iter().map(|p| p.port).collect(),
            ids: peers.iter().map(|p| p.id.clone()).collect(),
            router,
            peers,
            dir,
            http,
            redis,
        };
        c.wait_available(seed.len()).await;
        Some(c)
    }

    /// Start, asserting the tools it needs are installed.
    pub async fn start(self) -> Cluster {
        self.try_start()
            .await
            .expect("redis-server is needed for this cluster")
    }
}

/// A `mictlanx://` URI naming `peers` (router `MICTLANX_PEERS_URI`).
pub fn seed_uri(peers: &[PeerInfo]) -> String {
    let specs: Vec<String> = peers
        .iter()
        .map(|p| format!("{}@{}:{}", p.peer_id, p.ip_addr, p.port))
        .collect();
    format!(
        "mictlanx://{}/?protocol=http&api_version=4",
        specs.join(",")
    )
}

fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// A temp dir on tmpfs (`/dev/shm`) when there is one, else an ordinary one.
pub fn tmpfs_dir() -> TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = tempfile::Builder::new()
            .prefix("mictlanx-testkit")
            .tempdir_in(shm)
        {
            return dir;
        }
    }
    temp_dir()
}

/// A router and its peers, with a typed client of the router's API.
pub struct Cluster {
    pub router: RouterNode,
    pub peers: Vec<Peer>,
    pub ids: Vec<String>,
    pub ports: Vec<u16>,
    pub dir: TempDir,
    pub http: reqwest::Client,
    pub client: RouterClient,
    pub redis: Option<RedisServer>,
}

impl Cluster {
    pub fn builder<'a>() -> ClusterBuilder<'a> {
        ClusterBuilder::default()
    }

    /// A cluster of a router and peers a test started itself (behind proxies, with configs of its own).
    pub fn from_parts(router: TestApp, peers: Vec<Peer>, dir: TempDir) -> Cluster {
        let http = http_client();
        Cluster {
            client: RouterClient::new(http.clone(), router.url("")),
            ports: peers.iter().map(|p| p.port).collect(),
            ids: peers.iter().map(|p| p.id.clone()).collect(),
            router: RouterNode::App(router),
            peers,
            dir,
            http,
            redis: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.router.url(path)
    }

    /// The in-process router.
    pub fn app(&self) -> &TestApp {
        self.router.app()
    }

    /// The position of `peer_id` among the peers.
    pub fn index(&self, peer_id: &str) -> usize {
        self.ids
            .iter()
            .position(|id| id == peer_id)
            .expect("known peer")
    }

    /// Send `sig` to the process of `peer_id`.
    pub fn signal(&self, peer_id: &str, sig: &str) {
        self.peers[self.index(peer_id)].signal(sig);
    }

    /// The ids of the peers the (in-process) router considers available.
    pub async fn available(&self) -> Vec<String> {
        let view = self.app().state.rm.get_peers().await.expect("peers view");
        view.available.into_iter().map(|p| p.peer_id).collect()
    }

    /// Wait until the router sees `n` available peers (generous bound).
    pub async fn wait_available(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let available = match &self.router {
                RouterNode::App(app) => {
                    let view = app.state.rm.get_peers().await.expect("peers view");
                    view.available.len()
                }
                RouterNode::Process(_) => {
                    let (_, v) = self.client.peers().await;
                    v["available"].as_array().map_or(0, Vec::len)
                }
            };
            if available >= n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "only {available} of {n} peers became available"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The live holders of `b@k` in the router's read order.
    pub async fn read_order(&self, b: &str, k: &str) -> Vec<String> {
        let plan = self.app().state.rm.choose_read_replica(b, k).await;
        plan.expect("read plan")
            .peers
            .into_iter()
            .map(|p| p.peer_id)
            .collect()
    }

    /// Take peer `i` down: a graceful stop in process, SIGKILL for a process.
    pub async fn kill(&mut self, i: usize) {
        match self.peers[i].mode() {
            Mode::InProcess => self.peers[i].shutdown().await,
            Mode::Process => self.peers[i].kill().await,
        }
    }

    /// Restart peer `i` on its old port and directories.
    pub async fn restart(&mut self, i: usize) {
        self.peers[i].restart().await;
    }

    /// Stop the peers, then the router.
    pub async fn stop(mut self) {
        for i in 0..self.peers.len() {
            self.kill(i).await;
        }
        self.router.stop().await;
    }
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

/// A cluster is driven through its router's client: `c.put(..)`, `c.get_bytes(..)`, `c.metrics()`.
impl std::ops::Deref for Cluster {
    type Target = RouterClient;

    fn deref(&self) -> &RouterClient {
        &self.client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The process modes of the builder end to end: peer and router processes on a `redis-server` of
    /// their own; an object written before a peer pause, a peer crash and a router crash reads back whole.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn process_modes_survive_a_paused_peer_a_killed_peer_and_a_restarted_router() {
        let Some(mut c) = Cluster::builder()
            .peers(2)
            .peer_prefix("kit-")
            .peer_processes()
            .router_process()
            .redis()
            .try_start()
            .await
        else {
            return;
        };
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let stored = c.put("kit", "k", &bytes, 2).await;
        assert_eq!(sorted_ids(&stored["peer_ids"]), ["kit-0", "kit-1"]);
        assert_eq!(c.get_bytes("kit", "k").await, bytes);
        let (status, meta) = c.get_metadata("kit", "k").await;
        assert_eq!(status, 200, "{meta}");

        c.peers[0].pause();
        c.peers[0].resume();
        c.peers[1].kill().await;
        assert!(!c.peers[1].is_running());
        c.peers[1].restart().await;
        assert_eq!(
            c.peers[1].get_direct("kit", "k").await,
            (200, bytes.clone())
        );

        c.router.process().kill();
        c.router.process().restart().await;
        c.wait_available(2).await;
        assert_eq!(c.get_bytes("kit", "k").await, bytes);
        let res = c.delete("/api/v4/buckets/kit/k").await;
        assert!(res.status().is_success(), "delete: {}", res.status());
        c.stop().await;
    }
}

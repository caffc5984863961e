//! A real Redis Cluster for one test: three masters and three replicas (`redis-server --cluster-enabled
//! yes` on loopback TCP ports below 55535, since the cluster bus listens on port + 10000), joined with
//! `redis-cli --cluster create … --cluster-replicas 1`, each node in its own temp dir without
//! persistence; killed on drop. Skipped (`None`) when `redis-server` or `redis-cli` is not installed,
//! unless `MICTLANX_TEST_REQUIRE_TOOLS=1`.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::process::Proc;
use crate::tools::require_tool;

/// Failure detection of the test cluster: a master unreachable this long is failed over.
pub const NODE_TIMEOUT_MS: u64 = 2000;

pub struct RedisCluster {
    pub dir: tempfile::TempDir,
    /// The nodes by port; a killed node's process is `None`.
    pub nodes: Vec<(u16, Proc)>,
    cli: PathBuf,
}

impl RedisCluster {
    /// Three masters with one replica each, every slot covered, or `None` without the tools.
    pub fn start() -> Option<RedisCluster> {
        let server = require_tool("redis-server")?;
        let cli = require_tool("redis-cli")?;
        let dir = tempfile::tempdir().expect("temp dir");
        let ports = free_ports(6);
        let nodes = ports
            .iter()
            .map(|&port| (port, spawn(&server, &dir, port)))
            .collect();
        let c = RedisCluster { dir, nodes, cli };
        for &port in &ports {
            c.wait_for(port, &["PING"], |out| out == "PONG");
        }
        let mut create = Command::new(&c.cli);
        create.args(["--cluster", "create"]);
        for port in &ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let out = create
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli --cluster create runs");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        for &port in &ports {
            c.wait_for(port, &["CLUSTER", "INFO"], |out| {
                out.contains("cluster_state:ok")
            });
        }
        // every node, the replicas included, sees three masters with a replica each
        for &port in &ports {
            c.wait_for(port, &["CLUSTER", "NODES"], |out| {
                out.lines().filter(|l| l.contains("slave")).count() == 3
            });
        }
        Some(c)
    }

    /// `redis://127.0.0.1:port` of every node, as the router's seed list.
    pub fn seeds(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(port, _)| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// The ports of the live nodes that are masters now.
    pub fn masters(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|(_, p)| p.0.is_some())
            .map(|(port, _)| *port)
            .filter(|&port| {
                self.cli(port, &["ROLE"])
                    .is_some_and(|r| r.lines().next() == Some("master"))
            })
            .collect()
    }

    /// SIGKILL the node on `port` and reap it.
    pub fn kill(&mut self, port: u16) {
        let (_, proc) = self
            .nodes
            .iter_mut()
            .find(|(p, _)| *p == port)
            .expect("a node of this cluster");
        proc.signal("KILL");
        if let Some(child) = proc.0.as_mut() {
            let _ = child.wait();
        }
        proc.0 = None;
    }

    /// Start the killed node on `port` again on its dir: its `nodes.conf` makes it rejoin the cluster
    /// (as a replica once its slots were failed over to its replica).
    pub fn restart(&mut self, port: u16) {
        let server = require_tool("redis-server").expect("redis-server");
        let (_, proc) = self
            .nodes
            .iter_mut()
            .find(|(p, _)| *p == port)
            .expect("a node of this cluster");
        assert!(proc.0.is_none(), "node {port} is running");
        *proc = spawn(&server, &self.dir, port);
    }

    /// Run one command on one node with `redis-cli`; its output, trimmed.
    pub fn cli(&self, port: u16, args: &[&str]) -> Option<String> {
        let out = Command::new(&self.cli)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Wait (at most 30 s) until `args` on `port` answers what `ok` accepts.
    pub fn wait_for(&self, port: u16, args: &[&str], ok: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = self.cli(port, args).unwrap_or_default();
            if ok(&out) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis node {port}: {args:?} answered {out:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn spawn(bin: &PathBuf, dir: &tempfile::TempDir, port: u16) -> Proc {
    let node_dir = dir.path().join(port.to_string());
    std::fs::create_dir_all(&node_dir).expect("node dir");
    let child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--cluster-enabled", "yes"])
        .args(["--cluster-node-timeout", &NODE_TIMEOUT_MS.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .args(["--maxmemory-policy", "noeviction", "--dir"])
        .arg(&node_dir)
        .stdout(Stdio::null())
        .stderr(crate::log::child_stderr())
        .spawn()
        .expect("redis-server starts");
    Proc(Some(child))
}

/// `n` loopback ports below 55535 that are free, as are their cluster-bus ports (port + 10000).
fn free_ports(n: usize) -> Vec<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id().wrapping_mul(7919) % 30_000;
    let mut out = Vec::new();
    while out.len() < n {
        let candidate = base + NEXT.fetch_add(1, Ordering::Relaxed) * 7 % 30_000;
        let port = (20_000 + candidate % 35_000) as u16;
        let free = |p: u16| TcpListener::bind(("127.0.0.1", p)).is_ok();
        if !out.contains(&port) && free(port) && free(port + 10_000) {
            out.push(port);
        }
    }
    out
}

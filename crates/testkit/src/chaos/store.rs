//! The state store of a random run's space: one `redis-server` (backend `redis`) or a Redis Cluster of
//! three masters and three replicas (backend `redis-cluster`), with the faults the nemesis injects on it.

use std::time::{Duration, Instant};

use crate::redis::RedisServer;
use crate::redis_cluster::RedisCluster;

/// Which state store backend the routers of a random run share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Redis,
    RedisCluster,
}

impl Backend {
    /// `redis` or `redis-cluster`, as `MICTLANX_ROUTER_STATE_BACKEND` (and `SOAK_BACKEND`) spell it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Redis => "redis",
            Backend::RedisCluster => "redis-cluster",
        }
    }

    pub fn parse(s: &str) -> Option<Backend> {
        match s {
            "redis" => Some(Backend::Redis),
            "redis-cluster" => Some(Backend::RedisCluster),
            _ => None,
        }
    }
}

pub enum Store {
    Redis(RedisServer),
    Cluster(RedisCluster),
}

impl Store {
    /// `None` without the tools.
    pub fn start(backend: Backend) -> Option<Store> {
        Some(match backend {
            Backend::Redis => Store::Redis(RedisServer::start()?),
            Backend::RedisCluster => {
                let c = RedisCluster::start()?;
                assert!(
                    replicas_in_sync(&c),
                    "the cluster's replicas did not sync within 30 s"
                );
                Store::Cluster(c)
            }
        })
    }

    pub fn backend(&self) -> Backend {
        match self {
            Store::Redis(_) => Backend::Redis,
            Store::Cluster(_) => Backend::RedisCluster,
        }
    }

    /// `MICTLANX_ROUTER_REDIS_URL`: the server's URL, or the cluster's seed list.
    pub fn url(&self) -> String {
        match self {
            Store::Redis(r) => r.url(),
            Store::Cluster(c) => c.seeds().join(","),
        }
    }

    /// SIGSTOP the server, or the cluster master `pick` (modulo the masters); what was stopped.
    pub fn stop(&mut self, pick: usize) -> String {
        match self {
            Store::Redis(r) => {
                r.stop();
                "redis".into()
            }
            Store::Cluster(c) => {
                let masters = c.masters();
                let port = masters[pick % masters.len()];
                node(c, port).signal("STOP");
                format!("redis cluster master :{port}")
            }
        }
    }

    /// SIGCONT every process of the store.
    pub fn cont(&self) {
        match self {
            Store::Redis(r) => r.cont(),
            Store::Cluster(c) => {
                for (_, p) in c.nodes.iter().filter(|(_, p)| p.0.is_some()) {
                    p.signal("CONT");
                }
            }
        }
    }

    /// On a cluster: SIGKILL the master `pick` (modulo the masters), wait until its replica took over its
    /// slots (three masters again, cluster state ok), then restart it on its dir and wait until it is a
    /// replica in sync with its new master, so the next kill cannot hit a shard without a replica. Each
    /// wait is bounded (30 s). `None` on a single server.
    pub async fn kill_master(&mut self, pick: usize) -> Option<String> {
        let Store::Cluster(c) = self else {
            return None;
        };
        // A replica that never synced with its master is not promoted: kill only with every link up.
        if !replicas_in_sync(c) {
            return Some("no master killed: a replica not in sync within 30 s".into());
        }
        let masters = c.masters();
        let port = masters[pick % masters.len()];
        let started = Instant::now();
        c.kill(port);
        let live: Vec<u16> = c
            .nodes
            .iter()
            .filter(|(_, p)| p.0.is_some())
            .map(|(p, _)| *p)
            .collect();
        let failed_over = wait(|| {
            c.masters().len() == 3
                && live.iter().all(|&p| {
                    c.cli(p, &["CLUSTER", "INFO"])
                        .is_some_and(|i| i.contains("cluster_state:ok"))
                })
        })
        .await;
        let took = started.elapsed();
        c.restart(port);
        let rejoined = wait(|| {
            c.cli(port, &["INFO", "replication"])
                .is_some_and(|i| i.contains("role:slave") && i.contains("master_link_status:up"))
        })
        .await;
        Some(format!(
            "SIGKILL redis cluster master :{port}; {} after {took:.1?}; restarted, {}",
            if failed_over {
                "failed over"
            } else {
                "NOT failed over"
            },
            if rejoined {
                "rejoined as an in-sync replica"
            } else {
                "NOT in sync as a replica within 30 s"
            }
        ))
    }
}

/// Wait (at most 30 s) until every live replica's link to its master is up: a replica syncs a few seconds
/// after it joined (the master waits for more replicas before a diskless sync), and one that never synced
/// is never promoted.
fn replicas_in_sync(c: &RedisCluster) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let synced = c
            .nodes
            .iter()
            .filter(|(_, p)| p.0.is_some())
            .filter_map(|(port, _)| c.cli(*port, &["INFO", "replication"]))
            .filter(|i| i.contains("role:slave"))
            .all(|i| i.contains("master_link_status:up"));
        if synced {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn node(c: &RedisCluster, port: u16) -> &crate::process::Proc {
    &c.nodes.iter().find(|(p, _)| *p == port).expect("a node").1
}

/// Poll `ok` every 100 ms for at most 30 s.
async fn wait(mut ok: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

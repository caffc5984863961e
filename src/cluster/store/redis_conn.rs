//! The connection of the Redis store: one standalone server (redis-rs `ConnectionManager`, which
//! multiplexes concurrent calls on one connection and reconnects on its own) or a Redis Cluster
//! (redis-rs `cluster_async`, which follows `MOVED`/`ASK`, retries on `TRYAGAIN`/`CLUSTERDOWN` and
//! connection errors, and reloads the slot map after a failover or a reshard).
//!
//! On a cluster, a change is acknowledged once a replica of its master has it: the `APPLY` call and a
//! `WAIT 1` go in one pipeline to the same master, so a failover (the replica promoted) does not lose
//! it. A master without a reachable replica answers `WAIT` with 0 after [`WAIT_MS`]; its shards then
//! skip the wait for [`NO_REPLICA_PAUSE`] instead of slowing every write, and such a write survives
//! that master's restart only with persistence (`docs/multi-router.md`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Script, Value};

use super::redis_script::APPLY;

/// Longest wait for a replica to acknowledge a change.
pub const WAIT_MS: u64 = 200;
/// How long the shards of a master without a replica stop waiting for one.
pub const NO_REPLICA_PAUSE: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub enum Con {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Con {
    /// One standalone server (`redis://`, `rediss://`, `unix://`).
    pub async fn single(url: &str, timeout: Duration) -> anyhow::Result<Con> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let con = tokio::time::timeout(
            timeout + Duration::from_secs(1),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))??;
        Ok(Con::Single(con))
    }

    /// A Redis Cluster reached through any of its `seeds`.
    pub async fn cluster(seeds: &[String], timeout: Duration) -> anyhow::Result<Con> {
        let client = redis::cluster::ClusterClient::builder(seeds.iter().map(String::as_str))
            .connection_timeout(timeout)
            .response_timeout(timeout)
            .retries(8)
            .min_retry_wait(50)
            .max_retry_wait(1000)
            .build()?;
        let con = tokio::time::timeout(
            timeout + Duration::from_secs(1),
            client.get_async_connection(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))??;
        Ok(Con::Cluster(con))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Con::Cluster(_))
    }
}

impl ConnectionLike for Con {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Con::Single(c) => c.req_packed_command(cmd),
            Con::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Con::Single(c) => c.req_packed_commands(cmd, offset, count),
            Con::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Con::Single(c) => c.get_db(),
            Con::Cluster(c) => c.get_db(),
        }
    }
}

/// Runs the `APPLY` script, on a cluster followed by `WAIT 1` on the same master.
pub struct Applier {
    sha: String,
    /// Shards whose master had no replica to acknowledge, until when.
    no_replica: Mutex<HashMap<u16, Instant>>,
}

impl Applier {
    pub fn new() -> Arc<Applier> {
        Arc::new(Applier {
            sha: Script::new(APPLY).get_hash().to_string(),
            no_replica: Mutex::new(HashMap::new()),
        })
    }

    /// `APPLY` with `keys` and `args`, one atomic step on the master of `shard`; its integer answer.
    pub async fn apply(
        &self,
        con: &mut Con,
        shard: u16,
        keys: &[String],
        args: &[Vec<u8>],
    ) -> redis::RedisResult<i64> {
        let wait = con.is_cluster() && !self.paused(shard);
        let answer = match self.pipeline(con, keys, args, wait, false).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                self.pipeline(con, keys, args, wait, true).await?
            }
            other => other?,
        };
        let mut values = answer.into_iter();
        let result: i64 = redis::from_redis_value(values.next().unwrap_or(Value::Nil))?;
        if wait {
            let acked: i64 = redis::from_redis_value(values.next().unwrap_or(Value::Int(0)))?;
            if acked < 1 {
                self.pause(shard);
            }
        }
        Ok(result)
    }

    /// EVALSHA (or EVAL, which also loads the script on that master) and, if `wait`, `WAIT 1`.
    async fn pipeline(
        &self,
        con: &mut Con,
        keys: &[String],
        args: &[Vec<u8>],
        wait: bool,
        with_body: bool,
    ) -> redis::RedisResult<Vec<Value>> {
        let mut pipe = redis::pipe();
        let eval = if with_body {
            pipe.cmd("EVAL").arg(APPLY)
        } else {
            pipe.cmd("EVALSHA").arg(&self.sha)
        };
        eval.arg(keys.len()).arg(keys).arg(args);
        if wait {
            pipe.cmd("WAIT").arg(1).arg(WAIT_MS);
        }
        pipe.query_async(con).await
    }

    fn paused(&self, shard: u16) -> bool {
        let mut map = self.no_replica.lock().expect("no poisoned lock");
        match map.get(&shard) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                map.remove(&shard);
                false
            }
            None => false,
        }
    }

    fn pause(&self, shard: u16) {
        let mut map = self.no_replica.lock().expect("no poisoned lock");
        map.insert(shard, Instant::now() + NO_REPLICA_PAUSE);
    }
}

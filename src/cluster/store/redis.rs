//! The Redis store: the cluster state shared by every router of one storage space, on one Redis server
//! or spread over a Redis Cluster ([`super::redis_conn`]). Every record and group change is the `APPLY`
//! script, one atomic step per shard ([`super::redis_script`]); reads are plain commands. Key layout in
//! [`super::redis_keys`]. Each call is bounded by the state timeout, so a stalled Redis costs that long at
//! most; the manager turns the error into a 503.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::try_join_all;
use redis::{AsyncCommands, Script};
use serde_json::Value;

use super::record_codec;
use super::redis_conn::{Applier, Con};
use super::redis_keys::Keys;
use super::redis_script::{Plan, LEASE, RESERVATIONS};
use super::{Page, StateStore, StoreError, Versioned, Write};
use crate::cluster::record::ObjectRecord;
use crate::cluster::registry::PeersDoc;
use crate::cluster::types::{PeerInfo, Reservation, TaskGroup};

pub struct RedisStore {
    con: Con,
    pub(super) keys: Keys,
    applier: Arc<Applier>,
    reservations: Script,
    lease: Script,
}

pub(super) fn err(e: redis::RedisError) -> StoreError {
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_cluster_error()
    {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable {what} in Redis: {e}"))
}

pub(super) fn parse<T: serde::de::DeserializeOwned>(
    what: &str,
    json: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| bad(what, e))
}

fn versioned<T>(
    what: &str,
    fields: (Option<Vec<u8>>, Option<String>),
    read: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<Option<Versioned<T>>, StoreError> {
    match fields {
        (Some(v), Some(rev)) if !v.is_empty() => Ok(Some(Versioned {
            rev: rev.parse().map_err(|e| bad(what, e))?,
            value: read(&v).map_err(|e| bad(what, e))?,
        })),
        _ => Ok(None),
    }
}

fn json<T: serde::de::DeserializeOwned>(v: &[u8]) -> Result<T, String> {
    serde_json::from_slice(v).map_err(|e| e.to_string())
}

impl RedisStore {
    /// Connects to one Redis server (bounded by `timeout`) and checks it answers.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<RedisStore> {
        Self::with(Con::single(url, timeout).await?, prefix).await
    }

    /// Connects to a Redis Cluster through any of its `seeds` (bounded by `timeout`) and checks it answers.
    pub async fn connect_cluster(
        seeds: &[String],
        prefix: &str,
        timeout: Duration,
    ) -> anyhow::Result<RedisStore> {
        Self::with(Con::cluster(seeds, timeout).await?, prefix).await
    }

    async fn with(mut con: Con, prefix: &str) -> anyhow::Result<RedisStore> {
        let keys = Keys::new(prefix);
        // a keyed read, so a cluster answers from the master of the space-wide slot
        let _: Option<String> = redis::cmd("GET")
            .arg(keys.epoch())
            .query_async(&mut con)
            .await?;
        Ok(RedisStore {
            con,
            keys,
            applier: Applier::new(),
            reservations: Script::new(RESERVATIONS),
            lease: Script::new(LEASE),
        })
    }

    pub(super) fn con(&self) -> Con {
        self.con.clone()
    }

    async fn read_group(
        &self,
        shard: u16,
        id: &str,
    ) -> Result<Option<Versioned<TaskGroup>>, StoreError> {
        let fields: (Option<Vec<u8>>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.group(shard, id))
            .arg("v")
            .arg("rev")
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        versioned("task group", fields, json)
    }

    /// Reserve and release, in the space-wide slot (after the object changes of the same batch).
    async fn reservations_change(
        &self,
        reserve: &[Reservation],
        release: &[String],
    ) -> Result<(), StoreError> {
        if reserve.is_empty() && release.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for r in reserve {
            let json = serde_json::to_string(r).map_err(|e| bad("reservation", e))?;
            pipe.zadd(self.keys.reservations(), &r.id, r.expires_at_ns / 1_000_000)
                .ignore();
            pipe.hset(self.keys.reservation_data(), &r.id, json)
                .ignore();
        }
        for id in release {
            pipe.zrem(self.keys.reservations(), id).ignore();
            pipe.hdel(self.keys.reservation_data(), id).ignore();
        }
        pipe.query_async::<()>(&mut self.con()).await.map_err(err)
    }
}

#[async_trait]
impl StateStore for RedisStore {
    fn backend(&self) -> &'static str {
        if self.con.is_cluster() {
            "redis-cluster"
        } else {
            "redis"
        }
    }

    async fn registry(&self) -> Result<PeersDoc, StoreError> {
        let (added, removed): (Vec<(String, String)>, Vec<String>) = redis::pipe()
            .hgetall(self.keys.added())
            .smembers(self.keys.removed())
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        let mut doc = PeersDoc::default();
        for (_, json) in added {
            doc.added.push(parse("peer", &json)?);
        }
        doc.added
            .sort_by(|a: &PeerInfo, b| a.peer_id.cmp(&b.peer_id));
        doc.removed = removed;
        doc.removed.sort();
        Ok(doc)
    }

    async fn change_registry(
        &self,
        add: Vec<PeerInfo>,
        remove: Vec<String>,
    ) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for p in &add {
            let json = serde_json::to_string(p).map_err(|e| bad("peer", e))?;
            pipe.hset(self.keys.added(), &p.peer_id, json).ignore();
            pipe.srem(self.keys.removed(), &p.peer_id).ignore();
        }
        for id in &remove {
            pipe.hdel(self.keys.added(), id).ignore();
            pipe.sadd(self.keys.removed(), id).ignore();
        }
        pipe.query_async::<()>(&mut self.con()).await.map_err(err)
    }

    async fn object(&self, key: &str) -> Result<Option<Versioned<ObjectRecord>>, StoreError> {
        let fields: (Option<Vec<u8>>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.object(key))
            .arg("v")
            .arg("rev")
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        versioned("object record", fields, record_codec::decode)
    }

    async fn objects(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Versioned<ObjectRecord>>>, StoreError> {
        // an empty pipeline is an error in Redis
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if !self.con.is_cluster() {
            let mut pipe = redis::pipe();
            for k in keys {
                pipe.cmd("HMGET")
                    .arg(self.keys.object(k))
                    .arg("v")
                    .arg("rev");
            }
            let all: Vec<(Option<Vec<u8>>, Option<String>)> =
                pipe.query_async(&mut self.con()).await.map_err(err)?;
            return all
                .into_iter()
                .map(|f| versioned("object record", f, record_codec::decode))
                .collect();
        }
        // a cluster cannot pipeline keys of different slots: one read per key, which the connection
        // multiplexes, so they still go out together
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(64) {
            out.extend(try_join_all(chunk.iter().map(|k| self.object(k))).await?);
        }
        Ok(out)
    }

    async fn object_version(&self, key: &str) -> Result<Option<u64>, StoreError> {
        let v: Option<String> = self
            .con()
            .hget(self.keys.object(key), "ver")
            .await
            .map_err(err)?;
        v.map(|v| v.parse().map_err(|e| bad("version", e)))
            .transpose()
    }

    async fn peer_objects(
        &self,
        peer_id: &str,
        cursor: Option<String>,
        count: usize,
    ) -> Result<Page, StoreError> {
        self.scan_shards(true, |s| self.keys.peer_index(s, peer_id), cursor, count)
            .await
    }

    /// `HKEYS` of the shard's part of the per-peer index.
    async fn peer_shard_objects(
        &self,
        peer_id: &str,
        shard: u16,
    ) -> Result<Vec<String>, StoreError> {
        let keys: Vec<String> = self
            .con()
            .hkeys(self.keys.peer_index(shard, peer_id))
            .await
            .map_err(err)?;
        Ok(keys)
    }

    /// One `HLEN` per shard (O(shards), whatever the number of objects).
    async fn peer_object_count(&self, peer_id: &str) -> Result<u64, StoreError> {
        self.sum_shards(|s| {
            redis::cmd("HLEN")
                .arg(self.keys.peer_index(s, peer_id))
                .clone()
        })
        .await
    }

    async fn attention(&self, cursor: Option<String>, count: usize) -> Result<Page, StoreError> {
        self.scan_shards(false, |s| self.keys.attention(s), cursor, count)
            .await
    }

    async fn attention_len(&self) -> Result<u64, StoreError> {
        self.sum_shards(|s| redis::cmd("SCARD").arg(self.keys.attention(s)).clone())
            .await
    }

    async fn expired_tombstones(
        &self,
        now_ns: u64,
        count: usize,
    ) -> Result<Vec<String>, StoreError> {
        self.collect_shards(count, |s| {
            redis::cmd("ZRANGEBYSCORE")
                .arg(self.keys.tombstones(s))
                .arg("-inf")
                .arg(now_ns / 1_000_000)
                .arg("LIMIT")
                .arg(0)
                .arg(count)
                .clone()
        })
        .await
    }

    async fn object_count(&self) -> Result<u64, StoreError> {
        self.sum_shards(|s| redis::cmd("GET").arg(self.keys.object_count(s)).clone())
            .await
    }

    async fn group(&self, id: &str) -> Result<Option<Versioned<TaskGroup>>, StoreError> {
        let at: Option<String> = self.con().get(self.keys.locator(id)).await.map_err(err)?;
        let Some((shard, gid)) = at.as_deref().and_then(|a| a.split_once(' ')) else {
            return Ok(None);
        };
        let shard: u16 = shard.parse().map_err(|e| bad("group locator", e))?;
        self.read_group(shard, gid).await
    }

    async fn group_count(&self) -> Result<u64, StoreError> {
        let now_ms = crate::cluster::state::now_ns() / 1_000_000;
        self.sum_shards(|s| {
            redis::cmd("ZCOUNT")
                .arg(self.keys.groups(s))
                .arg(format!("({now_ms}"))
                .arg("+inf")
                .clone()
        })
        .await
    }

    async fn reservations(&self, now_ns: u64) -> Result<Vec<Reservation>, StoreError> {
        let docs: Vec<Option<String>> = self
            .reservations
            .key(self.keys.reservations())
            .key(self.keys.reservation_data())
            .arg(now_ns / 1_000_000)
            .invoke_async(&mut self.con())
            .await
            .map_err(err)?;
        docs.into_iter()
            .flatten()
            .map(|j| parse::<Reservation>("reservation", &j))
            .filter(|r| r.as_ref().map_or(true, |r| r.expires_at_ns > now_ns))
            .collect()
    }

    async fn apply(&self, writes: Vec<Write>) -> Result<bool, StoreError> {
        let plan = Plan::encode(&self.keys, writes).map_err(|e| bad("change", e))?;
        // 1. the locators of the groups written: a crash after this step leaves only them, and they expire
        try_join_all(plan.locators.iter().map(|(key, at, ttl_ms)| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(at)
                .arg("PX")
                .arg(*ttl_ms)
                .query_async::<()>(&mut self.con())
                .await
                .map_err(err)
        }))
        .await?;
        // 2. each shard's part in one atomic step; the shards are independent
        let applied = try_join_all(plan.shards.iter().map(|call| async move {
            self.applier
                .apply(&mut self.con(), call.shard, &call.keys, &call.args)
                .await
                .map_err(err)
        }))
        .await?;
        if applied.iter().any(|a| *a != 1) {
            return Ok(false);
        }
        // 3. reservations once the changes they belong to are in: a crash before this step leaves a
        // reservation that expires (the sweep removes it)
        self.reservations_change(&plan.reserve, &plan.release)
            .await?;
        Ok(true)
    }

    async fn lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let held: i64 = self
            .lease
            .key(self.keys.lease(name))
            .arg(owner)
            .arg((ttl.as_millis() as u64).max(1))
            .invoke_async(&mut self.con())
            .await
            .map_err(err)?;
        Ok(held == 1)
    }

    async fn put_doc(
        &self,
        name: &str,
        value: Option<Value>,
        ttl: Option<Duration>,
    ) -> Result<(), StoreError> {
        self.put_document(name, value, ttl).await
    }

    async fn doc(&self, name: &str) -> Result<Option<Value>, StoreError> {
        self.document(name).await
    }

    async fn docs(&self, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        self.documents(prefix).await
    }

    async fn epoch(&self) -> Result<String, StoreError> {
        self.data_epoch().await
    }

    async fn sweep(&self, now_ns: u64) -> Result<u64, StoreError> {
        let now_ms = now_ns / 1_000_000;
        let expired: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.reservations())
            .arg("-inf")
            .arg(now_ms)
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        self.reservations_change(&[], &expired).await?;
        self.sum_shards(|s| {
            redis::cmd("ZREMRANGEBYSCORE")
                .arg(self.keys.groups(s))
                .arg("-inf")
                .arg(now_ms)
                .clone()
        })
        .await
    }

    async fn startup_warnings(&self) -> Vec<String> {
        self.config_warnings().await
    }

    async fn tombstones(&self, keys: &[String]) -> Result<Vec<bool>, StoreError> {
        self.tombstone_flags(keys).await
    }
}

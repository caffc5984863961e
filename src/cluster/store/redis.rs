//! The Redis store: the cluster state shared by every router of one storage space (redis-rs with a
//! `ConnectionManager`, which multiplexes concurrent calls on one connection and reconnects on its own).
//! Every change is the `APPLY` script ([`super::redis_script`]); reads are plain commands. Key layout in
//! [`super::redis_keys`]. Each call is bounded by the state timeout, so a stalled Redis costs that long at
//! most; the manager turns the error into a 503.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use serde_json::Value;

use super::redis_keys::Keys;
use super::redis_script::{Batch, APPLY, LEASE, RESERVATIONS};
use super::{Page, StateStore, StoreError, Versioned, Write};
use crate::cluster::record::ObjectRecord;
use crate::cluster::registry::PeersDoc;
use crate::cluster::types::{PeerInfo, Reservation, TaskGroup};

pub struct RedisStore {
    con: ConnectionManager,
    keys: Keys,
    apply: Script,
    reservations: Script,
    lease: Script,
}

fn err(e: redis::RedisError) -> StoreError {
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable {what} in Redis: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|e| bad(what, e))
}

fn versioned<T: serde::de::DeserializeOwned>(
    what: &str,
    fields: (Option<String>, Option<String>),
) -> Result<Option<Versioned<T>>, StoreError> {
    match fields {
        (Some(v), Some(rev)) if !v.is_empty() => Ok(Some(Versioned {
            rev: rev.parse().map_err(|e| bad(what, e))?,
            value: parse(what, &v)?,
        })),
        _ => Ok(None),
    }
}

impl RedisStore {
    /// Connects (bounded by `timeout`) and checks the server answers.
    pub async fn connect(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<RedisStore> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let mut con = tokio::time::timeout(
            timeout + Duration::from_secs(1),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {timeout:?}"))??;
        let _: String = redis::cmd("PING").query_async(&mut con).await?;
        Ok(RedisStore {
            con,
            keys: Keys::new(prefix),
            apply: Script::new(APPLY),
            reservations: Script::new(RESERVATIONS),
            lease: Script::new(LEASE),
        })
    }

    fn con(&self) -> ConnectionManager {
        self.con.clone()
    }

    async fn scan(
        &self,
        set: String,
        cursor: Option<String>,
        count: usize,
    ) -> Result<Page, StoreError> {
        let (next, keys): (String, Vec<String>) = redis::cmd("SSCAN")
            .arg(&set)
            .arg(cursor.as_deref().unwrap_or("0"))
            .arg("COUNT")
            .arg(count.max(1))
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        Ok(Page {
            keys,
            next: (next != "0").then_some(next),
        })
    }
}

#[async_trait]
impl StateStore for RedisStore {
    fn backend(&self) -> &'static str {
        "redis"
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
        let fields: (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys.object(key))
            .arg("v")
            .arg("rev")
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        versioned("object record", fields)
    }

    async fn objects(
        &self,
        keys: &[String],
    ) -> Result<Vec<Option<Versioned<ObjectRecord>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for k in keys {
            pipe.cmd("HMGET")
                .arg(self.keys.object(k))
                .arg("v")
                .arg("rev");
        }
        let all: Vec<(Option<String>, Option<String>)> =
            pipe.query_async(&mut self.con()).await.map_err(err)?;
        all.into_iter()
            .map(|f| versioned("object record", f))
            .collect()
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
        self.scan(self.keys.peer_index(peer_id), cursor, count)
            .await
    }

    async fn attention(&self, cursor: Option<String>, count: usize) -> Result<Page, StoreError> {
        self.scan(self.keys.attention(), cursor, count).await
    }

    async fn attention_len(&self) -> Result<u64, StoreError> {
        self.con().scard(self.keys.attention()).await.map_err(err)
    }

    async fn object_count(&self) -> Result<u64, StoreError> {
        let n: Option<i64> = self
            .con()
            .get(self.keys.object_count())
            .await
            .map_err(err)?;
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    async fn group(&self, id: &str) -> Result<Option<Versioned<TaskGroup>>, StoreError> {
        let read = |key: String| async move {
            let fields: (Option<String>, Option<String>) = redis::cmd("HMGET")
                .arg(key)
                .arg("v")
                .arg("rev")
                .query_async(&mut self.con())
                .await
                .map_err(err)?;
            versioned::<TaskGroup>("task group", fields)
        };
        if let Some(g) = read(self.keys.group(id)).await? {
            return Ok(Some(g));
        }
        let gid: Option<String> = self.con().get(self.keys.task(id)).await.map_err(err)?;
        match gid {
            Some(gid) => read(self.keys.group(&gid)).await,
            None => Ok(None),
        }
    }

    async fn group_count(&self) -> Result<u64, StoreError> {
        let now_ms = crate::cluster::state::now_ns() / 1_000_000;
        redis::cmd("ZCOUNT")
            .arg(self.keys.groups())
            .arg(format!("({now_ms}"))
            .arg("+inf")
            .query_async(&mut self.con())
            .await
            .map_err(err)
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
        if writes.is_empty() {
            return Ok(true);
        }
        let batch = Batch::encode(&self.keys, &writes).map_err(|e| bad("change", e))?;
        let mut call = self.apply.prepare_invoke();
        for k in &batch.keys {
            call.key(k);
        }
        for a in &batch.args {
            call.arg(a);
        }
        let applied: i64 = call.invoke_async(&mut self.con()).await.map_err(err)?;
        Ok(applied == 1)
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
        let mut pipe = redis::pipe();
        pipe.atomic();
        match value {
            Some(v) => {
                let mut set = redis::cmd("SET");
                set.arg(self.keys.doc(name)).arg(v.to_string());
                if let Some(t) = ttl {
                    set.arg("PX").arg((t.as_millis() as u64).max(1));
                }
                pipe.add_command(set).ignore();
                pipe.sadd(self.keys.docs(), name).ignore();
            }
            None => {
                pipe.del(self.keys.doc(name)).ignore();
                pipe.srem(self.keys.docs(), name).ignore();
            }
        }
        pipe.query_async::<()>(&mut self.con()).await.map_err(err)
    }

    async fn doc(&self, name: &str) -> Result<Option<Value>, StoreError> {
        let v: Option<String> = self.con().get(self.keys.doc(name)).await.map_err(err)?;
        v.map(|j| parse("document", &j)).transpose()
    }

    async fn docs(&self, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
        let mut names: Vec<String> = self.con().smembers(self.keys.docs()).await.map_err(err)?;
        names.retain(|n| n.starts_with(prefix));
        names.sort();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = names.iter().map(|n| self.keys.doc(n)).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys)
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        let mut out = Vec::new();
        for (name, v) in names.into_iter().zip(values) {
            if let Some(j) = v {
                out.push((name, parse("document", &j)?));
            }
        }
        Ok(out)
    }

    async fn epoch(&self) -> Result<String, StoreError> {
        let key = self.keys.epoch();
        let current: Option<String> = self.con().get(&key).await.map_err(err)?;
        if let Some(e) = current {
            return Ok(e);
        }
        let fresh = nanoid::nanoid!();
        let _: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&fresh)
            .arg("NX")
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        let now: Option<String> = self.con().get(&key).await.map_err(err)?;
        Ok(now.unwrap_or(fresh))
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
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(self.keys.groups())
            .arg("-inf")
            .arg(now_ms);
        if !expired.is_empty() {
            pipe.cmd("ZREM")
                .arg(self.keys.reservations())
                .arg(&expired)
                .ignore();
            pipe.cmd("HDEL")
                .arg(self.keys.reservation_data())
                .arg(&expired)
                .ignore();
        }
        let (groups,): (u64,) = pipe.query_async(&mut self.con()).await.map_err(err)?;
        Ok(groups)
    }

    async fn startup_warnings(&self) -> Vec<String> {
        let policy: Result<Vec<String>, _> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("maxmemory-policy")
            .query_async(&mut self.con())
            .await;
        match policy {
            Ok(v) if v.len() == 2 && v[1] != "noeviction" => vec![format!(
                "Redis maxmemory-policy is {}: it may evict cluster state; set it to noeviction",
                v[1]
            )],
            _ => Vec::new(),
        }
    }

    /// One `SMISMEMBER` of the attention set (tombstones are always in it), then the records of the few
    /// keys in it.
    async fn tombstones(&self, keys: &[String]) -> Result<Vec<bool>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let member: Vec<bool> = redis::cmd("SMISMEMBER")
            .arg(self.keys.attention())
            .arg(keys)
            .query_async(&mut self.con())
            .await
            .map_err(err)?;
        let candidates: Vec<String> = keys
            .iter()
            .zip(&member)
            .filter(|(_, m)| **m)
            .map(|(k, _)| k.clone())
            .collect();
        let records = self.objects(&candidates).await?;
        let dead: std::collections::HashSet<String> = candidates
            .into_iter()
            .zip(records)
            .filter(|(_, r)| r.as_ref().is_some_and(|r| r.value.deleted_at_ns.is_some()))
            .map(|(k, _)| k)
            .collect();
        Ok(keys.iter().map(|k| dead.contains(k)).collect())
    }
}

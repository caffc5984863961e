//! The space-wide documents of the Redis store (drain and repair status, with an optional TTL), the
//! identity of its data set (the epoch) and the configuration checks made at start-up. All in the
//! space-wide slot `{prefix}`.

use std::time::Duration;

use redis::AsyncCommands;
use serde_json::Value;

use super::redis::{err, parse, RedisStore};
use super::StoreError;

impl RedisStore {
    pub(super) async fn put_document(
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

    pub(super) async fn document(&self, name: &str) -> Result<Option<Value>, StoreError> {
        let v: Option<String> = self.con().get(self.keys.doc(name)).await.map_err(err)?;
        v.map(|j| parse("document", &j)).transpose()
    }

    pub(super) async fn documents(&self, prefix: &str) -> Result<Vec<(String, Value)>, StoreError> {
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

    pub(super) async fn data_epoch(&self) -> Result<String, StoreError> {
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

    pub(super) async fn config_warnings(&self) -> Vec<String> {
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
}

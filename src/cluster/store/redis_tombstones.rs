//! Which of a page of listed keys are tombstones, without reading every record: a finished tombstone is in
//! its shard's expiry order (`{p:N}:tomb`), and a tombstone whose delete is still pending is in the shard's
//! attention set, so only the records of the few keys found there are read.

use std::collections::HashSet;

use futures::future::try_join_all;

use super::redis::{err, RedisStore};
use super::redis_keys::shard_of;
use super::{StateStore, StoreError};

/// Per key: (score in the expiry order, member of the attention set).
type Probe = (Option<f64>, bool);

impl RedisStore {
    pub(super) async fn tombstone_flags(&self, keys: &[String]) -> Result<Vec<bool>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let probes = self.probe(keys).await?;
        let pending: Vec<String> = keys
            .iter()
            .zip(&probes)
            .filter(|(_, (tomb, attn))| tomb.is_none() && *attn)
            .map(|(k, _)| k.clone())
            .collect();
        let records = self.objects(&pending).await?;
        let dead_pending: HashSet<&String> = pending
            .iter()
            .zip(&records)
            .filter(|(_, r)| r.as_ref().is_some_and(|r| r.value.deleted_at_ns.is_some()))
            .map(|(k, _)| k)
            .collect();
        Ok(keys
            .iter()
            .zip(&probes)
            .map(|(k, (tomb, _))| tomb.is_some() || dead_pending.contains(k))
            .collect())
    }

    /// One pipeline for a standalone Redis; on a cluster one short pipeline per key (both commands of a key
    /// are in its shard's slot), multiplexed on the connection.
    async fn probe(&self, keys: &[String]) -> Result<Vec<Probe>, StoreError> {
        let add = |pipe: &mut redis::Pipeline, k: &String| {
            let shard = shard_of(k);
            pipe.cmd("ZSCORE")
                .arg(self.keys.tombstones(shard))
                .arg(k)
                .cmd("SISMEMBER")
                .arg(self.keys.attention(shard))
                .arg(k);
        };
        if !self.con().is_cluster() {
            let mut pipe = redis::pipe();
            for k in keys {
                add(&mut pipe, k);
            }
            let flat: Vec<redis::Value> = pipe.query_async(&mut self.con()).await.map_err(err)?;
            return flat
                .chunks(2)
                .map(|pair| {
                    let tomb = redis::from_redis_value_ref(&pair[0]);
                    let attn = redis::from_redis_value_ref(&pair[1]);
                    tomb.and_then(|t| attn.map(|a| (t, a))).map_err(|e| {
                        StoreError::Backend(format!("unreadable tombstone probe: {e}"))
                    })
                })
                .collect();
        }
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(64) {
            out.extend(
                try_join_all(chunk.iter().map(|k| async move {
                    let mut pipe = redis::pipe();
                    add(&mut pipe, k);
                    pipe.query_async::<Probe>(&mut self.con())
                        .await
                        .map_err(err)
                }))
                .await?,
            );
        }
        Ok(out)
    }
}

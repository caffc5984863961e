//! Reads and upkeep that span the shards of a space ([`super::redis_keys`]): paging through a per-shard
//! set (the per-peer index, the attention set) shard after shard, totals summed over the shards, and the
//! per-shard sweep of expired groups. Each shard is a separate call (on a cluster the shards live on
//! different masters), run a few at a time.

use futures::future::try_join_all;
use futures::{stream, StreamExt, TryStreamExt};

use super::redis::{err, RedisStore};
use super::redis_keys::SHARDS;
use super::{Page, StoreError};

/// Shards read at once by the totals and the sweep.
const SHARD_CONCURRENCY: usize = 32;
/// Most shards one page visits, so a page of a sparse set stays one short call (it may then hold
/// fewer keys than asked, or none, and still have a next page).
const SHARDS_PER_PAGE: u16 = 64;

impl RedisStore {
    /// A page of the members of the per-shard set (or the fields of the per-shard hash, with `hash`)
    /// `set(shard)`, shard after shard. The cursor is `shard:scan-cursor`.
    pub(super) async fn scan_shards(
        &self,
        hash: bool,
        set: impl Fn(u16) -> String,
        cursor: Option<String>,
        count: usize,
    ) -> Result<Page, StoreError> {
        let (mut shard, mut cur) = match cursor.as_deref() {
            None => (0, "0".to_string()),
            Some(c) => {
                let (s, rest) = c
                    .split_once(':')
                    .ok_or_else(|| StoreError::Backend(format!("bad cursor {c}")))?;
                let s = s
                    .parse::<u16>()
                    .map_err(|_| StoreError::Backend(format!("bad cursor {c}")))?;
                (s, rest.to_string())
            }
        };
        let count = count.max(1);
        let mut keys = Vec::new();
        let first = shard;
        let last = shard.saturating_add(SHARDS_PER_PAGE).min(SHARDS);
        // which of the page's shards hold anything, asked all at once: a sparse set costs one round
        // trip per page, not one per shard
        let sizes: Vec<i64> = try_join_all((first..last).map(|s| {
            let mut con = self.con();
            let probe = redis::cmd(if hash { "HLEN" } else { "SCARD" })
                .arg(set(s))
                .clone();
            async move { probe.query_async::<i64>(&mut con).await.map_err(err) }
        }))
        .await?;
        while shard < last {
            let empty = cur == "0" && sizes[usize::from(shard - first)] == 0;
            if !empty {
                let (next, got): (String, Vec<String>) =
                    redis::cmd(if hash { "HSCAN" } else { "SSCAN" })
                        .arg(set(shard))
                        .arg(&cur)
                        .arg("COUNT")
                        .arg(count)
                        .query_async(&mut self.con())
                        .await
                        .map_err(err)?;
                if hash {
                    keys.extend(got.into_iter().step_by(2));
                } else {
                    keys.extend(got);
                }
                if next != "0" {
                    cur = next;
                    if keys.len() >= count {
                        return Ok(Page {
                            keys,
                            next: Some(format!("{shard}:{cur}")),
                        });
                    }
                    continue;
                }
            }
            shard += 1;
            cur = "0".into();
            if keys.len() >= count {
                break;
            }
        }
        Ok(Page {
            keys,
            next: (shard < SHARDS).then(|| format!("{shard}:0")),
        })
    }

    /// The sum over the shards of the integer `cmd(shard)` answers.
    pub(super) async fn sum_shards(
        &self,
        cmd: impl Fn(u16) -> redis::Cmd,
    ) -> Result<u64, StoreError> {
        let counts: Vec<Option<i64>> = stream::iter(0..SHARDS)
            .map(|s| {
                let c = cmd(s);
                let mut con = self.con();
                async move { c.query_async::<Option<i64>>(&mut con).await.map_err(err) }
            })
            .buffer_unordered(SHARD_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(counts.into_iter().flatten().map(|n| n.max(0) as u64).sum())
    }

    /// Up to `count` members from the per-shard lists `cmd(shard)` answers, shard after shard (a few
    /// at a time), stopping once `count` are found.
    pub(super) async fn collect_shards(
        &self,
        count: usize,
        cmd: impl Fn(u16) -> redis::Cmd,
    ) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        let mut shards = stream::iter(0..SHARDS)
            .map(|s| {
                let c = cmd(s);
                let mut con = self.con();
                async move { c.query_async::<Vec<String>>(&mut con).await.map_err(err) }
            })
            .buffered(SHARD_CONCURRENCY);
        while let Some(found) = shards.next().await {
            out.extend(found?);
            if out.len() >= count {
                out.truncate(count);
                break;
            }
        }
        Ok(out)
    }
}

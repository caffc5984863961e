//! The incremental inventory pass of one peer (`docs/replica-manager.md` §7.2). The peer reports a digest
//! per shard (`GET /api/v4/xballs/digests`); the leader reconciles only the shards whose digest differs
//! from the one it recorded after the shard's last complete reconcile ([`super::inventory_digests`]), and
//! every shard on every `MICTLANX_ROUTER_FULL_PASS_EVERY`-th pass. Reconciling a shard: list the peer's
//! objects of that shard (`?shard=N`, keyset pages), judge them as a full pass does, then drop the holders
//! of that shard's part of the per-peer index that were not listed and are older than the pass. A pass
//! over an unchanged peer reads no record; the router holds one shard's keys at a time.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::TryStreamExt;
use mictlanx_proto::shard::{object_shard, SHARDS};

use super::inventory::{adopt_page, drop_holders, PassError};
use super::state::{lock, now_ns, Inner};
use super::types::PeerInfo;
use crate::peer_client::PeerError;

/// Shards of one peer reconciled at the same time.
const SHARD_CONCURRENCY: usize = 4;

/// The incremental pass of `peer`: `Ok(None)` when the peer has no shard digests (an original MictlanX
/// peer: the caller runs the full listing pass), else the objects listed and the holders dropped.
pub(super) async fn run_pass(
    inner: &Arc<Inner>,
    peer: &PeerInfo,
) -> Result<Option<(usize, usize)>, PassError> {
    let pass_start = now_ns();
    // The digests are taken before any shard is listed: a change during the listing shows next pass.
    let digests = match inner.client.shard_digests(peer).await {
        Ok(d) if d.shards == SHARDS && d.digests.len() == usize::from(SHARDS) => d,
        Ok(d) => {
            tracing::warn!(peer_id = %peer.peer_id, shards = d.shards,
                "peer reports digests of another shard count; full pass");
            return Ok(None);
        }
        Err(PeerError::NotFound(_)) => return Ok(None),
        Err(PeerError::Status { status, .. }) if (400..500).contains(&status) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let now: Vec<u64> = digests.digests.iter().map(|d| d.0).collect();
    let epoch = lock(&inner.state.epoch).clone();
    let plan = lock(&inner.work.digests).plan(peer, epoch, &now, inner.cfg.full_pass_every);
    let skipped = usize::from(SHARDS) - plan.scan.len();
    inner
        .metrics
        .counter_with(
            "mictlanx_router_inventory_shards_total",
            &[("outcome", "skipped")],
        )
        .increment(skipped as u64);
    tracing::debug!(peer_id = %peer.peer_id, scan = plan.scan.len(), skipped,
        forced_full = plan.forced_full, "inventory pass plan");
    let (seen, removed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    futures::stream::iter(plan.scan.iter().copied().map(Ok))
        .try_for_each_concurrent(SHARD_CONCURRENCY, |(shard, digest)| {
            let (seen, removed) = (&seen, &removed);
            async move {
                if !lock(&inner.table.peers).contains_key(&peer.peer_id) {
                    return Ok(());
                }
                let (s, r) = reconcile_shard(inner, peer, shard, digest, pass_start).await?;
                seen.fetch_add(s, Ordering::Relaxed);
                removed.fetch_add(r, Ordering::Relaxed);
                lock(&inner.work.digests).reconciled(&peer.peer_id, plan.generation, shard, digest);
                inner
                    .metrics
                    .counter_with(
                        "mictlanx_router_inventory_shards_total",
                        &[("outcome", "scanned")],
                    )
                    .increment(1);
                Ok::<(), PassError>(())
            }
        })
        .await?;
    Ok(Some((seen.into_inner(), removed.into_inner())))
}

/// Reconcile one shard of `peer`: judge every listed copy, then drop the shard's holders of `peer` that
/// were not listed and are older than `pass_start`. A shard whose digest is `0` is empty on the peer
/// (a non-empty set XORs to 0 with probability 2^-64) and is not listed.
async fn reconcile_shard(
    inner: &Arc<Inner>,
    peer: &PeerInfo,
    shard: u16,
    digest: u64,
    pass_start: u64,
) -> Result<(usize, usize), PassError> {
    let size = inner.cfg.rebuild_page_size.max(1) as usize;
    let mut seen: HashSet<String> = HashSet::new();
    let mut after: Option<(String, String)> = None;
    if digest != 0 {
        loop {
            let at = after.as_ref().map(|(b, k)| (b.as_str(), k.as_str()));
            let items = inner
                .client
                .xballs_shard_after(peer, shard, at, size)
                .await?;
            if items.len() > size
                || items
                    .iter()
                    .any(|it| object_shard(&it.bucket_id, &it.key) != shard)
            {
                return Err(PeerError::Decode(format!(
                    "the listing of shard {shard} holds objects of other shards or more than {size}"
                ))
                .into());
            }
            let n = items.len();
            after = items
                .last()
                .map(|it| (it.bucket_id.clone(), it.key.clone()));
            adopt_page(inner, peer, items, &mut seen).await?;
            if n < size {
                break;
            }
        }
    }
    let indexed = inner
        .state
        .st(inner.state.store.peer_shard_objects(&peer.peer_id, shard))
        .await?;
    let stale: Vec<String> = indexed.into_iter().filter(|k| !seen.contains(k)).collect();
    let removed = drop_holders(inner, &peer.peer_id, &stale, pass_start).await?;
    Ok((seen.len(), removed))
}

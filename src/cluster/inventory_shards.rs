//! The incremental inventory pass of one peer (`docs/replica-manager.md` §7.2). The peer reports a digest
//! per shard (`GET /api/v4/xballs/digests`); the leader reconciles only the shards whose digest differs
//! from the one it recorded after the shard's last complete reconcile ([`super::inventory_digests`]), and
//! every shard on every `MICTLANX_ROUTER_FULL_PASS_EVERY`-th pass. Reconciling a shard: list the peer's
//! objects of that shard (`?shard=N`, keyset pages), judge them as a full pass does, then drop the holders
//! of that shard's part of the per-peer index that were not listed and are older than the pass; small
//! shards are reconciled in groups so that they share batches. A pass over an unchanged peer reads no
//! record; the router holds about a page plus one shard of keys per lane.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::TryStreamExt;
use mictlanx_proto::shard::{object_shard, SHARDS};

use super::inventory::{adopt_page, drop_holders, PassError};
use super::state::{lock, now_ns, Inner};
use super::types::PeerInfo;
use crate::peer_client::{PeerError, XBall};

/// The shards to reconcile of one peer are split in this many lanes, reconciled at the same time.
const LANES: usize = 4;

/// The incremental pass of `peer`: `Ok(None)` when the peer has no shard digests (an original MictlanX
/// peer: the caller runs the full listing pass), else the objects listed and the holders dropped.
pub(super) async fn run_pass(
    inner: &Arc<Inner>,
    peer: &PeerInfo,
) -> Result<Option<(usize, usize)>, PassError> {
    let pass_start = now_ns();
    // The digests are taken before any shard is listed: a change during the listing shows next pass.
    // Asked without reporting: a 404 from an original peer is not a sign of health between its failures.
    let digests = match inner.probe_client.shard_digests(peer).await {
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
    let per_lane = plan.scan.len().div_ceil(LANES).max(1);
    futures::stream::iter(plan.scan.chunks(per_lane).map(Ok))
        .try_for_each_concurrent(LANES, |lane| {
            let (seen, removed) = (&seen, &removed);
            async move {
                let mut group = Group::default();
                for &(shard, digest) in lane {
                    if !lock(&inner.table.peers).contains_key(&peer.peer_id) {
                        return Ok(());
                    }
                    group.list(inner, peer, shard, digest).await?;
                    if group.seen.len() >= page_size(inner) {
                        let (s, r) = group
                            .finish(inner, peer, plan.generation, pass_start)
                            .await?;
                        seen.fetch_add(s, Ordering::Relaxed);
                        removed.fetch_add(r, Ordering::Relaxed);
                    }
                }
                let (s, r) = group
                    .finish(inner, peer, plan.generation, pass_start)
                    .await?;
                seen.fetch_add(s, Ordering::Relaxed);
                removed.fetch_add(r, Ordering::Relaxed);
                Ok::<(), PassError>(())
            }
        })
        .await?;
    Ok(Some((seen.into_inner(), removed.into_inner())))
}

fn page_size(inner: &Inner) -> usize {
    inner.cfg.rebuild_page_size.max(1) as usize
}

/// Consecutive shards of one lane reconciled together, so that small shards share batches: their listed
/// copies are judged a page at a time, then their index entries not listed are dropped in one batch and
/// their digests remembered. Holds at most about a page plus one shard of keys.
#[derive(Default)]
struct Group {
    shards: Vec<(u16, u64)>,
    pending: Vec<XBall>,
    seen: HashSet<String>,
}

impl Group {
    /// List shard `shard` of `peer` into the group, judging every full page. A shard whose digest is `0`
    /// is empty on the peer (a non-empty set XORs to 0 with probability 2^-64) and is not listed.
    async fn list(
        &mut self,
        inner: &Arc<Inner>,
        peer: &PeerInfo,
        shard: u16,
        digest: u64,
    ) -> Result<(), PassError> {
        let size = page_size(inner);
        self.shards.push((shard, digest));
        if digest == 0 {
            return Ok(());
        }
        let mut after: Option<(String, String)> = None;
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
            self.pending.extend(items);
            if self.pending.len() >= size {
                let page = std::mem::take(&mut self.pending);
                adopt_page(inner, peer, page, &mut self.seen).await?;
            }
            if n < size {
                break;
            }
        }
        Ok(())
    }

    /// Judge what is pending, drop the group's holders of `peer` that were not listed and are older than
    /// `pass_start`, and remember the group's digests. Returns the copies listed and the holders dropped.
    async fn finish(
        &mut self,
        inner: &Arc<Inner>,
        peer: &PeerInfo,
        generation: u64,
        pass_start: u64,
    ) -> Result<(usize, usize), PassError> {
        if self.shards.is_empty() {
            return Ok((0, 0));
        }
        let page = std::mem::take(&mut self.pending);
        adopt_page(inner, peer, page, &mut self.seen).await?;
        let mut stale = Vec::new();
        for (shard, _) in &self.shards {
            let indexed = inner
                .state
                .st(inner.state.store.peer_shard_objects(&peer.peer_id, *shard))
                .await?;
            stale.extend(indexed.into_iter().filter(|k| !self.seen.contains(k)));
        }
        let removed = drop_holders(inner, &peer.peer_id, &stale, pass_start).await?;
        let mut digests = lock(&inner.work.digests);
        for (shard, digest) in &self.shards {
            digests.reconciled(&peer.peer_id, generation, *shard, *digest);
        }
        drop(digests);
        inner
            .metrics
            .counter_with(
                "mictlanx_router_inventory_shards_total",
                &[("outcome", "scanned")],
            )
            .increment(self.shards.len() as u64);
        let listed = self.seen.len();
        self.shards.clear();
        self.seen.clear();
        Ok((listed, removed))
    }
}

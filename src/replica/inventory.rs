//! Replica-map rebuild from peer inventories (`replica-manager.md` §7.2): a full pass at start-up and every
//! rebuild interval, a single-peer pass whenever a peer becomes available. Requests never wait for them.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;

use super::replica_map::combined;
use super::state::{lock, now_ns, Inner};
use super::types::PeerInfo;
use crate::ids::is_canonical;
use crate::peer_client::{PeerError, XBall};

/// How the peer lists its objects: `/api/v4/xballs`, or `/api/v4/stats` `balls` when the former is 404.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    XBalls,
    Stats,
}

async fn page(
    inner: &Inner,
    peer: &PeerInfo,
    source: Source,
    start: u64,
    size: u64,
) -> Result<Vec<XBall>, PeerError> {
    match source {
        Source::XBalls => inner.client.xballs(peer, start, start + size).await,
        Source::Stats => {
            let (s, e) = (start as i64, (start + size) as i64);
            let stats = inner.client.stats(peer, s, e).await?;
            Ok(stats
                .balls
                .into_iter()
                .map(|m| XBall {
                    bucket_id: m.bucket_id,
                    key: m.key,
                    size: m.size,
                })
                .collect())
        }
    }
}

/// One peer's pass: record every listed object; when every page succeeded, drop the peer's records that
/// were not listed and are older than the pass start. Skipped when a pass for that peer is running.
pub(super) async fn pass_peer(inner: &Arc<Inner>, peer: PeerInfo) {
    if !lock(&inner.passes).insert(peer.peer_id.clone()) {
        return;
    }
    let outcome = run_pass(inner, &peer).await;
    lock(&inner.passes).remove(&peer.peer_id);
    match outcome {
        Ok((seen, removed)) => {
            tracing::debug!(peer_id = %peer.peer_id, seen, removed, "inventory pass done")
        }
        Err(e) => {
            tracing::warn!(peer_id = %peer.peer_id, error = %e, "inventory pass incomplete; additions only")
        }
    }
}

async fn run_pass(inner: &Arc<Inner>, peer: &PeerInfo) -> Result<(usize, usize), PeerError> {
    let pass_start = now_ns();
    let size = inner.cfg.rebuild_page_size.max(1);
    let ids = [peer.peer_id.clone()];
    let mut seen: HashSet<String> = HashSet::new();
    let mut source = Source::XBalls;
    let mut start = 0u64;
    loop {
        let items = match page(inner, peer, source, start, size).await {
            Ok(items) => items,
            Err(PeerError::NotFound(_)) if start == 0 && source == Source::XBalls => {
                source = Source::Stats;
                continue;
            }
            Err(e) => return Err(e),
        };
        let n = items.len() as u64;
        {
            // Lock order registry → map (as in removal), so a removed peer's records are not re-added.
            let peers = lock(&inner.peers);
            if !peers.contains_key(&peer.peer_id) {
                return Ok((seen.len(), 0));
            }
            let now = now_ns();
            let mut map = lock(&inner.map);
            for it in items {
                if !is_canonical(&it.bucket_id) || !is_canonical(&it.key) {
                    tracing::warn!(peer_id = %peer.peer_id, bucket = %it.bucket_id, key = %it.key,
                        "inventory item with a non-canonical id skipped");
                    continue;
                }
                let c = combined(&it.bucket_id, &it.key);
                map.add(&c, &ids, now);
                seen.insert(c);
            }
            inner.update_map_gauge(map.len());
        }
        if n < size {
            break;
        }
        start += size;
    }
    let mut map = lock(&inner.map);
    let removed = map.remove_unseen(&peer.peer_id, &seen, pass_start);
    inner.update_map_gauge(map.len());
    Ok((seen.len(), removed))
}

/// Every live peer's pass, concurrently (bounded).
pub(super) async fn full_pass(inner: &Arc<Inner>) {
    let live = inner.live_peers();
    futures::stream::iter(live)
        .for_each_concurrent(inner.fanout, |p| pass_peer(inner, p))
        .await;
}

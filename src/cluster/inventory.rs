//! Replica-map rebuild from peer inventories (`docs/replica-manager.md` §7.2): a full pass at start-up and every
//! rebuild interval, a single-peer pass whenever a peer becomes available — on the leader only. A peer with
//! shard digests gets the incremental pass of [`super::inventory_shards`]; this file keeps the full listing
//! pass of a peer without them and the steps both share (judging a page, dropping unseen holders). Every
//! listed copy is judged by its version ([`ObjectRecord::adopt`]): a current copy makes its peer a holder,
//! a newer one becomes the current version, a stale or deleted one is scheduled for deletion and never
//! served. Requests never wait for a pass.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;

use super::inventory_shards;
use super::objects;
use super::record::ObjectRecord;
use super::state::{lock, now_ns, Inner};
use super::types::PeerInfo;
use crate::ids::is_canonical;
use crate::peer_client::{PeerError, XBall};

/// How the peer lists its objects: keyset pages of `/api/v4/xballs` (each page costs the peer O(page));
/// offset windows of the same endpoint for a peer that ignores the keyset parameters; `/api/v4/stats`
/// `balls` when the former is 404.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Source {
    Keyset,
    XBalls,
    Stats,
}

/// Where the next page starts: after the last listed object (keyset) and at its offset (windows).
#[derive(Default)]
struct Cursor {
    after: Option<(String, String)>,
    offset: u64,
}

async fn page(
    inner: &Inner,
    peer: &PeerInfo,
    source: Source,
    at: &Cursor,
    size: u64,
) -> Result<Vec<XBall>, PeerError> {
    let start = at.offset;
    match source {
        Source::Keyset => {
            let after = at.after.as_ref().map(|(b, k)| (b.as_str(), k.as_str()));
            inner.client.xballs_after(peer, after, size as usize).await
        }
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
                    version: 0,
                    replication_factor: 0,
                })
                .collect())
        }
    }
}

/// Whether a keyset answer shows a peer that ignored the keyset parameters (it answered a window from
/// the start): more than asked, or not after the cursor.
fn ignores_keyset(items: &[XBall], at: &Cursor, size: u64) -> bool {
    items.len() as u64 > size
        || match (&at.after, items.first()) {
            (Some((b, k)), Some(first)) => {
                (first.bucket_id.as_str(), first.key.as_str()) <= (b.as_str(), k.as_str())
            }
            _ => false,
        }
}

#[derive(Debug, thiserror::Error)]
pub(super) enum PassError {
    #[error("{0}")]
    Peer(#[from] PeerError),
    #[error("{0}")]
    State(#[from] crate::cluster::RmError),
}

/// One peer's pass: judge every listed copy; when every page succeeded, drop the peer's holder records
/// that were not listed and are older than the pass start. Skipped when a pass for that peer is running.
pub(super) async fn pass_peer(inner: &Arc<Inner>, peer: PeerInfo) {
    if !lock(&inner.work.passes).insert(peer.peer_id.clone()) {
        return;
    }
    let started = std::time::Instant::now();
    let outcome = match inventory_shards::run_pass(inner, &peer).await {
        Ok(None) => run_pass(inner, &peer).await,
        Ok(Some(done)) => Ok(done),
        Err(e) => Err(e),
    };
    inner
        .metrics
        .histogram("mictlanx_router_inventory_pass_seconds")
        .record(started.elapsed().as_secs_f64());
    lock(&inner.work.passes).remove(&peer.peer_id);
    let label = if outcome.is_ok() {
        "complete"
    } else {
        "incomplete"
    };
    inner
        .metrics
        .counter_with(
            "mictlanx_router_inventory_passes_total",
            &[("outcome", label)],
        )
        .increment(1);
    match outcome {
        Ok((seen, removed)) => {
            tracing::debug!(peer_id = %peer.peer_id, seen, removed, "inventory pass done")
        }
        Err(e) => {
            tracing::warn!(peer_id = %peer.peer_id, error = %e, "inventory pass incomplete; additions only")
        }
    }
}

async fn run_pass(inner: &Arc<Inner>, peer: &PeerInfo) -> Result<(usize, usize), PassError> {
    let pass_start = now_ns();
    let size = inner.cfg.rebuild_page_size.max(1);
    let mut seen: HashSet<String> = HashSet::new();
    let mut source = Source::Keyset;
    let mut at = Cursor::default();
    loop {
        let items = match page(inner, peer, source, &at, size).await {
            Ok(items) if source == Source::Keyset && ignores_keyset(&items, &at, size) => {
                source = Source::XBalls;
                at = Cursor::default();
                continue;
            }
            Ok(items) => items,
            Err(PeerError::NotFound(_)) if at.offset == 0 && source != Source::Stats => {
                source = Source::Stats;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let n = items.len() as u64;
        if let Some(last) = items.last() {
            at.after = Some((last.bucket_id.clone(), last.key.clone()));
        }
        if !lock(&inner.table.peers).contains_key(&peer.peer_id) {
            return Ok((seen.len(), 0));
        }
        adopt_page(inner, peer, items, &mut seen).await?;
        if n < size {
            break;
        }
        at.offset += size;
    }
    let removed = remove_unseen(inner, &peer.peer_id, &seen, pass_start).await?;
    Ok((seen.len(), removed))
}

/// Judge one page of listed copies ([`ObjectRecord::adopt`]) in one batch; adds their keys to `seen`.
pub(super) async fn adopt_page(
    inner: &Arc<Inner>,
    peer: &PeerInfo,
    items: Vec<XBall>,
    seen: &mut HashSet<String>,
) -> Result<(), PassError> {
    let mut keys = Vec::with_capacity(items.len());
    let mut copies = std::collections::HashMap::new();
    for it in items {
        if !is_canonical(&it.bucket_id) || !is_canonical(&it.key) {
            tracing::warn!(peer_id = %peer.peer_id, bucket = %it.bucket_id, key = %it.key,
                "inventory item with a non-canonical id skipped");
            continue;
        }
        let c = format!("{}@{}", it.bucket_id, it.key);
        seen.insert(c.clone());
        copies.insert(c.clone(), (it.version, it.replication_factor));
        keys.push(c);
    }
    let now = now_ns();
    objects::modify_many(inner, &keys, |key, rec: &mut ObjectRecord| {
        let (version, rf) = copies[key];
        let before = rec.clone();
        rec.adopt(&peer.peer_id, version, rf, now);
        *rec != before
    })
    .await?;
    Ok(())
}

/// End of a complete pass: drop `peer`'s holder records that were not listed and were made before the
/// pass started (records made during the pass are kept).
async fn remove_unseen(
    inner: &Arc<Inner>,
    peer_id: &str,
    seen: &HashSet<String>,
    pass_start: u64,
) -> Result<usize, PassError> {
    let mut stale = Vec::new();
    let mut cursor = None;
    loop {
        let page = inner
            .state
            .st(inner.state.store.peer_objects(peer_id, cursor, 1000))
            .await?;
        stale.extend(page.keys.into_iter().filter(|k| !seen.contains(k)));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    drop_holders(inner, peer_id, &stale, pass_start).await
}

/// Drop `peer_id` from the records of `stale` where it became a holder before `pass_start`; returns how
/// many records changed.
pub(super) async fn drop_holders(
    inner: &Arc<Inner>,
    peer_id: &str,
    stale: &[String],
    pass_start: u64,
) -> Result<usize, PassError> {
    let mut removed = 0;
    for chunk in stale.chunks(500) {
        objects::modify_many(inner, chunk, |_, rec: &mut ObjectRecord| {
            let old = rec.holders.get(peer_id).is_some_and(|t| *t < pass_start);
            if old {
                rec.holders.remove(peer_id);
                removed += 1;
            }
            old
        })
        .await?;
    }
    Ok(removed)
}

/// Every live peer's pass, concurrently (bounded).
pub(super) async fn full_pass(inner: &Arc<Inner>) {
    let live = inner.table.live_peers();
    futures::stream::iter(live)
        .for_each_concurrent(inner.fanout, |p| pass_peer(inner, p))
        .await;
}

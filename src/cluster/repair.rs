//! Healing (the repair loop): on the leader only, every `MICTLANX_ROUTER_REPAIR_INTERVAL` (and at once when a
//! peer comes back), look at every record that needs attention, at the objects of holders unavailable for
//! longer than `MICTLANX_ROUTER_REPAIR_DELAY`, and at the next keys of each running drain ([`drain`]),
//! and for each:
//! * apply pending deletes on live peers (tombstones, stale copies) with a conditional delete, so a copy
//!   newer than the delete survives;
//! * expire tombstones whose deletes all went through, after their retention ([`super::tombstones`]: they
//!   are not in the attention set, the store keeps them by expiry);
//! * copy an object that has fewer live current copies than its replication factor from a current holder
//!   to peers chosen by placement ([`super::copy`]), then record the new holders if the object is still at
//!   the copied version (else the new copies are stale and get deleted).
//!
//! Copies run `MICTLANX_ROUTER_REPAIR_CONCURRENCY` at a time and share `MICTLANX_ROUTER_REPAIR_BANDWIDTH`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use futures::StreamExt;

use super::copies::{classify, desired, Copies};
use super::copy::copy;
use super::placement::{self, Candidate};
use super::record::ObjectRecord;
use super::state::{lock, now_ns, Inner};
use super::types::{PeerInfo, RepairRound, RepairTotals};
use super::{drain, objects};
use crate::peer_client::PeerError;
use crate::telemetry::Metrics;

/// Most records one round looks at (the rest wait for the next round).
const MAX_PER_ROUND: usize = 20_000;

/// The repair loop's own bookkeeping (status endpoint, metrics).
#[derive(Debug, Default)]
pub struct RepairState {
    pub running: BTreeSet<String>,
    pub totals: RepairTotals,
    pub last: Option<RepairRound>,
    /// Bytes copied for each drained peer since its status was last published.
    pub drain_bytes: HashMap<String, u64>,
    /// Where the next round goes on in the attention set, so a long queue is worked through round after
    /// round instead of its first pages only.
    pub attention_cursor: Option<String>,
    /// Each running drain's walk over its peer's index.
    pub drains: HashMap<String, drain::DrainPass>,
}

/// Register the repair metrics so they are exported before the first round.
pub fn register_metrics(metrics: &Metrics) {
    metrics
        .gauge("mictlanx_router_under_replicated_objects")
        .set(0.0);
    metrics.gauge("mictlanx_router_repair_queue").set(0.0);
    for result in ["done", "failed"] {
        metrics
            .counter_with("mictlanx_router_repairs_total", &[("result", result)])
            .increment(0);
    }
    metrics
        .counter("mictlanx_router_repair_bytes_total")
        .increment(0);
    metrics
        .counter("mictlanx_router_repair_deletes_total")
        .increment(0);
}

pub(super) async fn repair_loop(inner: Arc<Inner>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(inner.cfg.repair.interval) => {}
            _ = inner.work.repair_kick.notified() => {}
        }
        if let Ok(n) = inner.state.st(inner.state.store.attention_len()).await {
            inner
                .metrics
                .gauge("mictlanx_router_repair_queue")
                .set(n as f64);
        }
        if !inner.work.is_leader() {
            continue;
        }
        let (round, listed, settled) = run_round(&inner).await;
        super::tombstones::expire(&inner).await;
        drain::update_progress(&inner, listed, &settled).await;
        publish(&inner, round).await;
    }
}

/// Counters of one round, shared by its concurrent repairs.
#[derive(Default)]
struct Tally {
    examined: AtomicU64,
    under: AtomicU64,
    repaired: AtomicU64,
    failed: AtomicU64,
    deletes: AtomicU64,
    bytes: AtomicU64,
    /// Keys that need nothing more from a drain (their full factor is on peers that are not draining, or
    /// they are not live), for the drains' progress.
    settled: Mutex<HashSet<String>>,
}

async fn run_round(inner: &Arc<Inner>) -> (RepairRound, Vec<drain::Listed>, HashSet<String>) {
    let started_at_ns = now_ns();
    let (keys, listed) = candidates(inner).await;
    let tally = Tally::default();
    futures::stream::iter(keys)
        .for_each_concurrent(inner.cfg.repair.concurrency.max(1), |key| {
            let tally = &tally;
            async move {
                lock(&inner.work.repair).running.insert(key.clone());
                match repair_key(inner, &key, tally).await {
                    Ok(true) => {
                        lock(&tally.settled).insert(key.clone());
                    }
                    Ok(false) => {}
                    Err(e) => tracing::debug!(%key, error = %e, "repair of a record deferred"),
                }
                lock(&inner.work.repair).running.remove(&key);
            }
        })
        .await;
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    inner
        .metrics
        .gauge("mictlanx_router_under_replicated_objects")
        .set(load(&tally.under) as f64);
    let round = RepairRound {
        started_at_ns,
        finished_at_ns: now_ns(),
        examined: load(&tally.examined),
        under_replicated: load(&tally.under),
        repaired: load(&tally.repaired),
        failed: load(&tally.failed),
        deletes_applied: load(&tally.deletes),
        bytes_copied: load(&tally.bytes),
    };
    let settled = std::mem::take(&mut *lock(&tally.settled));
    (round, listed, settled)
}

/// Every key the round must look at: the attention set, the next keys of each running drain (see
/// [`drain::list`]), and the objects of dead holders.
async fn candidates(inner: &Arc<Inner>) -> (BTreeSet<String>, Vec<drain::Listed>) {
    let mut keys = BTreeSet::new();
    let mut cursor = lock(&inner.work.repair).attention_cursor.take();
    loop {
        let Ok(page) = inner
            .state
            .st(inner.state.store.attention(cursor.clone(), 500))
            .await
        else {
            break;
        };
        keys.extend(page.keys);
        cursor = page.next;
        if cursor.is_none() || keys.len() >= MAX_PER_ROUND {
            break;
        }
    }
    lock(&inner.work.repair).attention_cursor = cursor;
    let listed = drain::list(inner, MAX_PER_ROUND.saturating_sub(keys.len()), 500).await;
    for l in &listed {
        keys.extend(l.keys.iter().cloned());
    }
    let now = Instant::now();
    let watched: Vec<String> = {
        let peers = lock(&inner.table.peers);
        peers
            .iter()
            .filter(|(_, e)| {
                !e.liveness.is_live() && e.liveness.down_for(now) >= inner.cfg.repair.delay
            })
            .map(|(id, _)| id.clone())
            .collect()
    };
    for peer in watched {
        let mut cursor = None;
        loop {
            let Ok(page) = inner
                .state
                .st(inner.state.store.peer_objects(&peer, cursor, 500))
                .await
            else {
                break;
            };
            keys.extend(page.keys);
            cursor = page.next;
            if cursor.is_none() || keys.len() >= MAX_PER_ROUND {
                break;
            }
        }
    }
    (keys, listed)
}

/// Repair one record; `true` when it needs nothing more from a drain (no record, not live, or its full
/// factor on peers that are not draining).
async fn repair_key(
    inner: &Arc<Inner>,
    key: &str,
    tally: &Tally,
) -> Result<bool, crate::cluster::RmError> {
    let Some(rec) = objects::get(&inner.state, key).await? else {
        return Ok(true);
    };
    tally.examined.fetch_add(1, Ordering::Relaxed);
    let Some((b, k)) = key.split_once('@') else {
        return Ok(true);
    };
    if rec.tombstone_expired(now_ns()) {
        objects::modify(inner, key, |r| {
            let expired = r.tombstone_expired(now_ns());
            if expired {
                r.deleted_at_ns = None;
            }
            expired
        })
        .await?;
        return Ok(true);
    }
    apply_deletes(inner, &rec, b, k, key, tally).await?;
    if !rec.is_live() {
        return Ok(true);
    }
    let copies = classify(&inner.table, inner.cfg.repair.delay, &rec, Instant::now());
    let want = desired(&rec, &copies);
    if copies.good.len() >= want {
        return Ok(copies.good.len() >= want.max(1));
    }
    tally.under.fetch_add(1, Ordering::Relaxed);
    restore(inner, &rec, &copies, want, b, k, key, tally).await
}

/// Pending deletes (tombstones, stale copies) on the peers that answer now.
async fn apply_deletes(
    inner: &Arc<Inner>,
    rec: &ObjectRecord,
    b: &str,
    k: &str,
    key: &str,
    tally: &Tally,
) -> Result<(), crate::cluster::RmError> {
    if rec.cleanup.is_empty() {
        return Ok(());
    }
    let mut done = Vec::new();
    for (peer_id, bound) in &rec.cleanup {
        let info = lock(&inner.table.peers)
            .get(peer_id)
            .map(|e| (e.info.clone(), e.liveness.is_live()));
        match info {
            None => done.push(peer_id.clone()),
            Some((_, false)) => {}
            Some((peer, true)) => match inner
                .client
                .delete_if_at_most(&peer, b, k, true, *bound)
                .await
            {
                // Gone, absent, or a newer copy that stays: either way this pending delete is over.
                Ok(_)
                | Err(PeerError::NotFound(_))
                | Err(PeerError::Status { status: 409, .. }) => {
                    tally.deletes.fetch_add(1, Ordering::Relaxed);
                    inner
                        .metrics
                        .counter("mictlanx_router_repair_deletes_total")
                        .increment(1);
                    done.push(peer_id.clone());
                }
                Err(e) => tracing::debug!(%peer_id, %key, error = %e, "pending delete deferred"),
            },
        }
    }
    if !done.is_empty() {
        objects::modify(inner, key, |r| {
            let before = r.cleanup.len();
            for p in &done {
                r.cleanup_done(p);
            }
            r.cleanup.len() != before
        })
        .await?;
    }
    Ok(())
}

/// Copy the object to `want - good` new peers and record them; `true` when it has `want` copies now.
#[allow(clippy::too_many_arguments)]
async fn restore(
    inner: &Arc<Inner>,
    rec: &ObjectRecord,
    copies: &Copies,
    want: usize,
    b: &str,
    k: &str,
    key: &str,
    tally: &Tally,
) -> Result<bool, crate::cluster::RmError> {
    let Some(source) = copies.sources.first() else {
        tracing::warn!(%key, "under-replicated with no live copy to repair from");
        return Ok(false);
    };
    let size = match inner.client.get_metadata_copy(source, b, k).await {
        Ok((md, _)) => md.metadata.size,
        Err(e) => {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            return Err(crate::cluster::RmError::Backend(format!(
                "source metadata: {e}"
            )));
        }
    };
    let targets = targets(inner, rec, size, want - copies.good.len());
    if targets.is_empty() {
        // Common in a small space (rf above the number of peers); the gauge shows it, a log line each
        // round would not help.
        tracing::debug!(%key, want, have = copies.good.len(), "no peer can take another copy");
        return Ok(false);
    }
    let mut made = Vec::new();
    for target in targets {
        match copy(inner, source, &target, b, k, rec.version, rec.rf).await {
            Ok(c) => {
                tally.repaired.fetch_add(1, Ordering::Relaxed);
                tally.bytes.fetch_add(c.bytes, Ordering::Relaxed);
                inner
                    .metrics
                    .counter_with("mictlanx_router_repairs_total", &[("result", "done")])
                    .increment(1);
                inner
                    .metrics
                    .counter("mictlanx_router_repair_bytes_total")
                    .increment(c.bytes);
                let mut st = lock(&inner.work.repair);
                for d in &copies.draining {
                    *st.drain_bytes.entry(d.clone()).or_default() += c.bytes;
                }
                made.push((target.peer_id, c.version));
            }
            Err(cause) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                inner
                    .metrics
                    .counter_with("mictlanx_router_repairs_total", &[("result", "failed")])
                    .increment(1);
                tracing::warn!(%key, target = %target.peer_id, %cause, "repair copy failed");
            }
        }
    }
    if made.is_empty() {
        return Ok(false);
    }
    let now = now_ns();
    let dead = copies.dead.clone();
    objects::modify(inner, key, |r| {
        for (peer, version) in &made {
            // Still the current version: a holder; a newer write meanwhile: a stale copy to delete.
            r.adopt(peer, *version, rec.rf, now);
        }
        if made.iter().any(|(p, _)| r.holders.contains_key(p)) {
            for d in &dead {
                r.holders.remove(d);
            }
        }
        true
    })
    .await?;
    tracing::info!(%key, copies = made.len(), "object repaired");
    Ok(copies.good.len() + made.len() >= want.max(1))
}

/// Up to `need` live, non-draining peers that do not hold the object, by placement order.
fn targets(inner: &Inner, rec: &ObjectRecord, size: u64, need: usize) -> Vec<PeerInfo> {
    let candidates: Vec<Candidate> = {
        let peers = lock(&inner.table.peers);
        let draining = lock(&inner.table.draining);
        peers
            .values()
            .filter(|e| e.liveness.is_live())
            .filter(|e| {
                !draining.contains(&e.info.peer_id) && !rec.holders.contains_key(&e.info.peer_id)
            })
            .filter_map(|e| {
                let f = e.liveness.figures.as_ref()?;
                Some(Candidate {
                    peer: e.info.clone(),
                    total_disk: f.total_disk,
                    used_disk: f.used_disk,
                    reserved: 0,
                })
            })
            .collect()
    };
    match placement::plan(&candidates, &[], true, size, need as u32) {
        Ok(plan) => plan.write_set,
        Err(_) => Vec::new(),
    }
}

/// Fold the round into this router's totals and publish the status for the other routers.
async fn publish(inner: &Arc<Inner>, round: RepairRound) {
    {
        let mut st = lock(&inner.work.repair);
        st.totals.rounds += 1;
        st.totals.repaired += round.repaired;
        st.totals.failed += round.failed;
        st.totals.bytes_copied += round.bytes_copied;
        st.totals.deletes_applied += round.deletes_applied;
        st.last = Some(round);
    }
    let status = super::status::repair_status(inner).await;
    let ttl = inner.cfg.repair.interval * 3 + std::time::Duration::from_secs(30);
    if let Ok(doc) = serde_json::to_value(&status) {
        let _ = inner
            .state
            .st(inner
                .state
                .store
                .put_doc("repair/status", Some(doc), Some(ttl)))
            .await;
    }
}

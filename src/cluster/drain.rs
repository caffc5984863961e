//! Draining a peer (`POST /api/v4/peers/{peer_id}/drain`): the peer takes no new placements (on every
//! router: the draining set is refreshed from the store each probe round), and the repair loop copies
//! every object it holds to other peers until each has its full replication factor without it. Progress
//! lives in the store (`drain/{peer}`), so any router reports it and it survives restarts; removing the
//! peer ends the drain.
//!
//! Progress costs no record reads of its own. The total is the size of the peer's index when the drain
//! starts (a count the store keeps). The repair rounds walk the index of each running drain in key order
//! from where the previous round stopped ([`DrainPass`]), and every key they look at is counted settled
//! (its full factor is on other peers, or it is no longer live) or pending, from the record the repair
//! read anyway. A walk that reaches the end of the index with nothing pending finishes the drain; one
//! with keys pending starts over.

use std::collections::HashSet;
use std::sync::Arc;

use super::state::{lock, now_ns, Inner, StateLink};
use super::types::{DrainStatus, RmError};

fn doc_name(peer_id: &str) -> String {
    format!("drain/{peer_id}")
}

/// The leader's walk over one running drain's index (in memory: a new leader starts a new walk).
#[derive(Debug, Default)]
pub struct DrainPass {
    /// The drain this walk belongs to (a restarted drain starts a new walk).
    started_at_ns: u64,
    /// Where the next round goes on in the peer's index (`None` = from the start).
    cursor: Option<String>,
    settled: u64,
    pending: u64,
    /// Keys left pending by the last complete walk.
    last_pending: Option<u64>,
}

/// The keys one round took from a running drain's index, and where the next round goes on.
pub(super) struct Listed {
    pub peer_id: String,
    pub keys: Vec<String>,
    pub next: Option<String>,
}

/// Start (or restart) draining a registered peer.
pub(super) async fn start(inner: &Arc<Inner>, peer_id: &str) -> Result<DrainStatus, RmError> {
    if !lock(&inner.table.peers).contains_key(peer_id) {
        return Err(RmError::NotFound(format!("Peer {peer_id} not found")));
    }
    let total = inner
        .state
        .st(inner.state.store.peer_object_count(peer_id))
        .await?;
    let status = DrainStatus {
        peer_id: peer_id.to_string(),
        state: "running".into(),
        objects_total: total,
        objects_done: 0,
        bytes_copied: 0,
        started_at_ns: now_ns(),
        finished_at_ns: None,
    };
    save(&inner.state, &status).await?;
    lock(&inner.table.draining).insert(peer_id.to_string());
    tracing::info!(peer_id, objects = total, "drain started");
    inner.work.repair_kick.notify_one();
    Ok(status)
}

pub(super) async fn status(
    state: &StateLink,
    peer_id: &str,
) -> Result<Option<DrainStatus>, RmError> {
    let doc = state.st(state.store.doc(&doc_name(peer_id))).await?;
    Ok(doc.and_then(|d| serde_json::from_value(d).ok()))
}

pub(super) async fn all(state: &StateLink) -> Result<Vec<DrainStatus>, RmError> {
    let docs = state.st(state.store.docs("drain/")).await?;
    Ok(docs
        .into_iter()
        .filter_map(|(_, d)| serde_json::from_value(d).ok())
        .collect())
}

async fn save(state: &StateLink, status: &DrainStatus) -> Result<(), RmError> {
    let doc = serde_json::to_value(status).map_err(|e| RmError::Backend(e.to_string()))?;
    state
        .st(state
            .store
            .put_doc(&doc_name(&status.peer_id), Some(doc), None))
        .await
}

/// A removed peer's drain is over.
pub(super) async fn forget(inner: &Inner, peer_id: &str) {
    let _ = inner
        .state
        .st(inner.state.store.put_doc(&doc_name(peer_id), None, None))
        .await;
    lock(&inner.table.draining).remove(peer_id);
}

/// The draining set from the store (every router; placement skips these peers).
pub(super) async fn refresh(inner: &Inner) {
    if let Ok(drains) = all(&inner.state).await {
        *lock(&inner.table.draining) = drains.into_iter().map(|d| d.peer_id).collect();
    }
}

/// The next keys of every running drain's index, `room` keys at most in all, each drain from where the
/// previous round stopped (leader). Finished drains are not walked again.
pub(super) async fn list(inner: &Arc<Inner>, room: usize, page: usize) -> Vec<Listed> {
    let Ok(drains) = all(&inner.state).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut left = room;
    for d in drains.into_iter().filter(|d| d.state == "running") {
        if left == 0 {
            break;
        }
        let mut cursor = {
            let mut st = lock(&inner.work.repair);
            let pass = st.drains.entry(d.peer_id.clone()).or_default();
            if pass.started_at_ns != d.started_at_ns {
                *pass = DrainPass {
                    started_at_ns: d.started_at_ns,
                    ..DrainPass::default()
                };
            }
            pass.cursor.clone()
        };
        let mut keys = Vec::new();
        loop {
            let Ok(p) = inner
                .state
                .st(inner
                    .state
                    .store
                    .peer_objects(&d.peer_id, cursor.clone(), page))
                .await
            else {
                break;
            };
            keys.extend(p.keys);
            cursor = p.next;
            if cursor.is_none() || keys.len() >= left {
                break;
            }
        }
        left = left.saturating_sub(keys.len());
        out.push(Listed {
            peer_id: d.peer_id,
            keys,
            next: cursor,
        });
    }
    out
}

/// After a repair round (leader): count the keys the round took from each running drain as settled or
/// pending, and publish every running drain's progress; a walk that ends with nothing pending finishes
/// its drain. Reads no record (only the drain documents).
pub(super) async fn update_progress(
    inner: &Arc<Inner>,
    listed: Vec<Listed>,
    settled: &HashSet<String>,
) {
    let Ok(drains) = all(&inner.state).await else {
        return;
    };
    let running: Vec<DrainStatus> = drains
        .into_iter()
        .filter(|d| d.state == "running")
        .collect();
    let mut updates = Vec::new();
    {
        let mut st = lock(&inner.work.repair);
        st.drains
            .retain(|peer, _| running.iter().any(|d| &d.peer_id == peer));
        for l in listed {
            let Some(pass) = st.drains.get_mut(&l.peer_id) else {
                continue;
            };
            let ok = l.keys.iter().filter(|k| settled.contains(*k)).count() as u64;
            pass.settled += ok;
            pass.pending += l.keys.len() as u64 - ok;
            pass.cursor = l.next;
            if pass.cursor.is_none() {
                pass.last_pending = Some(pass.pending);
                pass.settled = 0;
                pass.pending = 0;
            }
        }
        for mut d in running {
            let Some((last_pending, settled)) = st
                .drains
                .get(&d.peer_id)
                .filter(|p| p.started_at_ns == d.started_at_ns)
                .map(|p| (p.last_pending, p.settled))
            else {
                continue;
            };
            let before = d.clone();
            let total = d.objects_total;
            let from_last = last_pending.map_or(0, |p| total.saturating_sub(p));
            d.objects_done = d.objects_done.max(from_last).max(settled).min(total);
            d.bytes_copied += st.drain_bytes.remove(&d.peer_id).unwrap_or(0);
            if last_pending == Some(0) {
                d.objects_done = total;
                d.state = "done".into();
                d.finished_at_ns = Some(now_ns());
                tracing::info!(peer_id = %d.peer_id, objects = total, "drain done");
            }
            if d != before {
                updates.push(d);
            }
        }
    }
    for d in updates {
        let _ = save(&inner.state, &d).await;
    }
}

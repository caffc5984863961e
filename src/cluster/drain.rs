//! Draining a peer (`POST /api/v4/peers/{peer_id}/drain`): the peer takes no new placements (on every
//! router: the draining set is refreshed from the store each probe round), and the repair loop copies
//! every object it holds to other peers until each has its full replication factor without it. Progress
//! lives in the store (`drain/{peer}`), so any router reports it and it survives restarts; removing the
//! peer ends the drain.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use super::copies::{classify, desired};
use super::state::{lock, now_ns, Inner, StateLink};
use super::types::{DrainStatus, RmError};

fn doc_name(peer_id: &str) -> String {
    format!("drain/{peer_id}")
}

/// Every key the peer holds.
async fn peer_keys(state: &StateLink, peer_id: &str) -> Result<Vec<String>, RmError> {
    let mut keys = BTreeSet::new();
    let mut cursor = None;
    loop {
        let page = state
            .st(state.store.peer_objects(peer_id, cursor, 1000))
            .await?;
        keys.extend(page.keys);
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    Ok(keys.into_iter().collect())
}

/// Start (or restart) draining a registered peer.
pub(super) async fn start(inner: &Arc<Inner>, peer_id: &str) -> Result<DrainStatus, RmError> {
    if !lock(&inner.table.peers).contains_key(peer_id) {
        return Err(RmError::NotFound(format!("Peer {peer_id} not found")));
    }
    let total = peer_keys(&inner.state, peer_id).await?.len() as u64;
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

/// After a repair round (leader): count, for every running drain, the objects whose full factor is on
/// other peers; a drain with all of them is done.
pub(super) async fn update_progress(inner: &Arc<Inner>) {
    let Ok(drains) = all(&inner.state).await else {
        return;
    };
    for mut d in drains.into_iter().filter(|d| d.state == "running") {
        let Ok(keys) = peer_keys(&inner.state, &d.peer_id).await else {
            continue;
        };
        let mut done = 0u64;
        let now = Instant::now();
        for chunk in keys.chunks(500) {
            let Ok(records) = inner.state.st(inner.state.store.objects(chunk)).await else {
                continue;
            };
            for rec in records.into_iter().flatten().map(|v| v.value) {
                let copies = classify(&inner.table, inner.cfg.repair.delay, &rec, now);
                if !rec.is_live() || copies.good.len() >= desired(&rec, &copies).max(1) {
                    done += 1;
                }
            }
        }
        let added = lock(&inner.work.repair)
            .drain_bytes
            .remove(&d.peer_id)
            .unwrap_or(0);
        d.objects_total = keys.len() as u64;
        d.objects_done = done;
        d.bytes_copied += added;
        if done == d.objects_total {
            d.state = "done".into();
            d.finished_at_ns = Some(now_ns());
            tracing::info!(peer_id = %d.peer_id, objects = done, "drain done");
        }
        let _ = save(&inner.state, &d).await;
    }
}

//! Registry changes (`replica-manager.md` §3): add and remove peers, always persisting `peers.json` first
//! and changing memory only once the write succeeded; new or changed peers are probed at once.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::health;
use super::registry::PeersDoc;
use super::state::{lock, Inner, PeerEntry};
use super::types::{PeerInfo, RmError};

async fn persist(inner: &Inner, doc: PeersDoc) -> Result<(), RmError> {
    let file = inner.file.clone();
    tokio::task::spawn_blocking(move || file.save(&doc))
        .await
        .map_err(|e| RmError::Backend(e.to_string()))?
        .map_err(|e| RmError::Backend(e.to_string()))
}

/// Upsert by `peer_id` (later duplicates win), persist, then register and probe new or changed peers.
pub(super) async fn add_peers(inner: &Arc<Inner>, peers: Vec<PeerInfo>) -> Result<(), RmError> {
    let mut unique: BTreeMap<String, PeerInfo> = BTreeMap::new();
    for p in peers {
        unique.insert(p.peer_id.clone(), p);
    }
    let list: Vec<PeerInfo> = unique.into_values().collect();
    let mut doc = inner.doc.lock().await;
    let next = doc.with_added(&list);
    if next != *doc {
        persist(inner, next.clone()).await?;
        *doc = next;
    }
    let changed: Vec<PeerInfo> = {
        let mut reg = lock(&inner.peers);
        let changed: Vec<PeerInfo> = list
            .into_iter()
            .filter(|p| reg.get(&p.peer_id).is_none_or(|e| e.info != *p))
            .collect();
        for p in &changed {
            reg.insert(p.peer_id.clone(), PeerEntry::new(p.clone()));
        }
        changed
    };
    drop(doc);
    for p in changed {
        tracing::info!(peer_id = %p.peer_id, url = %p.base_url(inner.client.test_mode()), "peer registered");
        health::set_available_gauge(&p.peer_id, false);
        let i = inner.clone();
        inner.spawn(async move { health::probe_peer(&i, p, true).await });
    }
    Ok(())
}

/// Remove the registered ones among `peer_ids` (unknown ids are ignored), persist, then drop them and
/// every replica record they had. Returns how many were removed.
pub(super) async fn remove_peers(
    inner: &Arc<Inner>,
    peer_ids: Vec<String>,
) -> Result<usize, RmError> {
    let mut doc = inner.doc.lock().await;
    let mut ids: Vec<String> = {
        let reg = lock(&inner.peers);
        peer_ids
            .into_iter()
            .filter(|id| reg.contains_key(id))
            .collect()
    };
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(0);
    }
    let next = doc.with_removed(&ids);
    persist(inner, next.clone()).await?;
    *doc = next;
    let mut reg = lock(&inner.peers);
    let mut map = lock(&inner.map);
    for id in &ids {
        reg.remove(id);
        map.remove_peer(id);
        health::set_available_gauge(id, false);
        tracing::info!(peer_id = %id, "peer removed");
    }
    inner.update_map_gauge(map.len());
    Ok(ids.len())
}

/// Writes the current document once more (shutdown); failures are logged.
pub(super) async fn persist_now(inner: &Inner) {
    let doc = inner.doc.lock().await.clone();
    if let Err(e) = persist(inner, doc).await {
        tracing::warn!(error = %e, "could not persist the peer registry at shutdown");
    }
}

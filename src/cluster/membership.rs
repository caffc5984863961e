//! Registry changes (`docs/replica-manager.md` §3) through the store, and this router's view of the registry:
//! effective = (seed ∪ added, added winning) − removed, refreshed from the store every probe round so a
//! peer added or removed through any router is used, or dropped, by every router within one interval.
//! New or changed peers start "not probed yet" and are probed at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::liveness;
use super::record::ObjectRecord;
use super::state::{lock, Inner, PeerEntry};
use super::types::{PeerInfo, RmError};
use super::{objects, registry::PeersDoc};

/// Upsert by `peer_id` (later duplicates win), persist, then register and probe new or changed peers.
pub(super) async fn add_peers(inner: &Arc<Inner>, peers: Vec<PeerInfo>) -> Result<(), RmError> {
    let mut unique: BTreeMap<String, PeerInfo> = BTreeMap::new();
    for p in peers {
        unique.insert(p.peer_id.clone(), p);
    }
    let list: Vec<PeerInfo> = unique.into_values().collect();
    inner
        .state
        .st(inner.state.store.change_registry(list, Vec::new()))
        .await?;
    refresh(inner).await
}

/// Remove the registered ones among `peer_ids` (unknown ids are ignored), persist, then drop them and
/// every replica record they had. Returns how many were removed.
pub(super) async fn remove_peers(
    inner: &Arc<Inner>,
    peer_ids: Vec<String>,
) -> Result<usize, RmError> {
    let doc = inner.state.st(inner.state.store.registry()).await?;
    let effective = doc.effective(&inner.table.seed);
    let mut ids: Vec<String> = peer_ids
        .into_iter()
        .filter(|id| effective.contains_key(id))
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(0);
    }
    inner
        .state
        .st(inner.state.store.change_registry(Vec::new(), ids.clone()))
        .await?;
    refresh(inner).await?;
    let gone: BTreeSet<String> = ids.iter().cloned().collect();
    for id in &ids {
        lock(&inner.work.digests).forget(id);
        forget_peer_records(inner, id, &gone).await?;
        super::drain::forget(inner, id).await;
        tracing::info!(peer_id = %id, "peer removed");
    }
    Ok(ids.len())
}

/// Drop every record and pending delete of a removed peer, through its index: pages of the index are
/// gathered up to [`FORGET_PAGE`] keys (a page of a sharded index may hold few) and each batch is changed
/// at once ([`objects::modify_many`]), so the router holds one batch and the store takes one atomic write
/// per batch instead of one per key.
async fn forget_peer_records(
    inner: &Arc<Inner>,
    peer_id: &str,
    gone: &BTreeSet<String>,
) -> Result<(), RmError> {
    let mut cursor = None;
    let mut keys = Vec::new();
    loop {
        let page = inner
            .state
            .st(inner.state.store.peer_objects(peer_id, cursor, FORGET_PAGE))
            .await?;
        keys.extend(page.keys);
        cursor = page.next;
        if keys.len() >= FORGET_PAGE || cursor.is_none() {
            keys.sort();
            keys.dedup();
            if !keys.is_empty() {
                objects::modify_many(inner, &keys, |_, rec: &mut ObjectRecord| {
                    rec.forget_peers(gone)
                })
                .await?;
            }
            keys.clear();
        }
        if cursor.is_none() {
            return Ok(());
        }
    }
}

/// Keys of a removed peer's index changed per batch.
const FORGET_PAGE: usize = 500;

/// Re-read the registry from the store and apply it to this router's view.
pub(super) async fn refresh(inner: &Arc<Inner>) -> Result<(), RmError> {
    let epoch = inner.state.st(inner.state.store.epoch()).await?;
    if lock(&inner.state.epoch)
        .as_ref()
        .is_some_and(|e| *e != epoch)
    {
        // The store lost its data since this router last looked: `check_epoch` republishes first.
        return Ok(());
    }
    let doc = inner.state.st(inner.state.store.registry()).await?;
    apply_doc(inner, &doc);
    *lock(&inner.table.last_registry) = Some(doc);
    Ok(())
}

/// Make this router's view the effective registry of `doc`; probe what is new or changed.
pub(super) fn apply_doc(inner: &Arc<Inner>, doc: &PeersDoc) {
    let effective = doc.effective(&inner.table.seed);
    let (changed, removed) = {
        let mut reg = lock(&inner.table.peers);
        let removed: Vec<String> = reg
            .keys()
            .filter(|id| !effective.contains_key(*id))
            .cloned()
            .collect();
        for id in &removed {
            reg.remove(id);
        }
        let changed: Vec<PeerInfo> = effective
            .into_values()
            .filter(|p| reg.get(&p.peer_id).is_none_or(|e| e.info != *p))
            .collect();
        for p in &changed {
            reg.insert(p.peer_id.clone(), PeerEntry::new(p.clone()));
        }
        (changed, removed)
    };
    for id in removed {
        liveness::set_available_gauge(&inner.metrics, &id, false);
    }
    for p in changed {
        tracing::info!(peer_id = %p.peer_id, url = %p.base_url(inner.client.test_mode()), "peer registered");
        liveness::set_available_gauge(&inner.metrics, &p.peer_id, false);
        let i = inner.clone();
        inner
            .work
            .spawn(async move { liveness::probe_peer(&i, p, true).await });
    }
}

/// The store lost its data (a Redis restarted empty): publish this router's last view of the registry
/// again so runtime-added peers are not forgotten.
pub(super) async fn republish(inner: &Arc<Inner>) {
    let Some(doc) = lock(&inner.table.last_registry).clone() else {
        return;
    };
    let result = inner
        .state
        .st(inner
            .state
            .store
            .change_registry(doc.added.clone(), doc.removed.clone()))
        .await;
    match result {
        Ok(()) => tracing::warn!(
            added = doc.added.len(),
            removed = doc.removed.len(),
            "state store lost its data: peer registry published again"
        ),
        Err(e) => tracing::warn!(error = %e, "could not publish the peer registry again"),
    }
}

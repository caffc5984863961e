//! Read-through discovery (`replica-manager.md` §7.4): on a replica-map miss, ask every live peer for the
//! key's metadata, judge the copies found by their versions (`record_found`) and return the peers that
//! hold the current version, best first, with their metadata. Stale and deleted copies are never returned.

use super::types::{FoundCopy, PeerInfo};
use super::ReplicaManager;
use crate::peer_client::{CopyInfo, GetMetadataResponse, PeerClient, PeerError};

/// Asks every live peer not in `exclude` (concurrently, bounded, within the fan-out deadline) for `b@k`'s
/// metadata.
/// Holders of the current version are recorded and returned in read order (§6); peers answering 404 lose
/// their record. Never used by placement.
pub async fn discover(
    rm: &dyn ReplicaManager,
    client: &PeerClient,
    b: &str,
    k: &str,
    exclude: &[String],
) -> Vec<(PeerInfo, GetMetadataResponse)> {
    let live = match rm.get_peers().await {
        Ok(v) => v.available,
        Err(e) => {
            tracing::warn!(error = %e, "discovery could not list peers");
            return Vec::new();
        }
    };
    let asked: Vec<PeerInfo> = live
        .into_iter()
        .filter(|p| !exclude.contains(&p.peer_id))
        .collect();
    type Answer = Result<(GetMetadataResponse, CopyInfo), PeerError>;
    let calls = asked.into_iter().map(|p| async move {
        let r = client.get_metadata_copy(&p, b, k).await;
        (p, r)
    });
    // A stalled peer is left out at the fan-out deadline (it did not answer, like one that failed).
    let answers: Vec<(PeerInfo, Answer)> = crate::datapath::within_deadline(
        calls,
        client.fanout_concurrency(),
        client.fanout_deadline(),
    )
    .await;

    let mut found: Vec<(PeerInfo, GetMetadataResponse)> = Vec::new();
    let mut copies = Vec::new();
    for (peer, result) in answers {
        match result {
            Ok((meta, copy)) => {
                copies.push(FoundCopy {
                    peer_id: peer.peer_id.clone(),
                    version: copy.version,
                    rf: copy.rf,
                });
                found.push((peer, meta));
            }
            Err(PeerError::NotFound(_)) => {
                if let Err(e) = rm
                    .delete_replicas(b, k, Some(vec![peer.peer_id.clone()]))
                    .await
                {
                    tracing::warn!(error = %e, "discovery could not drop a stale record");
                }
            }
            Err(e) => {
                tracing::debug!(peer_id = %peer.peer_id, error = %e, "discovery: peer did not answer")
            }
        }
    }
    let current = if copies.is_empty() {
        Vec::new()
    } else {
        match rm.record_found(b, k, copies).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!(error = %e, "discovery could not record holders");
                Vec::new()
            }
        }
    };
    found.retain(|(p, _)| current.contains(&p.peer_id));
    let result = if found.is_empty() {
        "not_found"
    } else {
        "found"
    };
    client
        .metrics()
        .counter_with("mictlanx_router_discovery_total", &[("result", result)])
        .increment(1);
    if found.is_empty() {
        return found;
    }
    let order = rm
        .choose_read_replica(b, k)
        .await
        .map(|p| p.peers)
        .unwrap_or_default();
    let rank = |id: &str| {
        order
            .iter()
            .position(|p| p.peer_id == id)
            .unwrap_or(usize::MAX)
    };
    found.sort_by(|(a, _), (b, _)| {
        rank(&a.peer_id)
            .cmp(&rank(&b.peer_id))
            .then_with(|| a.peer_id.cmp(&b.peer_id))
    });
    found
}

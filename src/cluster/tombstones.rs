//! Expiry of finished tombstones: a tombstone whose deletes all went through is kept
//! [`TOMBSTONE_RETENTION_NS`](super::record::TOMBSTONE_RETENTION_NS) against copies nobody knew of, then
//! dropped. The stores keep such tombstones apart from the attention set, ordered by expiry
//! ([`super::store::StateStore::expired_tombstones`]), so they never delay repairs and the leader finds
//! the expired ones without looking at the others.

use std::sync::Arc;

use super::objects;
use super::state::{now_ns, Inner};

/// Tombstones read and dropped at a time.
const PAGE: usize = 500;
/// Most tombstones one round drops (the rest wait for the next round).
const MAX_PER_ROUND: usize = 20_000;

/// Drop the tombstones past their retention; how many were dropped. Leader only.
pub(super) async fn expire(inner: &Arc<Inner>) -> usize {
    let mut dropped = 0;
    while dropped < MAX_PER_ROUND {
        let now = now_ns();
        let Ok(keys) = inner
            .state
            .st(inner.state.store.expired_tombstones(now, PAGE))
            .await
        else {
            break;
        };
        let found = keys.len();
        let expire = |_: &str, r: &mut super::record::ObjectRecord| {
            let expired = r.tombstone_expired(now);
            if expired {
                r.deleted_at_ns = None;
            }
            expired
        };
        if let Err(e) = objects::modify_many(inner, &keys, expire).await {
            tracing::debug!(error = %e, "tombstone expiry deferred");
            break;
        }
        dropped += found;
        if found < PAGE {
            break;
        }
    }
    if dropped > 0 {
        tracing::info!(dropped, "expired tombstones dropped");
    }
    dropped
}

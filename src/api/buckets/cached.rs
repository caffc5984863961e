//! The byte cache on the read path, coherent across routers: an entry is served only while the object is
//! still at the version it was filled at. Another router may have written, deleted, updated or disabled
//! the object; every such change moves its version in the cluster state, and a hit checks it (one cheap
//! read: in process with the embedded backend, one Redis `HGET` with Redis). No hit is served while the
//! cluster state cannot be read. Metadata entries (issue 16) follow the same rule.

use crate::app::AppState;
use crate::cache::{CachedBall, CachedMeta, FillStamp};
use crate::error::ApiError;
use crate::model::Metadata;

/// The entry of `b@k` if it is still the object's current version; a stale entry is dropped.
pub async fn current(s: &AppState, b: &str, k: &str) -> Result<Option<CachedBall>, ApiError> {
    let combined = format!("{b}@{k}");
    let Some(hit) = s.cache.get(&combined) else {
        return Ok(None);
    };
    match s.rm.object_version(b, k).await? {
        Some(v) if v == hit.version => Ok(Some(hit)),
        _ => {
            s.cache.invalidate(&combined);
            Ok(None)
        }
    }
}

/// The stamp a fill of `b@k` starts with: its cache generation and `version`, both taken before the
/// first peer request (`None` when the cache is off).
pub fn stamp(s: &AppState, b: &str, k: &str, version: u64) -> Option<FillStamp> {
    s.cache
        .fill_stamp(&format!("{b}@{k}"))
        .map(|st| st.with_version(version))
}

/// The cached metadata of `b@k` if the object is still at the version it was cached at; a stale entry is
/// dropped (with the key's bytes, which are just as stale). Same rule as [`current`]: one version read, and
/// nothing is served while the cluster state cannot be read.
pub async fn current_meta(s: &AppState, b: &str, k: &str) -> Result<Option<CachedMeta>, ApiError> {
    let combined = format!("{b}@{k}");
    let Some(hit) = s.cache.get_meta(&combined) else {
        return Ok(None);
    };
    match s.rm.object_version(b, k).await? {
        Some(v) if v == hit.version => Ok(Some(hit)),
        _ => {
            s.cache.invalidate(&combined);
            Ok(None)
        }
    }
}

/// Caches the metadata a read found under `stamp` (taken before its first peer request); a no-op when the
/// cache is off or the key was invalidated since the stamp.
pub fn fill_meta(s: &AppState, stamp: Option<FillStamp>, metadata: &Metadata, peer_id: &str) {
    if let Some(stamp) = stamp {
        s.cache.finish_meta_fill(stamp, metadata.clone(), peer_id);
    }
}

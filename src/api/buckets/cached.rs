//! The byte cache on the read path, coherent across routers: an entry is served only while the object is
//! still at the version it was filled at. Another router may have written, deleted, updated or disabled
//! the object; every such change moves its version in the cluster state, and a hit checks it (one cheap
//! read: in process with the embedded backend, one Redis `HGET` with Redis). No hit is served while the
//! cluster state cannot be read. Metadata entries follow the same rule.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::api::state::AppState;
use crate::cache::{CachedBall, CachedMeta, FillStamp};
use crate::datapath::Start;
use mictlanx_http::error::ApiError;
use mictlanx_proto::model::Metadata;

use super::models::{GetMetadataOut, GetSizeByKey};

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
pub async fn current_meta(
    s: &AppState,
    b: &str,
    k: &str,
) -> Result<Option<Arc<CachedMeta>>, ApiError> {
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

/// Caches the metadata a read found under `stamp` (taken before its first peer request), with the metadata
/// GET's answer serialised once; a no-op when the cache is off or the key was invalidated since the stamp.
pub fn fill_meta(s: &AppState, stamp: Option<FillStamp>, metadata: &Metadata, peer_id: &str) {
    let Some(stamp) = stamp else {
        return;
    };
    let out = GetMetadataOut {
        service_time: 0,
        peer_id: peer_id.to_string(),
        local_peer_id: peer_id.to_string(),
        metadata: metadata.clone(),
    };
    let Ok(answer) = serde_json::to_vec(&out) else {
        return;
    };
    s.cache
        .finish_meta_fill(stamp, out.metadata, peer_id, Bytes::from(answer));
}

/// The metadata GET's answer from a cache entry (serialised at the fill): no peer was asked, so
/// `service_time` is 0 and `local_peer_id` is the `peer_id`.
pub fn metadata_answer(hit: &CachedMeta) -> Response {
    let body = match &hit.answer {
        Some(answer) => answer.clone(),
        None => {
            let out = GetMetadataOut {
                service_time: 0,
                peer_id: hit.peer_id.clone(),
                local_peer_id: hit.peer_id.clone(),
                metadata: hit.metadata.clone(),
            };
            match serde_json::to_vec(&out) {
                Ok(json) => Bytes::from(json),
                Err(e) => return ApiError::internal(e.to_string()).into_response(),
            }
        }
    };
    let mut res = Body::from(body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// Where a metadata GET's peer read starts and the stamp its answer is cached under. With the cache on,
/// the read plan is taken first: its version, read before the first peer request, tags the entry.
pub async fn metadata_read_start(
    s: &AppState,
    b: &str,
    k: &str,
) -> Result<(Start, Option<FillStamp>), ApiError> {
    if !s.cache.is_enabled() {
        return Ok((Start::Ask, None));
    }
    let plan = s.rm.choose_read_replica(b, k).await?;
    let stamp = stamp(s, b, k, plan.version);
    Ok((Start::Known(plan), stamp))
}

/// The size check (#11) from a valid metadata entry: every live holder of the object at the cached version
/// holds that version, so each answers the cached size. `None` (ask the peers) without a valid entry, for
/// a disabled object, or when no holder is live.
pub async fn sizes_from_cache(
    s: &AppState,
    b: &str,
    k: &str,
) -> Result<Option<Vec<GetSizeByKey>>, ApiError> {
    let Some(hit) = current_meta(s, b, k).await? else {
        return Ok(None);
    };
    if hit.metadata.is_disabled {
        return Ok(None);
    }
    let plan = s.rm.choose_read_replica(b, k).await?;
    // The plan's version is read after the entry was checked: equal means no change landed meanwhile.
    if plan.peers.is_empty() || plan.version != hit.version {
        return Ok(None);
    }
    let mut sizes: Vec<GetSizeByKey> = plan
        .peers
        .into_iter()
        .map(|peer| GetSizeByKey {
            bucket_id: b.to_string(),
            key: k.to_string(),
            peer_id: peer.peer_id,
            size: hit.metadata.size,
        })
        .collect();
    sizes.sort_by(|x, y| x.peer_id.cmp(&y.peer_id));
    Ok(Some(sizes))
}

//! Endpoints that change or remove stored objects (`docs/router-api.md` #14 update metadata, #19 disable, #23
//! delete by key, #24 delete by ball id). Each one invalidates the affected cache entries (P4).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use super::models::{DeletedByBallIdResponse, DeletedByKeyResponse, PutMetadata, PutMetadataDto};
use super::put::peer_body;
use crate::api::state::AppState;
use crate::datapath::live_holders;
use crate::deadline::within_deadline;
use crate::ids::{BallId, BucketId, ObjectKey};
use crate::peer_client::{PeerError, PutOptions};
use crate::validate::{self, LaxJson};
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::routing::PathParams;

fn fanout(s: &AppState) -> usize {
    s.config.peer_io.fanout_concurrency.max(1)
}

fn deadline(s: &AppState) -> Duration {
    s.config.peer_io.fanout_deadline
}

/// Update an object's metadata
///
/// Sends the new metadata to every available holder of the object named by the path. The body is the
/// metadata upload body; its `bucket_id` and `key` must be present but the path decides the object.
#[utoipa::path(
    post,
    path = "/api/v4/u/buckets/{bucket_id}/{key}",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("key" = String, Path, description = "Object key (canonical form is used)", example = "hello"),
    ),
    request_body = PutMetadataDto,
    responses(
        (status = 204, description = "At least one holder took the new metadata"),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 404, description = "No available holder"),
        (status = 413, description = "JSON body above 16 MiB"),
        (status = 422, description = "A body field of the wrong type or missing"),
        (status = 502, description = "Every holder refused"),
    )
)]
pub async fn update_metadata(
    State(s): State<AppState>,
    params: PathParams,
    LaxJson(body): LaxJson,
) -> ApiResult<StatusCode> {
    let fields = PutMetadata::fields(&body)?;
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let k = ObjectKey::parse(params.required("key")?)?;
    let dto = fields.addressed(b.clone(), k.clone())?;
    let (b, k) = (b.as_str(), k.as_str());
    let holders = live_holders(s.rm.as_ref(), &s.peers, b, k)
        .await
        .map_err(ApiError::from)?;
    if holders.live.is_empty() {
        s.cache.invalidate(&format!("{b}@{k}"));
        return Err(ApiError::not_found(format!("{b}@{k} not found")));
    }
    let version = s.rm.next_version(b, k).await?;
    let body = peer_body(&dto, b, k);
    let opts = PutOptions {
        rf: None,
        version: Some(version),
    };
    let calls = holders.live.into_iter().map(|peer| {
        let (client, body) = (s.peers.clone(), body.clone());
        async move {
            let answer = client
                .put_metadata_with(&peer, b, &body, None, "1", opts)
                .await;
            (peer.peer_id, answer)
        }
    });
    let answers = within_deadline(calls, fanout(&s), deadline(&s)).await;
    s.cache.invalidate(&format!("{b}@{k}"));
    let mut applied = Vec::new();
    for (peer_id, answer) in answers {
        match answer {
            Ok(_) => applied.push(peer_id),
            Err(e) => tracing::warn!(%peer_id, error = %e, "update metadata failed on a holder"),
        }
    }
    if applied.is_empty() {
        return Err(ApiError::bad_gateway(format!(
            "Update failed on every replica of {b}@{k}"
        )));
    }
    // Holders that did not apply the update keep older metadata: they stop being served.
    s.rm.record_update(b, k, applied, version).await?;
    s.cache.invalidate(&format!("{b}@{k}"));
    Ok(StatusCode::NO_CONTENT)
}

/// Disable an object
///
/// Marks the object disabled on every available holder: reads then answer 404 while its metadata stays
/// readable with `is_disabled: true`. Answers 204 whatever the holders answered.
#[utoipa::path(
    post,
    path = "/api/v4/buckets/{bucket_id}/{key}/disable",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("key" = String, Path, description = "Object key (canonical form is used)", example = "hello"),
    ),
    responses(
        (status = 204, description = "Disabled on the available holders (if any)"),
        (status = 400, description = "An id that keeps no character in canonical form"),
    )
)]
pub async fn disable(State(s): State<AppState>, params: PathParams) -> ApiResult<StatusCode> {
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let k = ObjectKey::parse(params.required("key")?)?;
    let (b, k) = (b.as_str(), k.as_str());
    let holders = live_holders(s.rm.as_ref(), &s.peers, b, k)
        .await
        .map_err(ApiError::from)?;
    if holders.live.is_empty() {
        s.cache.invalidate(&format!("{b}@{k}"));
        return Ok(StatusCode::NO_CONTENT);
    }
    let version = s.rm.next_version(b, k).await?;
    let calls = holders.live.into_iter().map(|peer| {
        let client = s.peers.clone();
        async move {
            let answer = client.disable_versioned(&peer, b, k, version).await;
            (peer.peer_id, answer)
        }
    });
    let answers = within_deadline(calls, fanout(&s), deadline(&s)).await;
    let mut applied = Vec::new();
    for (peer_id, answer) in answers {
        match answer {
            Ok(()) => applied.push(peer_id),
            Err(e) => tracing::warn!(%peer_id, error = %e, "disable failed on a holder"),
        }
    }
    if !applied.is_empty() {
        s.rm.record_update(b, k, applied, version).await?;
    }
    s.cache.invalidate(&format!("{b}@{k}"));
    Ok(StatusCode::NO_CONTENT)
}

/// Delete an object
///
/// Deletes the object on every available holder and empties its cache entry.
#[utoipa::path(
    delete,
    path = "/api/v4/buckets/{bucket_id}/{key}",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("key" = String, Path, description = "Object key (canonical form is used)", example = "hello"),
        ("Force" = Option<String>, Header, description = "An integer or `true`/`false`, passed to the peers as 0/1 (default 1)", example = "1"),
    ),
    responses(
        (status = 200, description = "Deleted; `n_deletes` counts the replicas removed", body = DeletedByKeyResponse),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 404, description = "No replica holds the object"),
        (status = 422, description = "`Force` is not an integer or a boolean"),
        (status = 502, description = "Every holder failed"),
    )
)]
pub async fn delete_by_key(
    State(s): State<AppState>,
    params: PathParams,
    headers: HeaderMap,
) -> ApiResult<Json<DeletedByKeyResponse>> {
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let k = ObjectKey::parse(params.required("key")?)?;
    let force = validate::header_flag(&headers, "force", true)?;
    let (b, k) = (b.as_str(), k.as_str());
    let combined = format!("{b}@{k}");
    let holders = live_holders(s.rm.as_ref(), &s.peers, b, k)
        .await
        .map_err(ApiError::from)?;
    if holders.recorded == 0 {
        s.cache.invalidate(&combined);
        return Err(ApiError::not_found(format!("{b}@{k} not found")));
    }
    let version = s.rm.next_version(b, k).await?;
    let calls = holders.live.into_iter().map(|peer| {
        let client = s.peers.clone();
        async move {
            let answer = client.delete_if_at_most(&peer, b, k, force, version).await;
            (peer.peer_id, answer)
        }
    });
    // Holders that do not confirm within the deadline (stalled, failed, or not live) get a tombstone:
    // the delete is retried on them when they answer again, and their copies are never served meanwhile.
    let answers = within_deadline(calls, fanout(&s), deadline(&s)).await;
    let mut n_deletes = 0;
    let mut confirmed = Vec::new();
    for (peer_id, answer) in answers {
        match answer {
            Ok(n) => {
                n_deletes += n;
                confirmed.push(peer_id);
            }
            Err(PeerError::NotFound(_)) => confirmed.push(peer_id),
            Err(e) => {
                tracing::warn!(%peer_id, error = %e, "delete failed on a holder; it keeps a tombstone")
            }
        }
    }
    let recorded = s.rm.record_delete(b, k, confirmed, version).await;
    s.cache.invalidate(&combined);
    recorded?;
    Ok(Json(DeletedByKeyResponse {
        n_deletes,
        key: k.to_string(),
    }))
}

/// Delete every chunk of a chunked object
///
/// Asks every available peer to delete all keys of the chunked object (`{ball_id}_0`, `{ball_id}_1`, …).
/// Answers 200 with the count, which may be 0.
#[utoipa::path(
    delete,
    path = "/api/v4/buckets/{bucket_id}/bid/{ball_id}",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("ball_id" = String, Path, description = "The chunked object's id", example = "report"),
        ("Force" = Option<String>, Header, description = "An integer or `true`/`false`, passed to the peers as 0/1 (default 1)", example = "1"),
    ),
    responses(
        (status = 200, description = "The number of chunks deleted (may be 0)", body = DeletedByBallIdResponse),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 422, description = "`Force` is not an integer or a boolean"),
    )
)]
pub async fn delete_by_ball(
    State(s): State<AppState>,
    params: PathParams,
    headers: HeaderMap,
) -> ApiResult<Json<DeletedByBallIdResponse>> {
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let ball = BallId::parse(params.required("ball_id")?)?;
    let force = validate::header_flag(&headers, "force", true)?;
    let (b, ball) = (b.as_str(), ball.as_str());
    let peers = s.rm.get_peers().await.map_err(ApiError::from)?.available;
    let groups = peers.into_iter().map(|peer| {
        let client = s.peers.clone();
        async move {
            let keys = match client.ball_group(&peer, b, ball).await {
                Ok(group) => group.balls.into_iter().map(|m| m.key).collect(),
                Err(e) => {
                    tracing::warn!(peer_id = %peer.peer_id, error = %e, "ball group failed on a peer");
                    Vec::new()
                }
            };
            (peer, keys)
        }
    });
    let listed = within_deadline(groups, fanout(&s), deadline(&s)).await;
    let pairs: Vec<_> = listed
        .into_iter()
        .flat_map(|(peer, keys)| keys.into_iter().map(move |k| (peer.clone(), k)))
        .collect();
    let mut confirmed: BTreeMap<String, Vec<String>> =
        pairs.iter().map(|(_, k)| (k.clone(), Vec::new())).collect();
    let deletes = pairs.into_iter().map(|(peer, key)| {
        let client = s.peers.clone();
        async move {
            let answer = client.delete(&peer, b, &key, force).await;
            (peer.peer_id, key, answer)
        }
    });
    let answers = within_deadline(deletes, fanout(&s), deadline(&s)).await;
    let mut n_deletes = 0;
    for (peer_id, key, answer) in answers {
        match answer {
            Ok(n) => {
                n_deletes += n;
                confirmed.entry(key).or_default().push(peer_id);
            }
            Err(PeerError::NotFound(_)) => confirmed.entry(key).or_default().push(peer_id),
            Err(e) => tracing::warn!(%peer_id, %key, error = %e, "chunk delete failed on a peer"),
        }
    }
    // Every listed chunk is deleted for readers; holders that did not confirm keep a tombstone.
    for (key, peers) in confirmed {
        let version = s.rm.next_version(b, &key).await?;
        let recorded = s.rm.record_delete(b, &key, peers, version).await;
        s.cache.invalidate(&format!("{b}@{key}"));
        recorded?;
    }
    Ok(Json(DeletedByBallIdResponse {
        n_deletes,
        ball_id: ball.to_string(),
    }))
}

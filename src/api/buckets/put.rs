//! Put metadata, phase 1 of a write (`docs/router-api.md` #15, §8.1 steps 1–3): validate, place, open one
//! upload task per write-set peer (concurrently), store the task group.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::deadline::within_deadline;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use super::models::{no_available_peers, PutMetadata, PutMetadataDto, PutMetadataResponse};
use crate::api::state::AppState;
use crate::cluster::{PeerInfo, PlacementError, TaskGroup, TaskX};
use crate::datapath::fanout::{join_failures, ReplicaFailure};
use crate::ids::BucketId;
use crate::peer_client::{PeerPutMetadata, PutOptions};
use crate::validate::LaxJson;
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::routing::PathParams;

/// The peer body of a metadata write (`docs/peer-api.md` §3.1) for canonical `bucket`/`key`.
pub(super) fn peer_body(dto: &PutMetadata, bucket: &str, key: &str) -> PeerPutMetadata {
    PeerPutMetadata {
        key: key.to_string(),
        size: dto.size,
        checksum: dto.checksum.clone(),
        tags: dto.tags.clone(),
        producer_id: dto.producer_id.clone(),
        content_type: dto.content_type.clone(),
        ball_id: dto.ball_id.as_str().to_string(),
        bucket_id: bucket.to_string(),
        is_disabled: dto.is_disabled,
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Start an upload (step 1 of 2: metadata)
///
/// Chooses the peers that will hold the object (`replication_factor` of them), opens an upload on each
/// and answers the upload's id in `tasks_ids[0]`. Step 2 sends the bytes to
/// `POST /api/v4/buckets/data/{task_id}/chunked`. The body's `bucket_id` must name the bucket of the
/// path (400 otherwise). A 404 with `"code": 666` means every available peer already holds the key, unless
/// `Overwrite` is truthy: then the upload replaces the object on its live holders (the old bytes stay
/// readable until the new ones commit).
#[utoipa::path(
    post,
    path = "/api/v4/buckets/{bucket_id}/metadata",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used); the body's `bucket_id` must match", example = "demo"),
        ("Update" = Option<String>, Header, description = "Passed to the peers unchanged (default \"0\")", example = "0"),
        ("Overwrite" = Option<String>, Header, description = "`1` or `true`: replace the object when every peer holds it, instead of the 666 answer (default \"0\")", example = "1"),
    ),
    request_body = PutMetadataDto,
    responses(
        (status = 200, description = "Upload opened on at least one peer", body = PutMetadataResponse),
        (status = 400, description = "An id that keeps no character in canonical form, or a body bucket other than the path's"),
        (status = 404, description = "Every available peer already holds the key (`detail.code` = 666; never with `Overwrite`, unless no peer is available)", content_type = "application/json",
            example = json!({"detail": {"msg": "No available peers.", "suggestion": "Add more peers or delete replicas.",
                "bucket_id": "demo", "key": "hello", "replicas": ["mictlanx-peer-0"], "code": 666}})),
        (status = 413, description = "JSON body above 16 MiB, or `size` above MICTLANX_ROUTER_MAX_OBJECT_SIZE"),
        (status = 422, description = "A body field of the wrong type or missing"),
        (status = 502, description = "Every chosen peer refused the upload"),
        (status = 503, description = "The cluster state is unreachable (Redis backend); retry"),
        (status = 507, description = "No peer has room for `size` bytes"),
    )
)]
pub async fn put_metadata(
    State(s): State<AppState>,
    params: PathParams,
    headers: HeaderMap,
    LaxJson(body): LaxJson,
) -> ApiResult<Json<PutMetadataResponse>> {
    let started = Instant::now();
    let fields = PutMetadata::fields(&body)?;
    let path_bucket = BucketId::parse(params.required("bucket_id")?)?;
    let dto = fields.canonical()?;
    crate::validate::object_size(dto.size, s.config.security.max_object_size)?;
    if path_bucket.as_str() != dto.bucket_id.as_str() {
        return Err(ApiError::bad_request(format!(
            "Bucket ID mismatch: {} != {}",
            path_bucket, dto.bucket_id
        )));
    }
    let (b, k) = (dto.bucket_id.as_str(), dto.key.as_str());
    let update = headers
        .get("update")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("0")
        .to_string();

    // `Overwrite` truthy: replace the object even when every peer holds it (its live holders take the new
    // version; the old one stays readable until the new one commits)
    let overwrite = headers
        .get("overwrite")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true"));
    let (rf_asked, size) = (dto.replication_factor, dto.size);
    let placed = if overwrite {
        s.rm.place_replacing(b, k, size, rf_asked).await
    } else {
        s.rm.place(b, k, size, rf_asked).await
    };
    let placement = match placed {
        Ok(p) => p,
        Err(PlacementError::AllHold { holders }) => return Err(no_available_peers(b, k, holders)),
        Err(PlacementError::NoCapacity { size }) => {
            return Err(ApiError::insufficient_storage(format!(
                "No peer has enough free space for {size} bytes"
            )))
        }
        Err(PlacementError::Backend(e)) => return Err(ApiError::internal(e)),
        Err(PlacementError::StateUnavailable(e)) => return Err(ApiError::state_unavailable(e)),
    };
    let group_id = nanoid::nanoid!();
    let peer_body = peer_body(&dto, b, k);
    let rf = dto.replication_factor.max(1);
    // With `Update` truthy the peers rewrite an existing object's metadata in place at once: that is an
    // update, so it gets a version of its own (and the holders that took it are recorded below).
    let in_place = matches!(update.trim().to_ascii_lowercase().as_str(), "1" | "true");
    let update_version = if in_place {
        Some(s.rm.next_version(b, k).await?)
    } else {
        None
    };
    let opts = PutOptions {
        rf: Some(rf),
        version: update_version,
    };
    let calls =
        placement
            .write_set
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, peer): (usize, PeerInfo)| {
                let client = s.peers.clone();
                let body = peer_body.clone();
                let (group_id, update) = (group_id.clone(), update.clone());
                async move {
                    let r = client
                        .put_metadata_with(&peer, b, &body, Some(&group_id), &update, opts)
                        .await;
                    (i, peer, r)
                }
            });
    // Bounded by the fan-out deadline like every fan-out: a peer stopped a moment ago (health has not
    // marked it down yet) costs the deadline, not the peer timeout, and counts as a failed replica.
    let mut answers: Vec<_> = within_deadline(
        calls,
        s.config.peer_io.fanout_concurrency,
        s.config.peer_io.fanout_deadline,
    )
    .await;
    answers.sort_by_key(|(i, _, _)| *i);

    let mut tasks = Vec::new();
    let mut failures = Vec::new();
    for (i, peer) in placement.write_set.iter().enumerate() {
        if !answers.iter().any(|(j, _, _)| *j == i) {
            tracing::warn!(peer_id = %peer.peer_id, "put metadata: no answer within the fan-out deadline");
            s.metrics
                .counter_with(
                    "mictlanx_router_replica_write_failures_total",
                    &[("phase", "metadata")],
                )
                .increment(1);
            failures.push(ReplicaFailure {
                peer_id: peer.peer_id.clone(),
                cause: "no answer within the fan-out deadline".into(),
            });
        }
    }
    for (_, peer, result) in answers {
        match result {
            Ok(resp) => tasks.push(TaskX {
                task_id: resp.task_id,
                group_id: group_id.clone(),
                operation: "PUT".into(),
                bucket_id: b.to_string(),
                key: k.to_string(),
                size: dto.size,
                peers: vec![peer.peer_id.clone()],
                content_type: dto.content_type.clone(),
                status: "NEW".into(),
            }),
            Err(e) => {
                tracing::warn!(peer_id = %peer.peer_id, error = %e, "put metadata failed on a peer");
                s.metrics
                    .counter_with(
                        "mictlanx_router_replica_write_failures_total",
                        &[("phase", "metadata")],
                    )
                    .increment(1);
                failures.push(ReplicaFailure {
                    peer_id: peer.peer_id.clone(),
                    cause: e.to_string(),
                });
            }
        }
    }
    if tasks.is_empty() {
        if let Err(e) = s.rm.release_reservation(&placement.reservation_id).await {
            tracing::warn!(error = %e, "could not release a reservation");
        }
        return Err(ApiError::bad_gateway(format!(
            "Put metadata failed on every selected peer: {}",
            join_failures(&failures)
        )));
    }
    let replicas: Vec<String> = tasks.iter().flat_map(|t| t.peers.iter().cloned()).collect();
    if let Some(version) = update_version {
        // Holders that did not take the in-place update keep older metadata: no longer current.
        s.rm.record_update(b, k, replicas.clone(), version).await?;
        s.cache.invalidate(&format!("{b}@{k}"));
    }
    let created = now_ns();
    let ttl = u64::try_from(s.config.replica.task_ttl.as_nanos()).unwrap_or(u64::MAX);
    let group = TaskGroup {
        group_id: group_id.clone(),
        operation: "PUT".into(),
        bucket_id: b.to_string(),
        key: k.to_string(),
        size: dto.size,
        content_type: dto.content_type.clone(),
        tasks,
        reservation_id: Some(placement.reservation_id.clone()),
        created_at_ns: created,
        expires_at_ns: created.saturating_add(ttl),
        claimed_until_ns: None,
        claim_token: 0,
        claim_owner: None,
        rf,
        meta: Some(peer_body),
    };
    if let Err(e) = s.rm.put_task_group(group).await {
        let _ = s.rm.release_reservation(&placement.reservation_id).await;
        return Err(e.into());
    }
    Ok(Json(PutMetadataResponse {
        key: k.to_string(),
        service_time: started.elapsed().as_secs_f64(),
        tasks_ids: vec![group_id],
        bucket_id: b.to_string(),
        replicas,
        extra: serde_json::Map::new(),
    }))
}

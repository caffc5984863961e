//! Read-only metadata endpoints (`docs/router-api.md` #11 size, #13 object metadata, #22 chunks of a ball;
//! the bucket listing #12 is [`super::listing`]) and the "newest wins" merge of per-peer listings. Fan-outs
//! answer within
//! `MICTLANX_ROUTER_FANOUT_DEADLINE` with what the live peers said; the metadata GET is hedged.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::models::{BallMetadata, GetMetadataOut, GetSizeByKey};
use crate::api::state::AppState;
use crate::cluster::PeerInfo;
use crate::datapath::{live_holders, read_hedged, Attempt, Hedging, ReadFailure, ReadKind};
use crate::deadline::{within_deadline, within_deadline_settling};
use crate::ids::{BallId, BucketId, ObjectKey};
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::routing::PathParams;
use mictlanx_proto::model::Metadata;
use mictlanx_proto::units::format_size;

/// One entry per key: the greatest integer `tags.updated_at` wins (missing = −1); on a tie the entry of
/// the smallest `peer_id`. `listings` may come in any order.
pub fn newest_per_key(mut listings: Vec<(String, Vec<Metadata>)>) -> Vec<Metadata> {
    listings.sort_by(|a, b| a.0.cmp(&b.0));
    let mut winners: BTreeMap<String, Metadata> = BTreeMap::new();
    for (_, balls) in listings {
        for ball in balls {
            match winners.get(&ball.key) {
                Some(current) if current.updated_at() >= ball.updated_at() => {}
                _ => {
                    winners.insert(ball.key.clone(), ball);
                }
            }
        }
    }
    winners.into_values().collect()
}

/// Chunk order of #22: integer `tags.index` ascending (missing or non-integer last), then key.
pub fn sort_chunks(chunks: &mut [Metadata]) {
    chunks.sort_by(|a, b| {
        let ka = (a.index().is_none(), a.index().unwrap_or(0));
        let kb = (b.index().is_none(), b.index().unwrap_or(0));
        ka.cmp(&kb).then_with(|| a.key.cmp(&b.key))
    });
}

/// Drops objects the router knows were deleted: a holder that missed the delete (its tombstone is still
/// pending) may list its old copy until the delete reaches it.
async fn without_deleted(s: &AppState, b: &str, balls: Vec<Metadata>) -> ApiResult<Vec<Metadata>> {
    let keys: Vec<String> = balls.iter().map(|m| m.key.clone()).collect();
    let deleted: std::collections::HashSet<String> =
        s.rm.deleted_keys(b, keys).await?.into_iter().collect();
    if deleted.is_empty() {
        return Ok(balls);
    }
    Ok(balls
        .into_iter()
        .filter(|m| !deleted.contains(&m.key))
        .collect())
}

fn fanout(s: &AppState) -> usize {
    s.config.peer_io.fanout_concurrency.max(1)
}

async fn live_peers(s: &AppState) -> ApiResult<Vec<PeerInfo>> {
    s.rm.get_peers()
        .await
        .map(|v| v.available)
        .map_err(ApiError::from)
}

/// Size of an object on each replica
///
/// Asks every available holder for its copy's size; the list is sorted by peer id and may be empty.
#[utoipa::path(
    get,
    path = "/api/v4/buckets/{bucket_id}/{key}/size",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("key" = String, Path, description = "Object key (canonical form is used)", example = "hello"),
    ),
    responses(
        (status = 200, description = "One entry per replica that answered", body = Vec<GetSizeByKey>,
            example = json!([{"bucket_id": "demo", "key": "hello", "peer_id": "mictlanx-peer-0", "size": 12}])),
        (status = 400, description = "An id that keeps no character in canonical form"),
    )
)]
pub async fn size(
    State(s): State<AppState>,
    params: PathParams,
) -> ApiResult<Json<Vec<GetSizeByKey>>> {
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let k = ObjectKey::parse(params.required("key")?)?;
    let (b, k) = (b.as_str(), k.as_str());
    if let Some(sizes) = super::cached::sizes_from_cache(&s, b, k).await? {
        return Ok(Json(sizes));
    }
    let holders = live_holders(s.rm.as_ref(), &s.peers, b, k)
        .await
        .map_err(|_| ApiError::internal(format!("Uknown error: {b}@{k}")))?;
    let calls = holders.live.into_iter().map(|peer| {
        let client = s.peers.clone();
        async move {
            let started = Instant::now();
            let answer = client.size(&peer, b, k).await;
            (peer.peer_id, answer, started.elapsed())
        }
    });
    // Every holder answers for its own copy, so a size is never hedged; once one holder answered, the
    // others get the adaptive delay of size answers more, and at most the fan-out deadline in all.
    let answers = within_deadline_settling(
        calls,
        s.config.peer_io.fanout_concurrency.max(1),
        s.config.peer_io.fanout_deadline,
        s.hedger.delay(ReadKind::Size),
        |(_, answer, _)| answer.is_ok(),
    )
    .await;
    let mut sizes = Vec::new();
    for (peer_id, answer, latency) in answers {
        match answer {
            Ok(x) => {
                s.hedger.record(ReadKind::Size, latency);
                sizes.push(GetSizeByKey {
                    bucket_id: x.bucket_id,
                    key: x.key,
                    peer_id: x.peer_id,
                    size: x.size,
                });
            }
            Err(e) => tracing::warn!(%peer_id, error = %e, "size failed on a replica"),
        }
    }
    sizes.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
    Ok(Json(sizes))
}

/// Metadata of an object
///
/// The metadata from the first holder that answers (size, checksum, tags, content type …), or, with the
/// router cache on, from the cache while the object is unchanged (then `service_time` is 0). A disabled
/// object is returned with `is_disabled: true`. The headers the MictlanX client sends are accepted and
/// ignored.
#[utoipa::path(
    get,
    path = "/api/v4/buckets/{bucket_id}/metadata/{key}",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("key" = String, Path, description = "Object key (canonical form is used)", example = "hello"),
        ("Consistency-Model" = Option<String>, Header, description = "Accepted and ignored (default `LB`)"),
        ("Peer-Id" = Option<String>, Header, description = "Accepted and ignored"),
        ("Force-Get" = Option<String>, Header, description = "Accepted and ignored"),
        ("Chunk-Size" = Option<String>, Header, description = "Accepted and ignored"),
    ),
    responses(
        (status = 200, description = "The object's metadata and the peer that answered", body = GetMetadataOut),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 404, description = "No replica holds the object"),
        (status = 502, description = "Every replica failed"),
        (status = 503, description = "The object's current holders are all down, or the cluster state is unreachable; retry after `Retry-After`"),
    )
)]
pub async fn object_metadata(State(s): State<AppState>, params: PathParams) -> ApiResult<Response> {
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let k = ObjectKey::parse(params.required("key")?)?;
    let (b, k) = (b.as_str(), k.as_str());
    // served from the router cache while the object is at the cached version.
    if let Some(hit) = super::cached::current_meta(&s, b, k).await? {
        return Ok(super::cached::metadata_answer(&hit));
    }
    let (start, stamp) = super::cached::metadata_read_start(&s, b, k).await?;
    let hedge = Hedging {
        hedger: &s.hedger,
        kind: ReadKind::Metadata,
    };
    let found = read_hedged(s.rm.as_ref(), &s.peers, b, k, start, Some(hedge), |c| {
        let client = s.peers.clone();
        async move {
            match c.metadata {
                Some(md) => Attempt::Done(md),
                None => match client.get_metadata(&c.peer, b, k).await {
                    Ok(md) => Attempt::Done(md),
                    Err(e) => Attempt::from_peer_error(&e),
                },
            }
        }
    })
    .await;
    match found {
        Ok(md) => {
            super::cached::fill_meta(&s, stamp, &md.metadata, &md.peer_id);
            let local_peer_id = if md.local_peer_id.is_empty() {
                md.peer_id.clone()
            } else {
                md.local_peer_id
            };
            Ok(Json(GetMetadataOut {
                service_time: md.service_time,
                peer_id: md.peer_id,
                local_peer_id,
                metadata: md.metadata,
            })
            .into_response())
        }
        Err(ReadFailure::NoCandidates) => Err(ApiError::not_found("No available peers")),
        Err(ReadFailure::NotFound) => Err(ApiError::not_found(format!(
            "No metadata found for {b}@{k}"
        ))),
        Err(ReadFailure::Faulted(_)) => Err(ApiError::bad_gateway(format!(
            "No metadata found for {b}@{k}: every replica failed"
        ))),
        Err(ReadFailure::Unavailable { .. }) => Err(super::get::unavailable(b, k)),
        Err(ReadFailure::State(e)) => Err(e.into()),
    }
}

/// Metadata of every chunk of a chunked object
///
/// The chunks (`{ball_id}_0`, `{ball_id}_1`, …) found on the available peers, each once, sorted by
/// `tags.index`, with their total size.
#[utoipa::path(
    get,
    path = "/api/v4/buckets/{bucket_id}/metadata/{ball_id}/chunks",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("ball_id" = String, Path, description = "The chunked object's id", example = "report"),
    ),
    responses(
        (status = 200, description = "The chunks, sorted by index", body = BallMetadata),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 404, description = "No available peer, or no chunk found"),
    )
)]
pub async fn chunks(
    State(s): State<AppState>,
    params: PathParams,
) -> ApiResult<Json<BallMetadata>> {
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let ball = BallId::parse(params.required("ball_id")?)?;
    let (b, ball) = (b.as_str(), ball.as_str());
    let peers = live_peers(&s).await?;
    if peers.is_empty() {
        return Err(ApiError::not_found(
            "No found available peers, try again later.",
        ));
    }
    let calls = peers.into_iter().map(|peer| {
        let client = s.peers.clone();
        async move {
            (
                peer.peer_id.clone(),
                client.ball_group(&peer, b, ball).await,
            )
        }
    });
    let answers = within_deadline(calls, fanout(&s), s.config.peer_io.fanout_deadline).await;
    let mut listings = Vec::new();
    for (peer_id, answer) in answers {
        match answer {
            Ok(group) => listings.push((peer_id, group.balls)),
            Err(e) => tracing::warn!(%peer_id, error = %e, "ball group failed on a peer"),
        }
    }
    let mut chunks = without_deleted(&s, b, newest_per_key(listings)).await?;
    if chunks.is_empty() {
        return Err(ApiError::not_found(format!("{b}@{ball} not found")));
    }
    sort_chunks(&mut chunks);
    let size_bytes: u64 = chunks.iter().map(|c| c.size).sum();
    let checksum = chunks[0]
        .tags
        .get("full_checksum")
        .cloned()
        .unwrap_or_default();
    Ok(Json(BallMetadata {
        bucket_id: b.to_string(),
        ball_id: ball.to_string(),
        size: format_size(size_bytes),
        size_bytes,
        checksum,
        chunks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(key: &str, updated_at: Option<&str>, index: Option<&str>, size: u64) -> Metadata {
        let mut tags = BTreeMap::new();
        if let Some(u) = updated_at {
            tags.insert("updated_at".to_string(), u.to_string());
        }
        if let Some(i) = index {
            tags.insert("index".to_string(), i.to_string());
        }
        Metadata {
            key: key.into(),
            size,
            checksum: String::new(),
            tags,
            content_type: "application/octet-stream".into(),
            producer_id: String::new(),
            ball_id: String::new(),
            bucket_id: "b".into(),
            is_disabled: false,
        }
    }

    #[test]
    fn newest_wins_and_ties_go_to_the_smallest_peer() {
        let merged = newest_per_key(vec![
            (
                "p2".into(),
                vec![md("a", Some("5"), None, 2), md("b", Some("7"), None, 2)],
            ),
            (
                "p1".into(),
                vec![md("a", Some("9"), None, 1), md("b", Some("7"), None, 1)],
            ),
            (
                "p3".into(),
                vec![md("a", Some("x"), None, 3), md("c", None, None, 0)],
            ),
        ]);
        let keys: Vec<_> = merged.iter().map(|m| (m.key.as_str(), m.size)).collect();
        assert_eq!(keys, vec![("a", 1), ("b", 1), ("c", 0)]);
    }

    #[test]
    fn chunks_sort_by_integer_index_then_key() {
        let mut chunks = vec![
            md("x_10", None, Some("10"), 1),
            md("x_2", None, Some("2"), 1),
            md("z", None, None, 1),
            md("y", None, Some("bad"), 1),
            md("x_0", None, Some("0"), 1),
        ];
        sort_chunks(&mut chunks);
        let keys: Vec<_> = chunks.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, vec!["x_0", "x_2", "x_10", "y", "z"]);
    }
}

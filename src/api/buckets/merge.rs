//! Merge (`docs/router-api.md` #20, §8.3): one object streamed from the chunks `{ball_id}_{i}` of a ball. Every
//! chunk's location and size is resolved first (concurrently, bounded), then one 200 with `Content-Length`
//! = Σ sizes streams the chunks in index order, each from the cache or a peer (hedged, failover before that
//! chunk's first byte, ranged continuation on another holder after it; a failure no holder can continue
//! aborts the response), filling the cache per chunk.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::StreamExt;

use super::download::{content_disposition, first_non_empty, streamed_response, DownloadInputs};
use crate::api::state::AppState;
use crate::cache::{CachedBall, FillStamp};
use crate::cluster::PeerInfo;
use crate::datapath::{
    abort_client, read_hedged, relay_bytes, relay_peer_body, Attempt, BodySender, CacheFill,
    Hedging, ReadFailure, ReadKind, Resume, Start, Upstream,
};
use crate::ids::{BallId, BucketId};
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::routing::PathParams;
use mictlanx_proto::model::Metadata;

/// Where one chunk's bytes come from.
enum Source {
    Cached(CachedBall),
    Peer { peer: PeerInfo, metadata: Metadata },
}

struct Chunk {
    key: String,
    size: u64,
    source: Source,
    /// The key's cache generation before its metadata was asked (see `BallCache::fill_stamp`).
    stamp: Option<FillStamp>,
}

/// P3, metadata only: the first holder whose metadata answered (disabled objects move on).
async fn locate(s: &AppState, b: &str, key: &str) -> Result<(PeerInfo, Metadata), ReadFailure> {
    let hedge = Hedging {
        hedger: &s.hedger,
        kind: ReadKind::Metadata,
    };
    read_hedged(
        s.rm.as_ref(),
        &s.peers,
        b,
        key,
        Start::Ask,
        Some(hedge),
        |c| {
            let client = s.peers.clone();
            async move {
                let md = match c.metadata {
                    Some(md) => md,
                    None => match client.get_metadata(&c.peer, b, key).await {
                        Ok(md) => md,
                        Err(e) => return Attempt::from_peer_error(&e),
                    },
                };
                if md.metadata.is_disabled {
                    Attempt::Disabled
                } else {
                    Attempt::Done((c.peer, md.metadata))
                }
            }
        },
    )
    .await
}

async fn resolve(s: &AppState, b: &str, ball: &str, i: u64, forced: bool) -> ApiResult<Chunk> {
    let key = format!("{ball}_{i}");
    if !forced {
        if let Some(hit) = super::cached::current(s, b, &key).await? {
            let size = hit.bytes.len() as u64;
            return Ok(Chunk {
                key,
                size,
                source: Source::Cached(hit),
                stamp: None,
            });
        }
    }
    let version = if s.cache.is_enabled() {
        s.rm.object_version(b, &key).await?.unwrap_or(0)
    } else {
        0
    };
    let stamp = super::cached::stamp(s, b, &key, version);
    match locate(s, b, &key).await {
        Ok((peer, metadata)) => Ok(Chunk {
            size: metadata.size,
            key,
            source: Source::Peer { peer, metadata },
            stamp,
        }),
        Err(ReadFailure::State(e)) => Err(e.into()),
        Err(ReadFailure::Unavailable { .. }) => Err(super::get::unavailable(b, &key)),
        Err(_) => Err(ApiError::not_found(format!("Chunk {key} not found"))),
    }
}

/// Download a chunked object as one stream
///
/// A chunked object `B` is stored as keys `B_0`, `B_1`, … (what the MictlanX client writes). The router
/// finds every chunk first (404 if one is missing), then streams them in order as one answer whose
/// `Content-Length` is the sum of their sizes.
#[utoipa::path(
    get,
    path = "/api/v4/buckets/{bucket_id}/{ball_id}/merge",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("ball_id" = String, Path, description = "The chunked object's id; its chunks are the keys `{ball_id}_{i}`", example = "report"),
        ("content_type" = Option<String>, Query, description = "Content-Type of the answer instead of the stored one"),
        ("filename" = Option<String>, Query, description = "File name for `Content-Disposition` (with `attachment=true`)"),
        ("attachment" = Option<String>, Query, description = "`true`, `1`, `yes`, `on` … send `Content-Disposition: attachment`", example = "false"),
        ("Force-Get" = Option<String>, Header, description = "An integer or `true`/`false`; non-zero skips the cache (default 1)", example = "1"),
        ("Chunk-Size" = Option<String>, Header, description = "A size such as `256kb`; read and checked, not used"),
        ("Peer-Id" = Option<String>, Header, description = "Peer to read the first chunk's metadata from"),
    ),
    responses(
        (status = 200, description = "The chunks' bytes in order", content_type = "*/*"),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 404, description = "The first chunk, the chunk count or one of the chunks was not found"),
        (status = 422, description = "A header or query parameter that cannot be read"),
        (status = 502, description = "Every replica of a chunk failed"),
    )
)]
pub async fn merge(
    State(s): State<AppState>,
    params: PathParams,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> ApiResult<Response> {
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let ball = BallId::parse(params.required("ball_id")?)?;
    let DownloadInputs {
        query: q,
        piece_size,
        forced,
    } = DownloadInputs::parse(raw_query.as_deref(), &headers, true)?;
    let (b, ball) = (b.as_str(), ball.as_str());
    let key0 = format!("{ball}_0");

    let pinned = headers
        .get("peer-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let first = match pinned {
        Some(peer_id) => {
            let peer =
                s.rm.get_peer(peer_id)
                    .await
                    .map_err(|_| ApiError::not_found("No available peer; try again later."))?;
            s.peers
                .get_metadata(&peer, b, &key0)
                .await
                .map(|md| md.metadata)
                .ok()
        }
        None => locate(&s, b, &key0).await.ok().map(|(_, md)| md),
    };
    let first = first.ok_or_else(|| ApiError::not_found("Could not fetch metadata."))?;
    let n = first
        .tags
        .get("num_chunks")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::not_found("Invalid number of chunks."))? as u64;

    let concurrency = s.config.peer_io.fanout_concurrency.max(1);
    let resolved: Vec<ApiResult<Chunk>> = futures::stream::iter(0..n)
        .map(|i| resolve(&s, b, ball, i, forced))
        .buffered(concurrency)
        .collect()
        .await;
    let chunks = resolved.into_iter().collect::<ApiResult<Vec<Chunk>>>()?;
    let total: u64 = chunks.iter().map(|c| c.size).sum();

    let content_type = first_non_empty([
        Some(q.content_type.as_str()),
        Some(first.content_type.as_str()),
    ])
    .unwrap_or("application/octet-stream")
    .to_string();
    let name = first_non_empty([
        Some(q.filename.as_str()),
        first.tags.get("fullname").map(String::as_str),
    ])
    .unwrap_or(ball)
    .to_string();
    let disposition = q.attachment.then(|| content_disposition(&name));
    let (res, tx) = streamed_response(total, &content_type, disposition);
    let (s2, b2) = (s.clone(), b.to_string());
    tokio::spawn(async move {
        for chunk in chunks {
            if let Err(cause) = stream_chunk(&s2, &b2, chunk, piece_size, &tx).await {
                tracing::warn!(%cause, "merge aborted after the headers");
                abort_client(&tx, cause).await;
                return;
            }
        }
    });
    Ok(res)
}

/// Send one chunk: from memory, or from its holder — hedged, with failover to the other live holders
/// before its first byte and ranged continuation after it. `Err` = the response must be aborted.
async fn stream_chunk(
    s: &AppState,
    b: &str,
    chunk: Chunk,
    piece_size: usize,
    tx: &BodySender,
) -> Result<(), String> {
    let (located, metadata) = match chunk.source {
        Source::Cached(hit) => {
            return relay_bytes(hit.bytes, piece_size, tx, &s.bytes_out_merge)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Source::Peer { peer, metadata } => (peer, metadata),
    };
    let key = chunk.key.as_str();
    // The holder that answered the metadata first, then the other live holders, best first.
    let others =
        s.rm.choose_read_replica(b, key)
            .await
            .unwrap_or_default()
            .peers;
    let first = located.peer_id.clone();
    let mut candidates = vec![located];
    candidates.extend(others.into_iter().filter(|p| p.peer_id != first));
    let hedge = Hedging {
        hedger: &s.hedger,
        kind: ReadKind::Merge,
    };
    let start = Start::Pinned(candidates);
    let found = read_hedged(s.rm.as_ref(), &s.peers, b, key, start, Some(hedge), |c| {
        let client = s.peers.clone();
        async move {
            match client.get_data(&c.peer, b, key).await {
                Ok(resp) => Attempt::Done((c.peer, resp)),
                Err(e) => {
                    tracing::warn!(peer_id = %c.peer.peer_id, error = %e, key, "chunk read failed over");
                    Attempt::from_peer_error(&e)
                }
            }
        }
    })
    .await;
    let (peer, resp) = found.map_err(|e| format!("no replica could serve chunk {key}: {e}"))?;
    let fill = chunk
        .stamp
        .clone()
        .and_then(|stamp| s.cache.begin_fill_stamped(stamp, chunk.size))
        .map(|ticket| CacheFill {
            cache: s.cache.clone(),
            ticket,
            metadata: metadata.clone(),
            content_type: metadata.content_type.clone(),
            peer_id: peer.peer_id.clone(),
        });
    let resume = Resume {
        rm: s.rm.clone(),
        client: s.peers.clone(),
        bucket: b.to_string(),
        key: key.to_string(),
        size: chunk.size,
        stall: Some(s.config.tail.read_stall_timeout).filter(|d| !d.is_zero()),
    };
    let upstream = Upstream::new(resp, peer, 0, chunk.size, Some(resume));
    relay_peer_body(
        upstream,
        chunk.size,
        piece_size,
        fill,
        tx,
        &s.bytes_out_merge,
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

//! Get bytes (`docs/router-api.md` #21, §8.2): cache hit from memory, else a hedged read with failover before
//! the first byte and ranged continuation after it, streamed with `Content-Length`, teed into the cache.
//! A read that needs nothing the data answer's headers do not carry skips the metadata request (`docs/compatibility.md`
//! note 21). A client's single `Range` is served too: from the cache on a hit, else passed to
//! the holder (206 / 416; see [`super::ranged`]).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::download::{
    content_disposition, first_non_empty, header_str, set_headers, DownloadInputs,
};
use super::ranged::{self, Answer, Found};
use crate::api::state::AppState;
use crate::cluster::RmError;
use crate::datapath::{
    read_hedged, relay_stream, CacheFill, Hedging, ReadFailure, ReadKind, Resume, Start, Upstream,
};
use crate::ids::{BucketId, ObjectKey};
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::routing::PathParams;
use mictlanx_proto::model::Metadata;

const NO_CANDIDATE: &str = "No found available replica peer or data, try again later.";

/// 503 with `Retry-After`: the record names holders of the current version, none of them live now.
pub(super) fn unavailable(b: &str, k: &str) -> ApiError {
    ApiError::retry_later(format!(
        "{b}@{k} is unavailable: its current holders are down, try again later"
    ))
}

/// Asks the GET for the object's metadata along with its bytes, as a request extension: only an in-process
/// caller (the S3 facade) can set one, since extensions never cross the wire. The answer (200, 206 or 416)
/// then carries [`ReadMetadata`] in its extensions whenever the metadata describes the bytes it streams.
#[derive(Debug, Clone, Copy)]
pub struct WithMetadata;

/// The object's metadata in the extensions of a GET answer asked [`WithMetadata`]: the version whose bytes
/// the answer streams (the metadata of another size is left out, see [`super::ranged`]).
#[derive(Debug, Clone)]
pub struct ReadMetadata(pub Metadata);

/// Puts `metadata` (when the caller asked for it) into the answer's extensions.
fn with_metadata(mut res: Response, metadata: Option<Metadata>) -> Response {
    if let Some(m) = metadata {
        res.extensions_mut().insert(ReadMetadata(m));
    }
    res
}

/// Download an object
///
/// Streams the object's bytes from the best live replica, or from the router's cache. If a replica fails
/// or stalls before the first byte, the next one is asked (a slow one is hedged); after the first byte the
/// read carries on from another replica at the same offset, so the client still gets the whole object. If
/// no replica can continue, the connection is aborted, so a truncated body is never mistaken for a whole
/// one. `Content-Length` is always set. One byte range (`Range: bytes=a-b`) answers 206.
#[utoipa::path(
    get,
    path = "/api/v4/buckets/{bucket_id}/{key}",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("key" = String, Path, description = "Object key (canonical form is used)", example = "hello"),
        ("content_type" = Option<String>, Query, description = "Content-Type of the answer instead of the stored one"),
        ("filename" = Option<String>, Query, description = "File name for `Content-Disposition` (with `attachment=true`)"),
        ("attachment" = Option<String>, Query, description = "`true`, `1`, `yes`, `on` … send `Content-Disposition: attachment`", example = "false"),
        ("Force-Get" = Option<String>, Header, description = "An integer or `true`/`false`; non-zero skips the cache and reads a replica (default 0)", example = "0"),
        ("Chunk-Size" = Option<String>, Header, description = "Largest piece relayed at once, a size such as `256kb` or `10mb` (default 10mb; 0 = no cap)", example = "256kb"),
        ("Peer-Id" = Option<String>, Header, description = "Read from exactly this peer (empty = any holder)"),
        ("Local-Peer-Id" = Option<String>, Header, description = "Logged only"),
        ("Range" = Option<String>, Header, description = "One byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`); several ranges are ignored (200 with everything)", example = "bytes=0-1023"),
    ),
    responses(
        (status = 200, description = "The object's bytes, with its stored content type", content_type = "*/*"),
        (status = 206, description = "The requested byte range (`Content-Range`)", content_type = "*/*"),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 404, description = "No replica holds the object, or it is disabled"),
        (status = 416, description = "The range selects nothing of the object (`Content-Range: bytes */size`)"),
        (status = 422, description = "A header or query parameter that cannot be read"),
        (status = 502, description = "Every replica failed"),
        (status = 503, description = "The object's current holders are all down, or the cluster state is unreachable (Redis backend); retry after `Retry-After`"),
    )
)]
pub async fn get_object(
    State(s): State<AppState>,
    params: PathParams,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
    asked: Option<Extension<WithMetadata>>,
) -> ApiResult<Response> {
    let wants_metadata = asked.is_some();
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let k = ObjectKey::parse(params.required("key")?)?;
    let DownloadInputs {
        query: q,
        piece_size,
        forced,
    } = DownloadInputs::parse(raw_query.as_deref(), &headers, false)?;
    let (b, k) = (b.as_str(), k.as_str());
    if let Some(local) = header_str(&headers, "local-peer-id") {
        tracing::debug!(local_peer_id = %local, "get data");
    }
    let range = header_str(&headers, "range");
    // The attachment name's fallback, built only for an attachment.
    let default_name = || format!("{b}_{k}");

    if !forced {
        if let Some(hit) = super::cached::current(&s, b, k).await? {
            let content_type = first_non_empty([
                Some(q.content_type.as_str()),
                Some(hit.metadata.content_type.as_str()),
                Some(hit.content_type.as_str()),
            ])
            .unwrap_or("application/octet-stream");
            let tags = &hit.metadata.tags;
            let disposition = q.attachment.then(|| {
                let name = first_non_empty([
                    Some(q.filename.as_str()),
                    tags.get("fullname").map(String::as_str),
                    tags.get("filename").map(String::as_str),
                ]);
                content_disposition(&name.map_or_else(default_name, str::to_string))
            });
            let res = ranged::from_cache(
                (b, k),
                hit.bytes,
                range,
                content_type,
                disposition,
                &s.bytes_out_object,
            );
            return Ok(with_metadata(res, wants_metadata.then_some(hit.metadata)));
        }
    }

    // Before any peer request: the version the fill is tagged with, and the generation that makes the
    // fill a no-op if an invalidation lands meanwhile.
    let (start, version) = match header_str(&headers, "peer-id") {
        Some(peer_id) => match s.rm.get_peer(peer_id).await {
            Ok(peer) => {
                let version = if s.cache.is_enabled() {
                    s.rm.object_version(b, k).await?.unwrap_or(0)
                } else {
                    0
                };
                (Start::Pinned(vec![peer]), version)
            }
            // A registered peer that is down may well hold the object: unavailable, not absent.
            Err(RmError::Unavailable(_)) => return Err(unavailable(b, k)),
            Err(_) => return Err(ApiError::not_found(NO_CANDIDATE)),
        },
        None => {
            let plan = s.rm.choose_read_replica(b, k).await?;
            let version = plan.version;
            (Start::Known(plan), version)
        }
    };
    let pinned = matches!(start, Start::Pinned(_));
    // A ranged read never fills the cache (it has part of the object only).
    let fill_stamp = range
        .is_none()
        .then(|| super::cached::stamp(&s, b, k, version))
        .flatten();
    // The metadata is needed up front only for what the data answer's headers cannot say: the
    // attachment name (tags) and the cache entry. Otherwise the data answer alone decides the response.
    let metadata_first = q.attachment || fill_stamp.is_some() || wants_metadata;
    let hedge = Hedging {
        hedger: &s.hedger,
        kind: ReadKind::Get,
    };
    let found = read_hedged(s.rm.as_ref(), &s.peers, b, k, start, Some(hedge), |c| {
        ranged::attempt(s.peers.clone(), c, (b, k), range, metadata_first)
    })
    .await;
    let Found {
        peer,
        metadata,
        answer,
    } = match found {
        Ok(found) => found,
        Err(ReadFailure::NoCandidates) => return Err(ApiError::not_found(NO_CANDIDATE)),
        Err(ReadFailure::NotFound) => {
            return Err(ApiError::not_found(format!("{b}@{k} not found")))
        }
        Err(ReadFailure::Faulted(_)) => {
            return Err(ApiError::bad_gateway(format!(
                "All replicas of {b}@{k} failed"
            )))
        }
        Err(ReadFailure::Unavailable { .. }) => return Err(unavailable(b, k)),
        Err(ReadFailure::State(e)) => return Err(e.into()),
    };
    let (resp, size, part) = match answer {
        Answer::Bytes { resp, size, part } => (resp, size, part),
        Answer::Unsatisfiable { size } => {
            let res = ranged::unsatisfiable((b, k), size);
            return Ok(with_metadata(res, metadata.filter(|_| wants_metadata)));
        }
    };
    let asked_metadata = metadata.as_ref().filter(|_| wants_metadata).cloned();

    let peer_ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let md_ct = metadata.as_ref().map(|m| m.content_type.as_str());
    let content_type = first_non_empty([Some(q.content_type.as_str()), md_ct, peer_ct.as_deref()])
        .unwrap_or("application/octet-stream")
        .to_string();
    let tag = |name: &str| {
        metadata
            .as_ref()
            .and_then(|m| m.tags.get(name))
            .map(String::as_str)
    };
    let disposition = q.attachment.then(|| {
        let name = first_non_empty([Some(q.filename.as_str()), tag("fullname"), tag("filename")]);
        content_disposition(&name.map_or_else(default_name, str::to_string))
    });
    // A fill always has the metadata: a stamp makes the attempt ask for it.
    let fill = match (fill_stamp, metadata) {
        (Some(stamp), Some(metadata)) => match s.cache.begin_fill_stamped(stamp.clone(), size) {
            Some(ticket) => {
                // What the object itself says, not this request's `content_type` override.
                let content_type =
                    first_non_empty([Some(metadata.content_type.as_str()), peer_ct.as_deref()])
                        .unwrap_or("application/octet-stream")
                        .to_string();
                Some(CacheFill {
                    cache: s.cache.clone(),
                    ticket,
                    metadata,
                    content_type,
                    peer_id: peer.peer_id.clone(),
                })
            }
            // too large for the byte cache, its metadata is still cached (a cached object's
            // entry answers for its metadata itself).
            None => {
                super::cached::fill_meta(&s, Some(stamp), &metadata, &peer.peer_id);
                None
            }
        },
        _ => None,
    };
    // A read pinned to one peer (`Peer-Id`) has nowhere else to continue.
    let resume = (!pinned).then(|| Resume {
        rm: s.rm.clone(),
        client: s.peers.clone(),
        bucket: b.to_string(),
        key: k.to_string(),
        size,
        stall: Some(s.config.tail.read_stall_timeout).filter(|d| !d.is_zero()),
    });
    let (first, end) = part.map_or((0, size), |r| (r.start, r.end + 1));
    tracing::debug!(peer_id = %peer.peer_id, size, first, end, "get data streaming");
    let upstream = Upstream::new(resp, peer, first, end, resume);
    let body = Body::from_stream(relay_stream(
        upstream,
        end - first,
        piece_size,
        fill,
        s.bytes_out_object.clone(),
    ));
    let mut res = body.into_response();
    set_headers(res.headers_mut(), end - first, &content_type, disposition);
    ranged::set_range_headers(&mut res, part, size);
    Ok(with_metadata(res, asked_metadata))
}

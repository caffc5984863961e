//! Get bytes (`router-api.md` #21, §8.2): cache hit from memory, else read with failover before the first
//! byte, stream with `Content-Length` = metadata size, tee into the cache. A read that needs nothing the
//! data answer's headers do not carry skips the metadata request (README compatibility note 21). Also the
//! response-header rules shared with merge (#20): content type, `Content-Disposition`, query parameters.

use std::io;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use tokio::sync::mpsc;

use super::OBJECT;
use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::routing::PathParams;
use crate::ids::{BucketId, ObjectKey};
use crate::model::Metadata;
use crate::peer_client::{GetMetadataResponse, PeerClient, PeerError};
use crate::replica::PeerInfo;
use crate::replication::{
    read_with_failover, relay_stream, Attempt, BodySender, CacheFill, ReadFailure, Start,
};
use crate::validate;

/// RFC 5987 `attr-char`: everything else is percent-encoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="{ascii}"` (+ `filename*` for non-ASCII names), `router-api.md` #21.
pub fn content_disposition(name: &str) -> String {
    let mut ascii = String::with_capacity(name.len());
    let mut non_ascii = false;
    for c in name.chars() {
        match c {
            '"' => ascii.push_str("\\\""),
            '\\' => ascii.push_str("\\\\"),
            c if c.is_ascii_control() => ascii.push('_'),
            c if c.is_ascii() => ascii.push(c),
            _ => {
                non_ascii = true;
                ascii.push('_');
            }
        }
    }
    let mut value = format!("attachment; filename=\"{ascii}\"");
    if non_ascii {
        value.push_str("; filename*=UTF-8''");
        value.push_str(&utf8_percent_encode(name, ATTR_CHAR).to_string());
    }
    value
}

/// Query parameters of GET data and merge.
#[derive(Debug, Clone, Default)]
pub struct DownloadQuery {
    pub content_type: String,
    pub filename: String,
    pub attachment: bool,
}

/// The inputs of GET data and merge, validated together so one 422 lists every problem.
#[derive(Debug, Clone)]
pub struct DownloadInputs {
    pub query: DownloadQuery,
    /// `Chunk-Size` in bytes (0 = no cap).
    pub piece_size: usize,
    /// `Force-Get`.
    pub forced: bool,
}

impl DownloadInputs {
    pub fn parse(
        raw_query: Option<&str>,
        headers: &HeaderMap,
        force_default: bool,
    ) -> ApiResult<Self> {
        let mut errors = validate::Errors::new();
        let attachment = errors.take(validate::query_bool(raw_query, "attachment", false), false);
        let piece_size = errors.take(validate::header_size(headers, "chunk-size", 10_000_000), 0);
        let forced = errors.take(
            validate::header_flag(headers, "force-get", force_default),
            force_default,
        );
        errors.finish()?;
        Ok(DownloadInputs {
            query: DownloadQuery {
                content_type: validate::query_str(raw_query, "content_type", ""),
                filename: validate::query_str(raw_query, "filename", ""),
                attachment,
            },
            piece_size: usize::try_from(piece_size).unwrap_or(usize::MAX),
            forced,
        })
    }
}

/// The first non-empty name of `names`.
pub fn first_non_empty<'a>(names: impl IntoIterator<Item = Option<&'a str>>) -> Option<&'a str> {
    names.into_iter().flatten().find(|n| !n.is_empty())
}

/// A 200 whose body is fed by a channel; dropping the sender ends it, an `Err` item aborts it.
pub fn streamed_response(
    len: u64,
    content_type: &str,
    disposition: Option<String>,
) -> (Response, BodySender) {
    let (tx, rx) = mpsc::channel::<Result<Bytes, io::Error>>(8);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut res = Body::from_stream(stream).into_response();
    *res.status_mut() = StatusCode::OK;
    set_headers(res.headers_mut(), len, content_type, disposition);
    (res, tx)
}

/// `type/subtype` of RFC 9110 tokens, parameters after `;` allowed: anything else (a stored or requested
/// `content_type` such as `t`) would be a malformed `Content-Type`, so the answer says octet-stream.
fn is_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    let essence = s.split(';').next().unwrap_or_default().trim();
    essence
        .split_once('/')
        .is_some_and(|(t, sub)| token(t) && token(sub))
}

pub fn set_headers(h: &mut HeaderMap, len: u64, content_type: &str, disposition: Option<String>) {
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let ct = Some(content_type)
        .filter(|ct| is_media_type(ct))
        .and_then(|ct| HeaderValue::from_str(ct).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_TYPE, ct);
    if let Some(v) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

const NO_CANDIDATE: &str = "No found available replica peer or data, try again later.";

/// Download an object
///
/// Streams the object's bytes from the best live replica, or from the router's cache. If a replica fails
/// before the first byte, the next one is tried; a failure after the first byte aborts the connection, so
/// a truncated body is never mistaken for a whole one. `Content-Length` is always set.
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
    ),
    responses(
        (status = 200, description = "The object's bytes, with its stored content type", content_type = "*/*"),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 404, description = "No replica holds the object, or it is disabled"),
        (status = 422, description = "A header or query parameter that cannot be read"),
        (status = 502, description = "Every replica failed"),
    )
)]
pub async fn get_object(
    State(s): State<AppState>,
    params: PathParams,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> ApiResult<Response> {
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
    let default_name = format!("{b}_{k}");

    if !forced {
        if let Some(hit) = super::cached::current(&s, b, k).await? {
            let content_type = first_non_empty([
                Some(q.content_type.as_str()),
                Some(hit.metadata.content_type.as_str()),
                Some(hit.content_type.as_str()),
            ])
            .unwrap_or("application/octet-stream");
            let tags = &hit.metadata.tags;
            let name = first_non_empty([
                Some(q.filename.as_str()),
                tags.get("fullname").map(String::as_str),
                tags.get("filename").map(String::as_str),
            ])
            .unwrap_or(&default_name);
            let disposition = q.attachment.then(|| content_disposition(name));
            let len = hit.bytes.len() as u64;
            metrics::counter!("mictlanx_router_bytes_out_total", "handler" => OBJECT)
                .increment(len);
            let mut res = Body::from(hit.bytes.clone()).into_response();
            set_headers(res.headers_mut(), len, content_type, disposition);
            return Ok(res);
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
            Err(_) => return Err(ApiError::not_found(NO_CANDIDATE)),
        },
        None => {
            let plan = s.rm.choose_read_replica(b, k).await?;
            let version = plan.version;
            (Start::Known(plan), version)
        }
    };
    let fill_stamp = super::cached::stamp(&s, b, k, version);
    // The metadata is needed up front only for what the data answer's headers cannot say: the
    // attachment name (tags) and the cache entry. Otherwise the data answer alone decides the response.
    let metadata_first = q.attachment || fill_stamp.is_some();
    let found = read_with_failover(s.rm.as_ref(), &s.peers, b, k, start, |c| {
        let client = s.peers.clone();
        async move {
            let peer = c.peer;
            if !metadata_first && c.metadata.is_none() {
                return data_only(&client, peer, b, k).await;
            }
            // One peer request when the data answer carries the metadata (issue 16).
            let (md, data) = match c.metadata {
                Some(md) => (Ok(md), client.get_data(&peer, b, k).await),
                None => super::data_meta::data_and_metadata(&client, &peer, b, k).await,
            };
            decide(peer, md, data)
        }
    })
    .await;
    let Found {
        peer,
        size,
        metadata,
        resp,
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
        Err(ReadFailure::State(e)) => return Err(e.into()),
    };

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
    let name = first_non_empty([Some(q.filename.as_str()), tag("fullname"), tag("filename")])
        .unwrap_or(&default_name)
        .to_string();
    let disposition = q.attachment.then(|| content_disposition(&name));
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
            // issue 16: too large for the byte cache, its metadata is still cached (a cached object's
            // entry answers for its metadata itself).
            None => {
                super::cached::fill_meta(&s, Some(stamp), &metadata, &peer.peer_id);
                None
            }
        },
        _ => None,
    };
    let body = Body::from_stream(relay_stream(resp, size, piece_size, fill, OBJECT));
    let mut res = body.into_response();
    set_headers(res.headers_mut(), size, &content_type, disposition);
    tracing::debug!(peer_id = %peer.peer_id, size, "get data streaming");
    Ok(res)
}

/// What a successful read attempt found: the peer, the object size, its metadata when it was asked for,
/// and the peer's streaming data answer.
struct Found {
    peer: PeerInfo,
    size: u64,
    metadata: Option<Metadata>,
    resp: reqwest::Response,
}

/// One candidate's metadata and data answers → the attempt's outcome. The data answer is used only once
/// the metadata says the object exists and is enabled; a disabled object moves on keeping its record.
fn decide(
    peer: PeerInfo,
    md: Result<GetMetadataResponse, PeerError>,
    data: Result<reqwest::Response, PeerError>,
) -> Attempt<Found> {
    let md = match md {
        Ok(md) => md,
        Err(e) => return Attempt::from_peer_error(&e),
    };
    if md.metadata.is_disabled {
        return Attempt::Disabled;
    }
    match data {
        Ok(resp) => Attempt::Done(Found {
            peer,
            size: md.metadata.size,
            metadata: Some(md.metadata),
            resp,
        }),
        Err(e) => Attempt::from_peer_error(&e),
    }
}

/// One read attempt without the metadata request: the peer's data answer carries the size
/// (`Content-Length` = metadata size, `peer-api.md` #21) and the content type. The metadata is asked only
/// when the answer cannot decide: a 404 (absent, or disabled — which keeps the replica record) and an
/// answer without `Content-Length`.
async fn data_only(client: &PeerClient, peer: PeerInfo, b: &str, k: &str) -> Attempt<Found> {
    let data = match client.get_data(&peer, b, k).await {
        Ok(resp) => match content_length(&resp) {
            Some(size) => {
                return Attempt::Done(Found {
                    peer,
                    size,
                    metadata: None,
                    resp,
                })
            }
            None => Ok(resp),
        },
        Err(e @ PeerError::NotFound(_)) => Err(e),
        Err(e) => return Attempt::from_peer_error(&e),
    };
    let md = client.get_metadata(&peer, b, k).await;
    decide(peer, md, data)
}

/// The answer's `Content-Length` header (not the body's size hint, which reqwest's wrappers may hide).
fn content_length(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_media_types_become_content_type() {
        for (given, sent) in [
            ("text/plain", "text/plain"),
            ("text/plain; charset=utf-8", "text/plain; charset=utf-8"),
            ("application/vnd.a+json", "application/vnd.a+json"),
            ("t", "application/octet-stream"),
            ("a/", "application/octet-stream"),
            ("/b", "application/octet-stream"),
            ("a b/c", "application/octet-stream"),
            ("", "application/octet-stream"),
        ] {
            let mut h = HeaderMap::new();
            set_headers(&mut h, 1, given, None);
            assert_eq!(h[header::CONTENT_TYPE], sent, "{given:?}");
        }
    }

    #[test]
    fn disposition_quotes_and_escapes() {
        assert_eq!(
            content_disposition("a.txt"),
            "attachment; filename=\"a.txt\""
        );
        assert_eq!(
            content_disposition("a\"b\\c"),
            "attachment; filename=\"a\\\"b\\\\c\""
        );
    }

    #[test]
    fn disposition_adds_filename_star_for_non_ascii() {
        assert_eq!(
            content_disposition("año 1.txt"),
            "attachment; filename=\"a_o 1.txt\"; filename*=UTF-8''a%C3%B1o%201.txt"
        );
    }

    #[test]
    fn first_non_empty_skips_empty_and_missing() {
        assert_eq!(
            first_non_empty([Some(""), None, Some("x"), Some("y")]),
            Some("x")
        );
        assert_eq!(first_non_empty([Some(""), None]), None);
    }
}

//! Phase 2 of the two-phase write (`docs/peer-api.md` §3.2, #15 multipart and #16 raw/chunked): reserve,
//! stream into a temp file while hashing, check a declared SHA-256, commit. Any failure (including a
//! dropped future) removes the temp file and returns the task to pending.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::Stream;

use super::late_tags;
use super::reply::{json, object_version, receive_error, stale, store_error, task_error};
use crate::receive::{receive_into, ReceiveError};
use crate::state::PeerState;
use crate::store::blocks::declared_sha256;
use crate::store::{CommitOptions, StoreError};
use crate::tasks::UploadGuard;
use mictlanx_http::error::ApiError;
use mictlanx_http::PathParams;
use mictlanx_proto::headers::{LATE_TAGS, LATE_TAGS_APPLIED, OBJECT_VERSION};
use mictlanx_proto::peer::PeerPutDataResponse;

type St = State<Arc<PeerState>>;

fn begin(s: &PeerState, task_id: &str) -> Result<UploadGuard, ApiError> {
    s.tasks
        .begin_upload(task_id, s.total_disk(), |meta| {
            let index = s.store.index();
            (
                index.used(),
                index
                    .get(&meta.bucket_id, &meta.key)
                    .map_or(0, |e| e.meta.size),
            )
        })
        .map_err(task_error)
}

/// #16 `POST /api/v4/buckets/data/{task_id}/chunked`: the raw body is the object.
pub async fn upload_chunked(
    State(s): St,
    p: PathParams,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let task_id = p.required("task_id")?;
    let version = object_version(&headers)?;
    let guard = begin(&s, task_id)?;
    let size = guard.meta().size;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(len) = declared.filter(|len| *len != size) {
        return Err(receive_error(ReceiveError::SizeMismatch {
            received: len,
            size,
        }));
    }
    if late_tags::declared(&headers) {
        let (data, trailers) = late_tags::data_and_trailers(body);
        return store_stream(&s, guard, version, data, Some(trailers)).await;
    }
    store_stream(&s, guard, version, body.into_data_stream(), None).await
}

/// #15 `POST /api/v4/buckets/data/{task_id}`: the multipart part named `data` is the object.
pub async fn upload_multipart(
    State(s): St,
    p: PathParams,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let task_id = p.required("task_id")?;
    let version = object_version(&headers)?;
    let guard = begin(&s, task_id)?;
    let boundary = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(|| ApiError::bad_request("Expected multipart/form-data with a 'data' field"))?;
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let idle = s.config.client_request_timeout;
    loop {
        let next = tokio::time::timeout(idle, multipart.next_field())
            .await
            .map_err(|_| receive_error(ReceiveError::IdleTimeout(idle)))?;
        match next {
            Ok(Some(field)) if field.name() == Some("data") => {
                return store_stream(&s, guard, version, field, None).await
            }
            Ok(Some(_)) => continue,
            Ok(None) => return Err(ApiError::bad_request("Missing multipart field 'data'")),
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid multipart body: {e}"
                )))
            }
        }
    }
}

/// Receive into a temp file, commit (refused when the committed version is newer than `version`), answer
/// the seven-field body with `Object-Version`. The `Late-Tags` of `trailers` join the committed metadata,
/// and the answer says so.
async fn store_stream<S, E>(
    s: &PeerState,
    guard: UploadGuard,
    version: Option<u64>,
    body: S,
    trailers: Option<late_tags::TrailerSlot>,
) -> Result<Response, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let started = Instant::now();
    let mut meta = guard.meta().clone();
    let part = s.store.new_part();
    let idle = s.config.client_request_timeout;
    let received = match receive_into(body, &part, meta.size, idle, &s.metrics.bytes_in).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(bucket = %meta.bucket_id, key = %meta.key, error = %e, "upload discarded");
            return Err(receive_error(e));
        }
    };
    let computed = hex::encode(received.digests.sha256);
    if let Some(declared) = declared_sha256(&meta.checksum).filter(|d| *d != computed) {
        s.metrics.mismatch_upload.increment(1);
        tracing::warn!(bucket = %meta.bucket_id, key = %meta.key, %declared, %computed, "checksum mismatch, upload refused");
        return Err(ApiError::bad_request(format!(
            "Checksum mismatch: declared {} != computed {computed}",
            meta.checksum
        )));
    }
    let late = match trailers {
        Some(slot) => slot.tags()?,
        None => None,
    };
    let applied = late.is_some();
    meta.tags.extend(late.unwrap_or_default());
    let (received, digests) = (received.bytes, received.digests);
    let opts = CommitOptions {
        version,
        replication_factor: guard.replication_factor(),
    };
    let (b, k) = (meta.bucket_id.clone(), meta.key.clone());
    let committed = match s.store.commit(meta, part, digests, opts).await {
        Ok(entry) => entry,
        Err(StoreError::Stale { current }) => {
            tracing::info!(bucket = %b, key = %k, version, current, "stale upload refused");
            return Err(stale(version.unwrap_or(0), &b, &k, current));
        }
        Err(e) => return Err(store_error(e)),
    };
    guard.complete();
    let secs = started.elapsed().as_secs_f64();
    let throughput = if secs > 0.0 {
        received as f64 / secs
    } else {
        0.0
    };
    let version = committed.version;
    let committed = committed.meta;
    tracing::info!(bucket = %committed.bucket_id, key = %committed.key, size = received, version, "object committed");
    let mut res = json(
        StatusCode::CREATED,
        &PeerPutDataResponse {
            node_id: s.config.node_id.clone(),
            combined_key: committed.combined_key(),
            bucket_id: committed.bucket_id,
            key: committed.key,
            size: received,
            throughput,
            service_time: secs,
        },
    );
    res.headers_mut()
        .insert(OBJECT_VERSION, HeaderValue::from(version));
    if applied {
        res.headers_mut()
            .insert(LATE_TAGS, HeaderValue::from_static(LATE_TAGS_APPLIED));
    }
    Ok(res)
}

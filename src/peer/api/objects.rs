//! Object endpoints (`peer-api.md` §6 #17, #18, #20, #21, #22): size, disable, deletes, and the streamed
//! read (whole or one `Range`).

use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::reply::{
    id_param, json, not_found, object_version, store_error, unsigned_header, with_n_deletes,
    with_version_headers,
};
use crate::error::ApiError;
use crate::http::peer_headers::{IF_VERSION_AT_MOST, MICTLANX_METADATA, OBJECT_VERSION};
use crate::http::range::{content_range, parse_range, unsatisfied_range, RangeRequest};
use crate::http::PathParams;
use crate::peer::state::PeerState;
use crate::peer::store::DeleteOutcome;

type St = State<Arc<PeerState>>;

const READ_CHUNK: usize = 256 * 1024;

/// #17 `GET /api/v4/buckets/{bucket_id}/{key}/size`.
pub async fn size(State(s): St, p: PathParams) -> Result<Response, ApiError> {
    let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
    let entry = s.store.get(b, k).ok_or_else(|| not_found(b, k))?;
    Ok(json(
        StatusCode::OK,
        json!({"bucket_id": b, "key": k, "peer_id": s.config.node_id, "size": entry.meta.size}),
    ))
}

/// #18 `POST /api/v4/buckets/{bucket_id}/{key}/disable` (idempotent); `Object-Version` raises the version.
pub async fn disable(
    State(s): St,
    p: PathParams,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
    let version = object_version(&headers)?;
    match s.store.disable(b, k, version).await.map_err(store_error)? {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(b, k)),
    }
}

/// #20 `DELETE /api/v4/buckets/{bucket_id}/bid/{ball_id}`.
pub async fn delete_ball(State(s): St, p: PathParams) -> Response {
    let run = async {
        let (b, ball) = (id_param(&p, "bucket_id")?, id_param(&p, "ball_id")?);
        let n = s.store.delete_ball(b, ball).await.map_err(store_error)?;
        Ok::<_, ApiError>(with_n_deletes(
            json(StatusCode::OK, json!({"n_deletes": n, "ball_id": ball})),
            n,
        ))
    };
    run.await
        .unwrap_or_else(|e| with_n_deletes(e.into_response(), 0))
}

/// #22 `DELETE /api/v4/buckets/{bucket_id}/{key}`: `n-deletes` on every answer, 404 and 409 included.
/// `If-Version-At-Most` keeps a newer committed version (409 with its `Object-Version`).
pub async fn delete(State(s): St, p: PathParams, headers: HeaderMap) -> Response {
    let run = async {
        let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
        let at_most = unsigned_header(&headers, IF_VERSION_AT_MOST, "If-Version-At-Most")?;
        match s.store.delete(b, k, at_most).await.map_err(store_error)? {
            DeleteOutcome::Deleted => Ok(with_n_deletes(
                json(StatusCode::OK, json!({"n_deletes": 1, "key": k})),
                1,
            )),
            DeleteOutcome::Absent => Err(not_found(b, k)),
            DeleteOutcome::Newer { current } => {
                let detail = format!("{b}@{k} has a newer version {current}");
                let mut res = with_n_deletes(ApiError::conflict(detail).into_response(), 0);
                res.headers_mut()
                    .insert(OBJECT_VERSION, HeaderValue::from(current));
                Ok(res)
            }
        }
    };
    run.await
        .unwrap_or_else(|e: ApiError| with_n_deletes(e.into_response(), 0))
}

/// #21 `GET /api/v4/buckets/{bucket_id}/{key}`: exactly `size` bytes streamed from disk (200), or one
/// `Range` of them (206, seeking; 416 when unsatisfiable), with the object's `Mictlanx-Metadata`.
pub async fn get(State(s): St, p: PathParams, headers: HeaderMap) -> Result<Response, ApiError> {
    let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // An overwrite may unlink the file between the index lookup and the open: look up again.
    for _ in 0..3 {
        let entry = match s.store.get(b, k) {
            Some(e) if !e.meta.is_disabled => e,
            _ => return Err(not_found(b, k)),
        };
        let size = entry.meta.size;
        let (status, range) = match parse_range(range_header, size) {
            RangeRequest::Full => (StatusCode::OK, None),
            RangeRequest::Partial(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
            RangeRequest::Unsatisfiable => {
                let detail = format!("Range not satisfiable: {b}@{k} has {size} bytes");
                let mut res =
                    ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, detail).into_response();
                res.headers_mut()
                    .insert(header::CONTENT_RANGE, header_value(unsatisfied_range(size)));
                return Ok(with_version_headers(res, &entry));
            }
        };
        let mut file = match tokio::fs::File::open(s.store.data_path(&entry)).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ApiError::internal(format!("cannot open {b}@{k}: {e}"))),
        };
        let (offset, len) = range.map_or((0, size), |r| (r.start, r.len()));
        if offset > 0 {
            file.seek(io::SeekFrom::Start(offset))
                .await
                .map_err(|e| ApiError::internal(format!("cannot seek in {b}@{k}: {e}")))?;
        }
        let body = Body::from_stream(ReaderStream::with_capacity(file.take(len), READ_CHUNK));
        let mut res = Response::new(body);
        *res.status_mut() = status;
        let content_type = HeaderValue::from_str(&entry.meta.content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, content_type);
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some(r) = range {
            h.insert(header::CONTENT_RANGE, header_value(content_range(r, size)));
        }
        if let Some(meta) = &entry.meta_header {
            h.insert(MICTLANX_METADATA, meta.clone());
        }
        return Ok(with_version_headers(res, &entry));
    }
    Err(not_found(b, k))
}

fn header_value(s: String) -> HeaderValue {
    HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

//! #21 `GET /api/v4/buckets/{bucket_id}/{key}` (`docs/peer-api.md` §6, `docs/peer-api.md` §9–§14): the whole
//! object (200) or one `Range` (206, 416), streamed from disk and verified block by block before any of a
//! block's bytes leave. A corrupt first block answers 404 (nothing was sent: the caller fails over); a
//! corrupt later block aborts the response there. Either way the copy is quarantined.

use std::io;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use super::reply::{id_param, not_found, with_version_headers};
use crate::state::PeerState;
use crate::store::read::{steps, ObjectRead, ReadError};
use crate::store::Entry;
use mictlanx_http::error::ApiError;
use mictlanx_http::range::{content_range, parse_range, unsatisfied_range, RangeRequest};
use mictlanx_http::PathParams;
use mictlanx_proto::headers::MICTLANX_METADATA;

type St = State<Arc<PeerState>>;

pub async fn get(State(s): St, p: PathParams, headers: HeaderMap) -> Result<Response, ApiError> {
    let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // An overwrite may unlink the files between the index lookup and the open: look up again.
    for _ in 0..3 {
        let entry = match s.store.get(b, k) {
            Some(e) if !e.meta.is_disabled => e,
            _ => return Err(not_found(b, k)),
        };
        let size = entry.meta.size;
        let (status, range) = match parse_range(range_header, size) {
            RangeRequest::Full => (StatusCode::OK, None),
            RangeRequest::Partial(r) => (StatusCode::PARTIAL_CONTENT, Some(r)),
            RangeRequest::Unsatisfiable => return Ok(unsatisfiable(b, k, &entry)),
        };
        let path = s.store.data_path(&entry);
        let (offset, len) = range.map_or((0, size), |r| (r.start, r.len()));
        let plan = steps(size, entry.digest, offset, len);
        // the first block is read and verified before the head goes out
        let opened = {
            let entry = entry.clone();
            tokio::task::spawn_blocking(move || ObjectRead::open_with_first(&path, &entry, plan))
                .await
        };
        let (read, first, plan) = match opened {
            Ok(Ok(opened)) => opened,
            // gone with the index unchanged cannot be an overwrite or a delete (both change the index
            // first): the copy was damaged under us
            Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => {
                let reason = format!("files missing: {e}");
                if quarantine(&s, &entry, reason).await {
                    return Err(not_found(b, k));
                }
                continue;
            }
            Ok(Err(e)) => return Err(ApiError::internal(format!("cannot open {b}@{k}: {e}"))),
            Err(e) => return Err(ApiError::internal(format!("cannot open {b}@{k}: {e}"))),
        };
        let entry = Arc::new(entry);
        let first = match first {
            None => None,
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(ReadError::Corrupt { block, .. })) => {
                s.metrics.mismatch_serve.increment(1);
                quarantine(&s, &entry, mismatch(block)).await;
                return Err(not_found(b, k));
            }
            Some(Err(ReadError::Io(e))) => {
                return Err(ApiError::internal(format!("cannot read {b}@{k}: {e}")))
            }
        };
        let (state, bad) = (s.clone(), entry.clone());
        let rest = read.stream(plan).then(move |item| {
            let (state, bad) = (state.clone(), bad.clone());
            async move {
                match item {
                    Ok(bytes) => {
                        state.metrics.bytes_out.increment(bytes.len() as u64);
                        Ok(bytes)
                    }
                    Err(ReadError::Corrupt { block, .. }) => {
                        state.metrics.mismatch_serve.increment(1);
                        quarantine(&state, &bad, mismatch(block)).await;
                        // an error, never a clean end: the caller must not take a prefix for the object
                        Err(io::Error::other("stored block does not match its digest"))
                    }
                    Err(ReadError::Io(e)) => Err(e),
                }
            }
        });
        if let Some(first) = &first {
            s.metrics.bytes_out.increment(first.len() as u64);
        }
        let body = futures::stream::iter(first.map(Ok)).chain(rest);
        let mut res = Response::new(Body::from_stream(body));
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

fn unsatisfiable(b: &str, k: &str, entry: &Entry) -> Response {
    let size = entry.meta.size;
    let detail = format!("Range not satisfiable: {b}@{k} has {size} bytes");
    let mut res = ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, detail).into_response();
    res.headers_mut()
        .insert(header::CONTENT_RANGE, header_value(unsatisfied_range(size)));
    with_version_headers(res, entry)
}

fn header_value(s: String) -> HeaderValue {
    HeaderValue::try_from(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn mismatch(block: u64) -> String {
    format!("block {block} does not match its digest (read)")
}

/// Quarantine a bad copy if it is still the current one, in a task of its own so a client that hangs up
/// does not cancel it; the answer (404 or the abort) waits for it so the next read already sees the object
/// absent. Returns whether the copy was quarantined.
async fn quarantine(s: &Arc<PeerState>, entry: &Entry, reason: String) -> bool {
    let store = s.store.clone();
    let (b, k, file) = (
        entry.meta.bucket_id.clone(),
        entry.meta.key.clone(),
        entry.data_file.clone(),
    );
    let task = tokio::spawn(async move { store.quarantine(&b, &k, &file, reason).await });
    match task.await {
        Ok(Ok(moved)) => moved,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "quarantine failed");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "quarantine task failed");
            false
        }
    }
}

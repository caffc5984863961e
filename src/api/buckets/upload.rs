//! Put data, phase 2 of a write (`docs/router-api.md` #16 multipart, #17 raw body, #18 alias): parse the
//! request, run the write protocol ([`crate::datapath::write`]: claim, fan-out, commit or roll back) and
//! answer, mapping its outcomes to statuses.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use futures::Stream;
use serde_json::json;

use super::models::RouterPutChunkedResponse;
use super::{PUT_CHUNKED, PUT_CHUNKED_V1, PUT_DATA};
use crate::api::state::AppState;
use crate::datapath::fanout::{
    fan_out, join_failures, FanOutError, FanOutReport, FanOutStrategy, ReplicaFailure,
};
use crate::datapath::late_tags::{LateTags, LateTagsApplied};
use crate::datapath::write::{self, ClaimGuard, WriteError};
use crate::peer_client::status_of_cause;
use crate::validate;
use mictlanx_http::error::ApiError;
use mictlanx_http::routing::PathParams;

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> ApiError {
        match e {
            WriteError::NotFound(_) => ApiError::not_found(e.to_string()),
            WriteError::InProgress(_) | WriteError::NotPut(_) | WriteError::TakenOver(_) => {
                ApiError::conflict(e.to_string())
            }
            WriteError::NoTasks => ApiError::bad_request(e.to_string()),
            WriteError::State(e) => e.into(),
        }
    }
}

/// Claim the group named by `task_id` (`docs/router-api.md` #16 step 2). A group opened under a larger size
/// limit (before a restart) is refused too.
async fn claim(s: &AppState, task_id: &str) -> Result<ClaimGuard, ApiError> {
    let guard = write::claim(s.rm.clone(), s.cache.clone(), task_id).await?;
    let limit = s.config.security.max_object_size;
    if let Err(e) = validate::object_size(guard.claim.group.size, limit) {
        guard.release().await;
        return Err(e);
    }
    Ok(guard)
}

/// An error answer after which the connection must not be reused (the body may be partly unread).
fn closing(e: ApiError) -> Response {
    let mut res = e.into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// An error answered before any of the body was read: the unread rest is dropped first (bounded, see
/// [`mictlanx_http::linger`]), so the client receives the answer instead of a reset connection.
async fn refused_unread(body: Body, e: ApiError) -> ErrorResponse {
    mictlanx_http::linger::discard(body).await;
    ErrorResponse(closing(e))
}

/// Steps 3–8 of #17 for a body stream: resolve the peers, fan out (renewing the claim), apply the outcome
/// rules.
async fn relay<S, E>(
    s: &AppState,
    guard: ClaimGuard,
    body: S,
    (piece_size, late_tags): (u64, Option<LateTags>),
    handler: &'static str,
) -> Result<FanOutReport, Response>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let group = guard.claim.group.clone();
    let (b, k) = (group.bucket_id.clone(), group.key.clone());
    let (targets, unavailable) = write::targets(s.rm.as_ref(), &s.peers, &guard.claim).await;
    let tail = &s.config.tail;
    let quorum = tail.write_quorum.required(group.tasks.len());
    let strategy = FanOutStrategy::new(piece_size, s.config.peer_io.idle_timeout)
        .with_tail(tail.straggler_timeout, quorum)
        .with_late_tags(late_tags);
    let lease = s.config.replica.claim_lease;
    let outcome = tokio::select! {
        outcome = fan_out(&s.peers, targets, unavailable, group.size, body, &strategy) => outcome,
        lost = write::keep_claim(s.rm.clone(), guard.claim.clone(), lease) => {
            tracing::warn!(group_id = %group.group_id, cause = %lost, "upload stopped: its claim was taken over");
            guard.release().await;
            return Err(closing(WriteError::TakenOver(group.group_id.clone()).into()));
        }
    };
    let received = match &outcome {
        Ok(r) => r.received,
        Err(FanOutError::AllFailed { received, .. })
        | Err(FanOutError::QuorumLost { received, .. })
        | Err(FanOutError::ClientBody { received, .. }) => *received,
        Err(FanOutError::SizeMismatch { received, expected }) => (*received).min(*expected),
    };
    s.metrics
        .counter_with("mictlanx_router_bytes_in_total", &[("handler", handler)])
        .increment(received);
    let failed_replicas = match &outcome {
        Ok(r) => r.failed.len(),
        Err(FanOutError::AllFailed { failures, .. })
        | Err(FanOutError::QuorumLost { failures, .. }) => failures.len(),
        Err(_) => 0,
    };
    s.metrics
        .counter_with(
            "mictlanx_router_replica_write_failures_total",
            &[("phase", "data")],
        )
        .increment(failed_replicas as u64);
    match outcome {
        Ok(report) => {
            for f in &report.failed {
                tracing::warn!(peer_id = %f.peer_id, cause = %f.cause, "replica did not store the data");
            }
            guard
                .commit(report.succeeded.clone())
                .await
                .map_err(|e| closing(e.into()))?;
            Ok(report)
        }
        Err(FanOutError::AllFailed { failures, .. }) => {
            guard.release().await;
            // Every replica refused the bytes themselves (a checksum mismatch): the client's fault, 400.
            if let Some(detail) = all_refused_400(&failures) {
                return Err(closing(ApiError::bad_request(detail)));
            }
            Err(closing(ApiError::bad_gateway(format!(
                "No replica stored the data for {b}@{k}: {}",
                join_failures(&failures)
            ))))
        }
        Err(FanOutError::QuorumLost {
            required,
            succeeded,
            failures,
            ..
        }) => {
            // Too few copies to answer 200: nothing is recorded, and the copies that were stored are
            // deleted again (at exactly this write's version), so discovery cannot make their peers
            // holders of an unacknowledged write; the group stays for a retry.
            tracing::warn!(stored = ?succeeded, required, "write quorum not reached");
            let version = guard.claim.version;
            let io = &s.config.peer_io;
            write::roll_back(
                (s.rm.clone(), s.peers.clone()),
                (&b, &k),
                &succeeded,
                version,
                (io.fanout_concurrency, io.fanout_deadline),
            )
            .await;
            guard.release().await;
            Err(closing(ApiError::bad_gateway(format!(
                "Write quorum not reached for {b}@{k}: {} of {required} replicas stored the data ({}): {}",
                succeeded.len(),
                if succeeded.is_empty() { "none".to_string() } else { succeeded.join(", ") },
                join_failures(&failures)
            ))))
        }
        Err(e @ FanOutError::SizeMismatch { .. }) => {
            guard.release().await;
            Err(closing(ApiError::bad_request(e.to_string())))
        }
        Err(e @ FanOutError::ClientBody { .. }) => {
            tracing::info!(error = %e, status = 499, "upload body failed");
            guard.release().await;
            let status = StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST);
            Err(closing(ApiError::new(status, e.to_string())))
        }
    }
}

/// The peers' detail when every replica answered 400 (one text when they agree, else one per peer).
fn all_refused_400(failures: &[ReplicaFailure]) -> Option<String> {
    let details: Vec<&str> = failures
        .iter()
        .map(|f| match status_of_cause(&f.cause) {
            Some((400, detail)) => Some(detail),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let first = *details.first()?;
    if details.iter().all(|d| *d == first) {
        return Some(first.to_string());
    }
    let per_peer: Vec<String> = failures
        .iter()
        .zip(&details)
        .map(|(f, d)| format!("{}: {d}", f.peer_id))
        .collect();
    Some(per_peer.join("; "))
}

async fn chunked(
    s: AppState,
    params: PathParams,
    (headers, late_tags): (HeaderMap, Option<LateTags>),
    body: Body,
    handler: &'static str,
) -> Result<Response, ErrorResponse> {
    let piece_size = match validate::header_size(&headers, "chunk-size", 10_000_000) {
        Ok(size) => size,
        Err(e) => return Err(refused_unread(body, e).await),
    };
    // A body above the limit is not read; closing the connection is the answer's cost.
    validate::declared_body(&headers, s.config.security.max_object_size).map_err(closing)?;
    let task_id = params.required("task_id")?.to_string();
    let guard = match claim(&s, &task_id).await {
        Ok(guard) => guard,
        Err(e) => return Err(refused_unread(body, e).await),
    };
    let group = guard.claim.group.clone();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared.filter(|len| *len != group.size) {
        guard.release().await;
        let e = ApiError::bad_request(format!("Data size mistmatch {len} != {}", group.size));
        return Err(refused_unread(body, e).await);
    }
    let stream = body.into_data_stream();
    let report = relay(&s, guard, stream, (piece_size, late_tags), handler).await?;
    let applied = report.late_tags_applied;
    let mut res = Json(RouterPutChunkedResponse {
        peer_ids: report.succeeded,
        combined_key: format!("{}@{}", group.bucket_id, group.key),
        bucket_id: group.bucket_id,
        key: group.key,
        size: report.received,
    })
    .into_response();
    if applied {
        res.extensions_mut().insert(LateTagsApplied);
    }
    Ok(res)
}

/// Either an `ApiError` or a finished error response, so `?` works on both inside handlers.
struct ErrorResponse(Response);

impl From<ApiError> for ErrorResponse {
    fn from(e: ApiError) -> Self {
        ErrorResponse(e.into_response())
    }
}

impl From<Response> for ErrorResponse {
    fn from(r: Response) -> Self {
        ErrorResponse(r)
    }
}

/// Upload an object's bytes (step 2 of 2)
///
/// The raw request body is streamed once through the router to every peer chosen in step 1, at the same
/// time. The upload succeeds when at least one peer stored all `size` bytes; the answer lists them.
#[utoipa::path(
    post,
    path = "/api/v4/buckets/data/{task_id}/chunked",
    tag = "buckets",
    params(
        ("task_id" = String, Path, description = "`tasks_ids[0]` of step 1", example = "V1StGXR8_Z5jdHi6B-myT"),
        ("Chunk-Size" = Option<String>, Header, description = "Largest piece relayed at once, a size such as `256kb` (default 10mb; 0 = no cap)", example = "256kb"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "Exactly the `size` bytes announced in step 1"),
    responses(
        (status = 200, description = "Stored on at least one peer", body = RouterPutChunkedResponse),
        (status = 400, description = "The body's length is not the announced size, or every peer refused the bytes (checksum mismatch)"),
        (status = 404, description = "No such upload, or it expired"),
        (status = 409, description = "This upload is already receiving its bytes, or another router took it over"),
        (status = 413, description = "A body above MICTLANX_ROUTER_MAX_OBJECT_SIZE"),
        (status = 422, description = "`Chunk-Size` is not a size"),
        (status = 502, description = "No peer stored the bytes; the upload can be retried"),
        (status = 503, description = "The cluster state is unreachable (Redis backend); retry"),
    )
)]
pub async fn put_chunked(State(s): State<AppState>, params: PathParams, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let late_tags = parts.extensions.get::<LateTags>().cloned();
    chunked(s, params, (parts.headers, late_tags), body, PUT_CHUNKED)
        .await
        .unwrap_or_else(|e| e.0)
}

/// Upload an object's bytes (older path)
///
/// The same upload as `POST /api/v4/buckets/data/{task_id}/chunked`, kept for older clients.
#[utoipa::path(
    post,
    path = "/api/v4/buckets/data/{task_id}/chunkedv1",
    tag = "buckets",
    params(
        ("task_id" = String, Path, description = "`tasks_ids[0]` of step 1", example = "V1StGXR8_Z5jdHi6B-myT"),
        ("Chunk-Size" = Option<String>, Header, description = "Largest piece relayed at once, a size such as `256kb` (default 10mb; 0 = no cap)", example = "256kb"),
    ),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "Exactly the `size` bytes announced in step 1"),
    responses(
        (status = 200, description = "Stored on at least one peer", body = RouterPutChunkedResponse),
        (status = 400, description = "The body's length is not the announced size"),
        (status = 404, description = "No such upload, or it expired"),
        (status = 409, description = "This upload is already receiving its bytes"),
        (status = 422, description = "`Chunk-Size` is not a size"),
        (status = 502, description = "No peer stored the bytes; the upload can be retried"),
    )
)]
pub async fn put_chunked_v1(
    State(s): State<AppState>,
    params: PathParams,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    chunked(s, params, (parts.headers, None), body, PUT_CHUNKED_V1)
        .await
        .unwrap_or_else(|e| e.0)
}

/// The 422 of #16 when there is no `data` part.
fn missing_data() -> ApiError {
    ApiError::unprocessable(vec![json!({
        "type": "missing", "loc": ["body", "data"], "msg": "Field required", "input": null
    })])
}

/// Upload an object's bytes as a form (step 2 of 2)
///
/// The same upload as the raw-body form, with the bytes in the file field `data` of a
/// `multipart/form-data` body. Answers 201 with an empty body.
#[utoipa::path(
    post,
    path = "/api/v4/buckets/data/{task_id}",
    tag = "buckets",
    params(("task_id" = String, Path, description = "`tasks_ids[0]` of step 1", example = "V1StGXR8_Z5jdHi6B-myT")),
    request_body(content = Vec<u8>, content_type = "multipart/form-data", description = "A form whose file field `data` holds the bytes"),
    responses(
        (status = 201, description = "Stored on at least one peer (empty body)"),
        (status = 400, description = "The file's length is not the announced size, or every peer refused the bytes (checksum mismatch)"),
        (status = 404, description = "No such upload, or it expired"),
        (status = 409, description = "This upload is already receiving its bytes, or another router took it over"),
        (status = 413, description = "A body above MICTLANX_ROUTER_MAX_OBJECT_SIZE"),
        (status = 422, description = "Not a multipart body, or no `data` field"),
        (status = 502, description = "No peer stored the bytes; the upload can be retried"),
        (status = 503, description = "The cluster state is unreachable (Redis backend); retry"),
    )
)]
pub async fn put_data_multipart(
    State(s): State<AppState>,
    params: PathParams,
    req: Request,
) -> Response {
    multipart(s, params, req).await.unwrap_or_else(|e| e.0)
}

async fn multipart(
    s: AppState,
    params: PathParams,
    req: Request,
) -> Result<Response, ErrorResponse> {
    let (parts, body) = req.into_parts();
    let boundary = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok())
        .ok_or_else(missing_data)?;
    let task_id = params.required("task_id")?.to_string();
    let guard = match claim(&s, &task_id).await {
        Ok(guard) => guard,
        Err(e) => return Err(refused_unread(body, e).await),
    };
    let mut multipart = multer::Multipart::new(body.into_data_stream(), boundary);
    let field = loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("data") => break field,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => {
                guard.release().await;
                return Err(ErrorResponse(closing(missing_data())));
            }
        }
    };
    relay(&s, guard, field, (0, None), PUT_DATA).await?;
    Ok(StatusCode::CREATED.into_response())
}

//! Put data, phase 2 of a write (`router-api.md` #16 multipart, #17 raw body, #18 alias): claim the task
//! group, relay the body once to every task's peer through [`crate::replication::fan_out`], commit the
//! holders. The claim is released (and the cache entry invalidated) on every way out, including a client
//! disconnect, by [`ClaimGuard`].

use std::sync::Arc;

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
use crate::app::AppState;
use crate::cache::BallCache;
use crate::error::ApiError;
use crate::http::routing::PathParams;
use crate::replica::{ReplicaManager, RmError, TaskGroup};
use crate::replication::fanout::{
    fan_out, join_failures, FanOutError, FanOutReport, FanOutStrategy, FanOutTarget, ReplicaFailure,
};
use crate::validate;

/// Releases the claim and invalidates the cache entry unless disarmed: covers client disconnects (the
/// handler future is dropped mid-body) as well as every error return.
struct ClaimGuard {
    rm: Arc<dyn ReplicaManager>,
    cache: BallCache,
    group_id: String,
    combined: String,
    armed: bool,
}

impl ClaimGuard {
    /// Failure path: release the claim (the group stays for a retry), P4.
    async fn release(mut self) {
        self.armed = false;
        if let Err(e) = self.rm.release_task_group(&self.group_id).await {
            tracing::warn!(group_id = %self.group_id, error = %e, "could not release a task group claim");
        }
        self.cache.invalidate(&self.combined);
    }

    /// Success path: record the holders, delete the group (releases the reservation), P4.
    async fn commit(mut self, bucket: &str, key: &str, succeeded: Vec<String>) {
        self.armed = false;
        if let Err(e) = self.rm.set_replicas(bucket, key, succeeded).await {
            tracing::error!(error = %e, "could not record the holders of a committed write");
        }
        if let Err(e) = self.rm.delete_task_group(&self.group_id).await {
            tracing::warn!(group_id = %self.group_id, error = %e, "could not delete a task group");
        }
        self.cache.invalidate(&self.combined);
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        tracing::info!(group_id = %self.group_id, status = 499, "upload interrupted by the client");
        let (rm, cache) = (self.rm.clone(), self.cache.clone());
        let (group_id, combined) = (self.group_id.clone(), self.combined.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = rm.release_task_group(&group_id).await;
                cache.invalidate(&combined);
            });
        }
    }
}

/// Claim the group named by `task_id` and check it (`router-api.md` #16 step 2).
async fn claim(s: &AppState, task_id: &str) -> Result<(TaskGroup, ClaimGuard), ApiError> {
    let group = match s.rm.claim_task_group(task_id).await {
        Ok(g) => g,
        Err(RmError::NotFound(_)) => {
            return Err(ApiError::not_found(format!("Task({task_id}) not found")))
        }
        Err(RmError::Conflict(_)) => {
            return Err(ApiError::conflict(format!(
                "Task({task_id}) upload already in progress"
            )))
        }
        Err(e) => return Err(ApiError::internal(e.to_string())),
    };
    let guard = ClaimGuard {
        rm: s.rm.clone(),
        cache: s.cache.clone(),
        group_id: group.group_id.clone(),
        combined: format!("{}@{}", group.bucket_id, group.key),
        armed: true,
    };
    if group.tasks.is_empty() {
        guard.release().await;
        return Err(ApiError::bad_request(
            "Expected tasks > 0, but was received 0",
        ));
    }
    if group.operation != "PUT" {
        guard.release().await;
        return Err(ApiError::conflict(format!(
            "Expected task operation [PUT], but was received [{}]",
            group.operation
        )));
    }
    Ok((group, guard))
}

/// An error answer after which the connection must not be reused (the body may be partly unread).
fn closing(e: ApiError) -> Response {
    let mut res = e.into_response();
    res.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    res
}

/// Steps 3–8 of #17 for a body stream: resolve the peers, fan out, apply the outcome rules.
async fn relay<S, E>(
    s: &AppState,
    group: TaskGroup,
    guard: ClaimGuard,
    body: S,
    piece_size: u64,
    handler: &'static str,
) -> Result<FanOutReport, Response>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let (b, k) = (group.bucket_id.clone(), group.key.clone());
    let mut targets = Vec::new();
    let mut unavailable = Vec::new();
    for task in &group.tasks {
        let Some(peer_id) = task.peers.first() else {
            unavailable.push(ReplicaFailure {
                peer_id: String::new(),
                cause: "task without a peer".into(),
            });
            continue;
        };
        match s.rm.get_peer(peer_id).await {
            Ok(peer) => targets.push(FanOutTarget {
                peer,
                task_id: task.task_id.clone(),
            }),
            Err(e) => unavailable.push(ReplicaFailure {
                peer_id: peer_id.clone(),
                cause: e.to_string(),
            }),
        }
    }
    let strategy = FanOutStrategy::new(piece_size, s.config.peer_io.idle_timeout);
    let outcome = fan_out(&s.peers, targets, unavailable, group.size, body, &strategy).await;
    let received = match &outcome {
        Ok(r) => r.received,
        Err(FanOutError::AllFailed { received, .. })
        | Err(FanOutError::ClientBody { received, .. }) => *received,
        Err(FanOutError::SizeMismatch { received, expected }) => (*received).min(*expected),
    };
    metrics::counter!("mictlanx_router_bytes_in_total", "handler" => handler).increment(received);
    let failed_replicas = match &outcome {
        Ok(r) => r.failed.len(),
        Err(FanOutError::AllFailed { failures, .. }) => failures.len(),
        Err(_) => 0,
    };
    metrics::counter!("mictlanx_router_replica_write_failures_total", "phase" => "data")
        .increment(failed_replicas as u64);
    match outcome {
        Ok(report) => {
            for f in &report.failed {
                tracing::warn!(peer_id = %f.peer_id, cause = %f.cause, "replica did not store the data");
            }
            guard.commit(&b, &k, report.succeeded.clone()).await;
            Ok(report)
        }
        Err(FanOutError::AllFailed { failures, .. }) => {
            guard.release().await;
            Err(closing(ApiError::bad_gateway(format!(
                "No replica stored the data for {b}@{k}: {}",
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

async fn chunked(
    s: AppState,
    params: PathParams,
    headers: HeaderMap,
    body: Body,
    handler: &'static str,
) -> Result<Response, ErrorResponse> {
    let piece_size = validate::header_size(&headers, "chunk-size", 10_000_000)?;
    let task_id = params.required("task_id")?.to_string();
    let (group, guard) = claim(&s, &task_id).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared.filter(|len| *len != group.size) {
        guard.release().await;
        return Err(closing(ApiError::bad_request(format!(
            "Data size mistmatch {len} != {}",
            group.size
        )))
        .into());
    }
    let report = relay(
        &s,
        group.clone(),
        guard,
        body.into_data_stream(),
        piece_size,
        handler,
    )
    .await?;
    Ok(Json(RouterPutChunkedResponse {
        peer_ids: report.succeeded,
        combined_key: format!("{}@{}", group.bucket_id, group.key),
        bucket_id: group.bucket_id,
        key: group.key,
        size: report.received,
    })
    .into_response())
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
        (status = 400, description = "The body's length is not the announced size"),
        (status = 404, description = "No such upload, or it expired"),
        (status = 409, description = "This upload is already receiving its bytes"),
        (status = 422, description = "`Chunk-Size` is not a size"),
        (status = 502, description = "No peer stored the bytes; the upload can be retried"),
    )
)]
pub async fn put_chunked(State(s): State<AppState>, params: PathParams, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    chunked(s, params, parts.headers, body, PUT_CHUNKED)
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
    chunked(s, params, parts.headers, body, PUT_CHUNKED_V1)
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
        (status = 400, description = "The file's length is not the announced size"),
        (status = 404, description = "No such upload, or it expired"),
        (status = 409, description = "This upload is already receiving its bytes"),
        (status = 422, description = "Not a multipart body, or no `data` field"),
        (status = 502, description = "No peer stored the bytes; the upload can be retried"),
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
    let (group, guard) = claim(&s, &task_id).await?;
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
    relay(&s, group, guard, field, 0, PUT_DATA).await?;
    Ok(StatusCode::CREATED.into_response())
}

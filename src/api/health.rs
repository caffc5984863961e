//! `/health` (the process serves HTTP) and `/ready` (at least one storage peer is available).

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::error::{ApiError, ApiResult};
use crate::http::RouteTable;

pub fn routes(t: RouteTable, s: &AppState) -> RouteTable {
    t.route(Method::GET, "/health", health, s.clone()).route(
        Method::GET,
        "/ready",
        ready,
        s.clone(),
    )
}

/// Liveness
///
/// Answers whenever the process serves HTTP; talks to no peer.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The process is up", body = Value,
        example = json!({"status": "ok", "service": "mictlanx-router"}))))]
pub async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "service": state.config.telemetry.service_name}))
}

/// Readiness
///
/// 200 when at least one registered peer is available (from the last health probes; no peer is asked
/// now), 503 otherwise.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, description = "At least one peer is available", body = Value,
            example = json!({"status": "ready", "available_peers": 3, "peers": 3})),
        (status = 503, description = "No storage peer is available")))]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let view = state
        .rm
        .get_peers()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let available = view.available.len();
    let registered = available + view.unavailable.len();
    if available == 0 {
        return Err(ApiError::unavailable(format!(
            "Not ready: no storage peer is available (0 of {registered} registered)"
        )));
    }
    Ok(Json(
        json!({"status": "ready", "available_peers": available, "peers": registered}),
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(health, ready))]
pub struct HealthDoc;

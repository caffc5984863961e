//! `/health` (the process serves HTTP) and `/ready` (at least one storage peer is available).

use axum::extract::State;
use axum::http::Method;
use axum::Json;
use serde_json::{json, Value};

use crate::api::state::AppState;
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::RouteTable;

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
/// 200 when the cluster state answers and this router sees at least one available peer (from the last
/// health probes; no peer is asked now), 503 otherwise.
#[utoipa::path(get, path = "/ready", tag = "health",
    responses((status = 200, description = "At least one peer is available", body = Value,
            example = json!({"status": "ready", "available_peers": 3, "peers": 3})),
        (status = 503, description = "No storage peer is available, or the cluster state is unreachable")))]
pub async fn ready(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let r = state.rm.readiness().await;
    if let Some(e) = r.store_error {
        return Err(ApiError::state_unavailable(format!("Not ready: {e}")));
    }
    if r.available == 0 {
        return Err(ApiError::unavailable(format!(
            "Not ready: no storage peer is available (0 of {} registered)",
            r.registered
        )));
    }
    Ok(Json(
        json!({"status": "ready", "available_peers": r.available, "peers": r.registered}),
    ))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(health, ready))]
pub struct HealthDoc;

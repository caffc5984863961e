//! Healing endpoints: `GET /api/v4/repair` (what the repair loop queues, runs and did) and
//! `POST`/`GET /api/v4/peers/{peer_id}/drain` (drain a peer: no new placements, every object copied to other
//! peers; then removing the peer loses nothing).

use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::Json;

use crate::api::admin::Admin;
use crate::api::state::AppState;
use crate::cluster::{DrainStatus, RepairStatus};
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::{PathParams, RouteTable};

pub const REPAIR: &str = "/api/v4/repair";
pub const DRAIN: &str = "/api/v4/peers/{peer_id}/drain";

pub fn routes(t: RouteTable, s: &AppState) -> RouteTable {
    t.route(Method::GET, REPAIR, repair_status, s.clone())
        .route(Method::POST, DRAIN, start_drain, s.clone())
        .route(Method::GET, DRAIN, drain_status, s.clone())
}

/// Repair status: queued, running and done work of the repair loop.
///
/// The repair loop runs on one router of the space (the leader). It restores the replication factor of
/// objects whose holders were unavailable for longer than `MICTLANX_ROUTER_REPAIR_DELAY`, applies pending
/// deletes (tombstones, stale copies) and drains peers. Every router answers: the leader with its own
/// loop, the others with the leader's last published status in `leader_status`.
#[utoipa::path(get, path = "/api/v4/repair", tag = "healing",
    responses((status = 200, description = "The repair loop's status", body = RepairStatus),
        (status = 503, description = "The cluster state is unreachable")))]
pub async fn repair_status(State(s): State<AppState>) -> Json<RepairStatus> {
    Json(s.rm.repair_status().await)
}

/// Drain a peer: no new copies are placed on it, and every object it holds is copied to other peers
/// until each has its full replication factor without it.
///
/// Progress is at `GET` on the same path. The peer keeps serving reads meanwhile. Once the state is
/// `done`, removing the peer (`DELETE /api/v4/peers/{peer_id}`) leaves every object with its factor.
#[utoipa::path(post, path = "/api/v4/peers/{peer_id}/drain", tag = "healing",
    params(("peer_id" = String, Path, description = "A registered peer")),
    security(("bearer" = [])),
    responses((status = 202, description = "Drain started", body = DrainStatus),
        (status = 401, description = "admin token missing or wrong"),
        (status = 404, description = "No such peer"),
        (status = 503, description = "The cluster state is unreachable")))]
pub async fn start_drain(
    _: Admin,
    State(s): State<AppState>,
    params: PathParams,
) -> ApiResult<(StatusCode, Json<DrainStatus>)> {
    let peer_id = params.required("peer_id")?;
    let status = s.rm.start_drain(peer_id).await?;
    Ok((StatusCode::ACCEPTED, Json(status)))
}

/// Progress of a peer's drain: state, objects total and done, bytes copied.
#[utoipa::path(get, path = "/api/v4/peers/{peer_id}/drain", tag = "healing",
    params(("peer_id" = String, Path, description = "A peer")),
    responses((status = 200, description = "The drain's progress", body = DrainStatus),
        (status = 404, description = "No drain was started for this peer"),
        (status = 503, description = "The cluster state is unreachable")))]
pub async fn drain_status(
    State(s): State<AppState>,
    params: PathParams,
) -> ApiResult<Json<DrainStatus>> {
    let peer_id = params.required("peer_id")?;
    match s.rm.drain_status(peer_id).await? {
        Some(status) => Ok(Json(status)),
        None => Err(ApiError::not_found(format!("No drain of peer {peer_id}"))),
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(repair_status, start_drain, drain_status),
    components(schemas(RepairStatus, DrainStatus, crate::cluster::RepairTotals, crate::cluster::RepairRound)),
    tags((name = "healing", description = "Repair, tombstones and drains"))
)]
pub struct RepairDoc;

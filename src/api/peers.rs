//! Peer management endpoints #5–#10 (`docs/router-api.md` §6.1): add, list, remove peers and the per-peer
//! stats fan-out, all backed by the replica manager.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::Json;
use serde_json::{json, Value};

use crate::api::admin::Admin;
use crate::api::state::AppState;
use crate::cluster::{PeerInfo, PeerStats, PeersView};
use crate::validate::{
    error_item, list_of_objects, list_of_strings, query_all, query_int, Errors, Fields, LaxJson,
    OptionalLaxJson,
};
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::{PathParams, RouteTable};

/// Rows #5–#10 in spec order.
pub fn routes(t: RouteTable, s: &AppState) -> RouteTable {
    t.route(Method::POST, "/api/v4/xpeers", add_peers_bulk, s.clone())
        .route(Method::GET, "/api/v4/peers", list_peers, s.clone())
        .route(Method::POST, "/api/v4/peers", add_peer, s.clone())
        .route(
            Method::DELETE,
            "/api/v4/peers/{peer_id}",
            remove_peer,
            s.clone(),
        )
        .route(
            Method::DELETE,
            "/api/v4/xpeers",
            remove_peers_bulk,
            s.clone(),
        )
        .route(Method::GET, "/api/v4/peers/stats", peer_stats, s.clone())
}

/// `PeerPayload` (§5.2), documentation only: bodies are read with the lax validator.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PeerPayload {
    protocol: String,
    peer_id: String,
    hostname: String,
    port: i64,
}

/// Reads one `PeerPayload` in field order; the port is range-checked afterwards.
fn read_payload(f: &mut Fields<'_>) -> (String, String, String, i64) {
    (
        f.req_str("protocol"),
        f.req_str("peer_id"),
        f.req_str("hostname"),
        f.req_int("port", None),
    )
}

/// `PeerModel` with `ip_addr = hostname`, `api_version = 4`; a port outside 0..=65535 is a 422 at `loc`.
fn to_peer(
    p: (String, String, String, i64),
    loc: Vec<Value>,
    errors: &mut Errors,
) -> Option<PeerInfo> {
    let (protocol, peer_id, hostname, port) = p;
    match u16::try_from(port) {
        Ok(port) => Some(PeerInfo {
            peer_id,
            ip_addr: hostname,
            port,
            protocol,
            api_version: 4,
        }),
        Err(_) => {
            let (kind, msg, ctx) = if port < 0 {
                (
                    "greater_than_equal",
                    "Input should be greater than or equal to 0",
                    json!({"ge": 0}),
                )
            } else {
                (
                    "less_than_equal",
                    "Input should be less than or equal to 65535",
                    json!({"le": 65535}),
                )
            };
            let mut item = error_item(kind, loc, msg, json!(port));
            item["ctx"] = ctx;
            errors.absorb(ApiError::unprocessable(vec![item]));
            None
        }
    }
}

/// `MICTLANX_ROUTER_PEER_ALLOWLIST`: every host of a run-time registration must be inside it, or nothing
/// is registered (403 naming the first host outside). Seed peers never pass through here.
fn check_allowlist(state: &AppState, peers: &[PeerInfo]) -> ApiResult<()> {
    let Some(allow) = &state.config.security.peer_allowlist else {
        return Ok(());
    };
    match peers.iter().find(|p| !allow.allows(&p.ip_addr)) {
        None => Ok(()),
        Some(p) => {
            tracing::warn!(peer_id = %p.peer_id, host = %p.ip_addr, "peer registration refused by the allowlist");
            Err(ApiError::forbidden(format!(
                "Peer host '{}' is not in MICTLANX_ROUTER_PEER_ALLOWLIST",
                p.ip_addr
            )))
        }
    }
}

async fn register(state: &AppState, peers: Vec<PeerInfo>) -> ApiResult<StatusCode> {
    check_allowlist(state, &peers)?;
    state.rm.add_peers(peers).await.map_err(|e| {
        tracing::error!(error = %e, "adding peers failed");
        ApiError::internal("ADD.PEERS.FAILED")
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add storage peers
///
/// Registers (or updates) every peer of the list; a later entry with the same `peer_id` wins. Each new or
/// changed peer is probed at once; the change is kept across restarts. This is the call the MictlanX
/// client makes.
#[utoipa::path(post, path = "/api/v4/xpeers", tag = "peers", security(("bearer" = [])),
    request_body(content = Vec<PeerPayload>, example = json!([{"protocol": "http", "peer_id": "mictlanx-peer-3", "hostname": "10.0.0.7", "port": 25000}])),
    responses((status = 204, description = "Registered"),
        (status = 401, description = "Admin token missing or wrong"),
        (status = 403, description = "A hostname outside MICTLANX_ROUTER_PEER_ALLOWLIST"),
        (status = 413, description = "JSON body above 16 MiB"),
        (status = 422, description = "Not a list of peers, or a field of the wrong type"),
        (status = 500, description = "The registry could not be saved (nothing changed)")))]
pub async fn add_peers_bulk(
    _: Admin,
    State(state): State<AppState>,
    LaxJson(body): LaxJson,
) -> ApiResult<StatusCode> {
    let items = list_of_objects(&body, &["body"], read_payload)?;
    let mut errors = Errors::new();
    let peers: Vec<PeerInfo> = items
        .into_iter()
        .enumerate()
        .filter_map(|(i, p)| to_peer(p, vec![json!("body"), json!(i), json!("port")], &mut errors))
        .collect();
    errors.finish()?;
    register(&state, peers).await
}

/// List storage peers
///
/// Every registered peer, split into those that answer their health probes and those that do not yet or
/// no longer do, each list sorted by `peer_id`.
#[utoipa::path(get, path = "/api/v4/peers", tag = "peers",
    responses((status = 200, description = "Available and unavailable peers", body = PeersView)))]
pub async fn list_peers(State(state): State<AppState>) -> ApiResult<Json<PeersView>> {
    let view = state.rm.get_peers().await.map_err(ApiError::from)?;
    Ok(Json(view))
}

/// Add a storage peer
///
/// Registers (or updates) one peer; it is probed at once and the change is kept across restarts.
#[utoipa::path(post, path = "/api/v4/peers", tag = "peers", request_body = PeerPayload,
    security(("bearer" = [])),
    responses((status = 204, description = "Registered"),
        (status = 401, description = "Admin token missing or wrong"),
        (status = 403, description = "A hostname outside MICTLANX_ROUTER_PEER_ALLOWLIST"),
        (status = 413, description = "JSON body above 16 MiB"),
        (status = 422, description = "A field missing or of the wrong type"),
        (status = 500, description = "The registry could not be saved (nothing changed)")))]
pub async fn add_peer(
    _: Admin,
    State(state): State<AppState>,
    LaxJson(body): LaxJson,
) -> ApiResult<StatusCode> {
    let mut f = Fields::new(&body, &["body"])?;
    let payload = read_payload(&mut f);
    let mut errors = f.into_errors();
    let peer = to_peer(payload, vec![json!("body"), json!("port")], &mut errors);
    errors.finish()?;
    register(&state, peer.into_iter().collect()).await
}

/// Remove a storage peer
///
/// Forgets the peer and the replicas recorded on it; an unknown id is not an error.
#[utoipa::path(delete, path = "/api/v4/peers/{peer_id}", tag = "peers",
    params(("peer_id" = String, Path, description = "The peer's id, used exactly as given", example = "mictlanx-peer-3")),
    security(("bearer" = [])),
    responses((status = 204, description = "Removed (or was not registered)"),
        (status = 401, description = "Admin token missing or wrong"),
        (status = 500, description = "The registry could not be saved")))]
pub async fn remove_peer(
    _: Admin,
    State(state): State<AppState>,
    params: PathParams,
) -> ApiResult<StatusCode> {
    let peer_id = params.required("peer_id")?.to_string();
    state
        .rm
        .remove_peers(vec![peer_id.clone()])
        .await
        .map_err(|e| {
            tracing::error!(error = %e, peer_id, "removing a peer failed");
            ApiError::internal(format!("Something went wrong removin a peer {peer_id}"))
        })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Remove storage peers
///
/// Removes the peers named in a JSON list body and in repeated `peers` query parameters (both may be
/// used; no body is an empty list).
#[utoipa::path(delete, path = "/api/v4/xpeers", tag = "peers", security(("bearer" = [])),
    request_body(content = Option<Vec<String>>, example = json!(["mictlanx-peer-3"])),
    params(("peers" = Option<Vec<String>>, Query, description = "A peer id; repeat the parameter for several")),
    responses((status = 204, description = "Removed"),
        (status = 401, description = "Admin token missing or wrong"),
        (status = 413, description = "JSON body above 16 MiB"),
        (status = 422, description = "The body is not a list of strings"),
        (status = 500, description = "The registry could not be saved")))]
pub async fn remove_peers_bulk(
    _: Admin,
    State(state): State<AppState>,
    uri: Uri,
    OptionalLaxJson(body): OptionalLaxJson,
) -> ApiResult<StatusCode> {
    let mut ids = match &body {
        Some(v) => list_of_strings(v, &["body"])?,
        None => Vec::new(),
    };
    for id in query_all(uri.query(), "peers") {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Ok(StatusCode::NO_CONTENT);
    }
    state.rm.remove_peers(ids.clone()).await.map_err(|e| {
        tracing::error!(error = %e, "removing peers failed");
        let quoted: Vec<String> = ids.iter().map(|i| format!("'{i}'")).collect();
        ApiError::internal(format!(
            "Something went wrong removing a peers [{}]",
            quoted.join(", ")
        ))
    })?;
    Ok(StatusCode::NO_CONTENT)
}

/// Usage of every available peer
///
/// Asks every available peer for its disk use and its objects (a window `start`..`end` of them); peers
/// that do not answer are left out, so `{}` means none answered.
#[utoipa::path(get, path = "/api/v4/peers/stats", tag = "peers",
    params(("start" = Option<String>, Query, description = "An integer: first object of the window (default 0)", example = "0"),
        ("end" = Option<String>, Query, description = "An integer: end of the window (default 100)", example = "100")),
    responses((status = 200, description = "Statistics by peer id", body = BTreeMap<String, PeerStats>),
        (status = 422, description = "`start` or `end` is not an integer")))]
pub async fn peer_stats(
    State(state): State<AppState>,
    uri: Uri,
) -> ApiResult<Json<BTreeMap<String, PeerStats>>> {
    let mut errors = Errors::new();
    let start = errors.take(query_int(uri.query(), "start", 0), 0);
    let end = errors.take(query_int(uri.query(), "end", 100), 100);
    errors.finish()?;
    let stats = state
        .rm
        .get_stats(start, end)
        .await
        .map_err(ApiError::from)?;
    Ok(Json(stats))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        add_peers_bulk,
        list_peers,
        add_peer,
        remove_peer,
        remove_peers_bulk,
        peer_stats
    ),
    components(schemas(PeerPayload, PeerInfo, PeersView, PeerStats))
)]
pub struct PeersDoc;

//! The router's HTTP API: one module per resource; [`table`] lists every route in the spec's matching order
//! (docs/router-api.md §4).

pub mod admin;
pub mod buckets;
pub mod cache;
pub mod cors;
pub mod docs;
pub mod health;
pub mod metrics;
pub mod peers;
pub mod repair;
pub mod state;

use utoipa::OpenApi;

use crate::api::state::AppState;
use mictlanx_http::RouteTable;

/// The ordered route table (#1 docs, #2 metrics, #3 health, #4 ready, #5–#10 peers, #11–#24 buckets,
/// #25–#27 cache).
pub fn table(s: &AppState) -> RouteTable {
    let t = RouteTable::new();
    let t = docs::routes(t, s);
    let t = metrics::routes(t, s);
    let t = health::routes(t, s);
    let t = peers::routes(t, s);
    let t = repair::routes(t, s);
    let t = buckets::bucket_routes(t, s);
    cache::routes(t, s)
}

/// Every module's OpenAPI paths, merged into `/openapi.json`.
pub fn openapi_parts() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        health::HealthDoc::openapi(),
        metrics::MetricsDoc::openapi(),
        peers::PeersDoc::openapi(),
        repair::RepairDoc::openapi(),
        cache::CacheDoc::openapi(),
        buckets::BucketsApi::openapi(),
    ]
}

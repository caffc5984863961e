//! The peer's ordered route table (`peer-api.md` §6, plus `GET /metrics`): first path+method match wins.

use std::sync::Arc;

use axum::http::Method;

use super::{download, metadata, metrics, objects, put_metadata, replicate, stats, upload};
use crate::state::PeerState;
use mictlanx_http::RouteTable;

/// Every endpoint in the spec's matching order.
pub fn table(s: &Arc<PeerState>) -> RouteTable {
    let s = s.clone();
    RouteTable::new()
        .route(Method::GET, "/health", stats::health, s.clone())
        .route(Method::GET, "/metrics", metrics::metrics, s.clone())
        .route(Method::GET, "/api/v4/stats/ufs", stats::ufs, s.clone())
        .route(Method::GET, "/api/v4/stats", stats::stats, s.clone())
        .route(
            Method::GET,
            "/api/v4/xballs/size",
            stats::xballs_size,
            s.clone(),
        )
        .route(Method::GET, "/api/v4/xballs", stats::xballs, s.clone())
        .route(
            Method::GET,
            "/api/v4/balls/len",
            stats::balls_len,
            s.clone(),
        )
        .route(
            Method::DELETE,
            "/api/v4/tasks",
            stats::delete_tasks,
            s.clone(),
        )
        .route(Method::POST, "/api/v4/nodes", stats::add_node, s.clone())
        .route(
            Method::GET,
            "/api/v4/peers/state",
            stats::peers_state,
            s.clone(),
        )
        .route(
            Method::GET,
            "/api/v4/buckets/{bucket_id}/metadata",
            metadata::bucket_metadata,
            s.clone(),
        )
        .route(
            Method::POST,
            "/api/v4/buckets/{bucket_id}/metadata",
            put_metadata::put_metadata,
            s.clone(),
        )
        .route(
            Method::GET,
            "/api/v4/buckets/{bucket_id}/metadata/{key}",
            metadata::get_metadata,
            s.clone(),
        )
        .route(
            Method::GET,
            "/api/v4/buckets/{bucket_id}/metadata/{ball_id}/group",
            metadata::ball_group,
            s.clone(),
        )
        .route(
            Method::GET,
            "/api/v4/buckets/{bucket_id}/metadata/{ball_id}/chunks",
            metadata::ball_chunks,
            s.clone(),
        )
        .route(
            Method::POST,
            "/api/v4/buckets/data/{task_id}",
            upload::upload_multipart,
            s.clone(),
        )
        .route(
            Method::POST,
            "/api/v4/buckets/data/{task_id}/chunked",
            upload::upload_chunked,
            s.clone(),
        )
        .route(
            Method::GET,
            "/api/v4/buckets/{bucket_id}/{key}/size",
            objects::size,
            s.clone(),
        )
        .route(
            Method::POST,
            "/api/v4/buckets/{bucket_id}/{key}/disable",
            objects::disable,
            s.clone(),
        )
        .route(
            Method::POST,
            "/api/v4/buckets/{bucket_id}/{key}/replicate",
            replicate::replicate,
            s.clone(),
        )
        .route(
            Method::DELETE,
            "/api/v4/buckets/{bucket_id}/bid/{ball_id}",
            objects::delete_ball,
            s.clone(),
        )
        .route(
            Method::GET,
            "/api/v4/buckets/{bucket_id}/{key}",
            download::get,
            s.clone(),
        )
        .route(
            Method::DELETE,
            "/api/v4/buckets/{bucket_id}/{key}",
            objects::delete,
            s,
        )
}

//! The peer's ordered route table (`docs/peer-api.md` §6, plus `GET /metrics`): first path+method match wins.

use std::sync::Arc;

use axum::http::Method;

use super::{
    digests, download, metadata, metrics, objects, put_metadata, replicate, stats, upload,
};
use crate::state::PeerState;
use mictlanx_http::RouteTable;
use mictlanx_proto::peer::paths;

/// Every endpoint in the spec's matching order.
pub fn table(s: &Arc<PeerState>) -> RouteTable {
    let s = s.clone();
    RouteTable::new()
        .route(Method::GET, paths::HEALTH, stats::health, s.clone())
        .route(Method::GET, paths::METRICS, metrics::metrics, s.clone())
        .route(Method::GET, paths::STATS_UFS, stats::ufs, s.clone())
        .route(Method::GET, paths::STATS, stats::stats, s.clone())
        .route(
            Method::GET,
            paths::XBALLS_SIZE,
            stats::xballs_size,
            s.clone(),
        )
        .route(
            Method::GET,
            paths::XBALLS_DIGESTS,
            digests::digests,
            s.clone(),
        )
        .route(Method::GET, paths::XBALLS, stats::xballs, s.clone())
        .route(Method::GET, paths::BALLS_LEN, stats::balls_len, s.clone())
        .route(Method::DELETE, paths::TASKS, stats::delete_tasks, s.clone())
        .route(Method::POST, paths::NODES, stats::add_node, s.clone())
        .route(
            Method::GET,
            paths::PEERS_STATE,
            stats::peers_state,
            s.clone(),
        )
        .route(
            Method::GET,
            paths::BUCKET_METADATA,
            metadata::bucket_metadata,
            s.clone(),
        )
        .route(
            Method::POST,
            paths::BUCKET_METADATA,
            put_metadata::put_metadata,
            s.clone(),
        )
        .route(
            Method::GET,
            paths::OBJECT_METADATA,
            metadata::get_metadata,
            s.clone(),
        )
        .route(
            Method::GET,
            paths::BALL_GROUP,
            metadata::ball_group,
            s.clone(),
        )
        .route(
            Method::GET,
            paths::BALL_CHUNKS,
            metadata::ball_chunks,
            s.clone(),
        )
        .route(
            Method::POST,
            paths::UPLOAD,
            upload::upload_multipart,
            s.clone(),
        )
        .route(
            Method::POST,
            paths::UPLOAD_CHUNKED,
            upload::upload_chunked,
            s.clone(),
        )
        .route(Method::GET, paths::OBJECT_SIZE, objects::size, s.clone())
        .route(Method::POST, paths::DISABLE, objects::disable, s.clone())
        .route(
            Method::POST,
            paths::REPLICATE,
            replicate::replicate,
            s.clone(),
        )
        .route(Method::DELETE, paths::BALL, objects::delete_ball, s.clone())
        .route(Method::GET, paths::OBJECT, download::get, s.clone())
        .route(Method::DELETE, paths::OBJECT, objects::delete, s)
}

//! #5a `GET /api/v4/xballs/digests` (`docs/peer-api.md`): one digest per shard of the committed objects, read
//! from the index where every change keeps them ([`crate::store::shards`]); O(shards), whatever the number
//! of objects. A router compares them with the digests of its last pass and lists only the shards that
//! differ (`GET /api/v4/xballs?shard=N`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::reply::json;
use crate::state::PeerState;
use mictlanx_proto::peer::{ShardDigest, ShardDigests};
use mictlanx_proto::shard::SHARDS;

pub async fn digests(State(s): State<Arc<PeerState>>) -> Response {
    let digests = s
        .store
        .index()
        .shard_digests()
        .iter()
        .map(|d| ShardDigest(*d))
        .collect();
    json(
        StatusCode::OK,
        &ShardDigests {
            shards: SHARDS,
            digests,
        },
    )
}

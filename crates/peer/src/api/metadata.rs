//! Metadata reads (`docs/peer-api.md` §6 #10, #12, #13, #14): only committed objects are visible.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::listing_json;
use super::paging::BucketPage;
use super::reply::{id_param, json, not_found, with_version_headers};
use crate::state::PeerState;
use mictlanx_http::error::ApiError;
use mictlanx_http::PathParams;
use mictlanx_proto::model::Metadata;
use mictlanx_proto::peer::{GetMetadataResponse, PeerBallGroup};

type St = State<Arc<PeerState>>;

/// #10 `GET /api/v4/buckets/{bucket_id}/metadata`: the bucket's objects sorted by key; optionally only keys
/// starting with `prefix`, strictly after `start_after`, at most `limit` (a keyset page from the sorted
/// index: O(log n + page)).
pub async fn bucket_metadata(State(s): St, p: PathParams, uri: Uri) -> Result<Response, ApiError> {
    let b = id_param(&p, "bucket_id")?;
    let page = BucketPage::parse(&uri)?;
    let body = {
        let index = s.store.index();
        let balls = index
            .bucket_page(b, &page.prefix, page.start_after.as_deref())
            .take(page.limit.unwrap_or(usize::MAX))
            .map(|e| &e.meta);
        listing_json::bucket_page(&s.config.node_id, balls)
    };
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// #12 `GET /api/v4/buckets/{bucket_id}/metadata/{key}`, with `Object-Version` and `Replication-Factor`.
pub async fn get_metadata(State(s): St, p: PathParams) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
    let entry = s.store.get(b, k).ok_or_else(|| not_found(b, k))?;
    let res = json(
        StatusCode::OK,
        &GetMetadataResponse {
            service_time: started.elapsed().as_millis() as i64,
            peer_id: s.config.node_id.clone(),
            local_peer_id: s.config.node_id.clone(),
            metadata: entry.meta.clone(),
        },
    );
    Ok(with_version_headers(res, &entry))
}

/// Objects of the bucket with this `ball_id`, by integer `tags.index` (missing last), then key.
fn group(s: &PeerState, b: &str, ball: &str) -> Vec<Metadata> {
    let mut balls: Vec<Metadata> = s
        .store
        .index()
        .bucket(b)
        .filter(|e| e.meta.ball_id == ball)
        .map(|e| e.meta.clone())
        .collect();
    balls.sort_by(|x, y| {
        let rank = |m: &Metadata| m.index().map_or((1, 0), |i| (0, i));
        rank(x).cmp(&rank(y)).then_with(|| x.key.cmp(&y.key))
    });
    balls
}

/// #13 `GET /api/v4/buckets/{bucket_id}/metadata/{ball_id}/group`.
pub async fn ball_group(State(s): St, p: PathParams) -> Result<Response, ApiError> {
    let (b, ball) = (id_param(&p, "bucket_id")?, id_param(&p, "ball_id")?);
    let balls = group(&s, b, ball);
    let size: u64 = balls.iter().map(|m| m.size).sum();
    Ok(json(
        StatusCode::OK,
        &PeerBallGroup {
            bucket_id: b.to_string(),
            ball_id: ball.to_string(),
            size,
            balls,
        },
    ))
}

/// #14 `GET /api/v4/buckets/{bucket_id}/metadata/{ball_id}/chunks`: the bare list of #13.
pub async fn ball_chunks(State(s): St, p: PathParams) -> Result<Response, ApiError> {
    let (b, ball) = (id_param(&p, "bucket_id")?, id_param(&p, "ball_id")?);
    Ok(json(StatusCode::OK, &group(&s, b, ball)))
}

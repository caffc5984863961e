//! Object endpoints (`docs/peer-api.md` §6 #17, #18, #20, #22): size, disable and deletes (the data GET, #21,
//! is `download.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::reply::{
    id_param, json, not_found, object_version, store_error, unsigned_header, with_n_deletes,
};
use crate::state::PeerState;
use crate::store::DeleteOutcome;
use mictlanx_http::error::ApiError;
use mictlanx_http::PathParams;
use mictlanx_proto::headers::{IF_VERSION_AT_MOST, OBJECT_VERSION};
use mictlanx_proto::peer::{DeleteBallResponse, DeleteResponse, GetSizeByKey};

type St = State<Arc<PeerState>>;

/// #17 `GET /api/v4/buckets/{bucket_id}/{key}/size`.
pub async fn size(State(s): St, p: PathParams) -> Result<Response, ApiError> {
    let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
    let entry = s.store.get(b, k).ok_or_else(|| not_found(b, k))?;
    Ok(json(
        StatusCode::OK,
        &GetSizeByKey {
            bucket_id: b.to_string(),
            key: k.to_string(),
            peer_id: s.config.node_id.clone(),
            size: entry.meta.size,
        },
    ))
}

/// #18 `POST /api/v4/buckets/{bucket_id}/{key}/disable` (idempotent); `Object-Version` raises the version.
pub async fn disable(
    State(s): St,
    p: PathParams,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
    let version = object_version(&headers)?;
    match s.store.disable(b, k, version).await.map_err(store_error)? {
        Some(_) => Ok(StatusCode::NO_CONTENT.into_response()),
        None => Err(not_found(b, k)),
    }
}

/// #20 `DELETE /api/v4/buckets/{bucket_id}/bid/{ball_id}`.
pub async fn delete_ball(State(s): St, p: PathParams) -> Response {
    let run = async {
        let (b, ball) = (id_param(&p, "bucket_id")?, id_param(&p, "ball_id")?);
        let n = s.store.delete_ball(b, ball).await.map_err(store_error)?;
        Ok::<_, ApiError>(with_n_deletes(
            json(
                StatusCode::OK,
                &DeleteBallResponse {
                    n_deletes: n,
                    ball_id: ball.to_string(),
                },
            ),
            n,
        ))
    };
    run.await
        .unwrap_or_else(|e| with_n_deletes(e.into_response(), 0))
}

/// #22 `DELETE /api/v4/buckets/{bucket_id}/{key}`: `n-deletes` on every answer, 404 and 409 included.
/// `If-Version-At-Most` keeps a newer committed version (409 with its `Object-Version`).
pub async fn delete(State(s): St, p: PathParams, headers: HeaderMap) -> Response {
    let run = async {
        let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
        let at_most = unsigned_header(&headers, IF_VERSION_AT_MOST, "If-Version-At-Most")?;
        match s.store.delete(b, k, at_most).await.map_err(store_error)? {
            DeleteOutcome::Deleted => Ok(with_n_deletes(
                json(
                    StatusCode::OK,
                    &DeleteResponse {
                        n_deletes: 1,
                        key: k.to_string(),
                    },
                ),
                1,
            )),
            DeleteOutcome::Absent => Err(not_found(b, k)),
            DeleteOutcome::Newer { current } => {
                let detail = format!("{b}@{k} has a newer version {current}");
                let mut res = with_n_deletes(ApiError::conflict(detail).into_response(), 0);
                res.headers_mut()
                    .insert(OBJECT_VERSION, HeaderValue::from(current));
                Ok(res)
            }
        }
    };
    run.await
        .unwrap_or_else(|e: ApiError| with_n_deletes(e.into_response(), 0))
}

//! Buckets and objects (`docs/router-api.md` §6.2, endpoints #11–#24): the data path's HTTP edge. One
//! submodule per concern; [`bucket_routes`] adds the fourteen rows in the spec's table order.

pub mod cached;
pub mod data_meta;
pub mod delete;
pub mod download;
pub mod get;
pub mod list_page;
pub mod listing;
pub mod merge;
pub mod meta;
pub mod models;
pub mod put;
pub mod ranged;
pub mod upload;

use axum::http::Method;

use crate::api::state::AppState;
use mictlanx_http::routing::RouteTable;

pub const SIZE: &str = "/api/v4/buckets/{bucket_id}/{key}/size";
pub const BUCKET_METADATA: &str = "/api/v4/buckets/{bucket_id}/metadata";
pub const OBJECT_METADATA: &str = "/api/v4/buckets/{bucket_id}/metadata/{key}";
pub const UPDATE_METADATA: &str = "/api/v4/u/buckets/{bucket_id}/{key}";
pub const PUT_METADATA: &str = "/api/v4/buckets/{bucket_id}/metadata";
pub const PUT_DATA: &str = "/api/v4/buckets/data/{task_id}";
pub const PUT_CHUNKED: &str = "/api/v4/buckets/data/{task_id}/chunked";
pub const PUT_CHUNKED_V1: &str = "/api/v4/buckets/data/{task_id}/chunkedv1";
pub const DISABLE: &str = "/api/v4/buckets/{bucket_id}/{key}/disable";
pub const MERGE: &str = "/api/v4/buckets/{bucket_id}/{ball_id}/merge";
pub const OBJECT: &str = "/api/v4/buckets/{bucket_id}/{key}";
pub const CHUNKS: &str = "/api/v4/buckets/{bucket_id}/metadata/{ball_id}/chunks";
pub const DELETE_BALL: &str = "/api/v4/buckets/{bucket_id}/bid/{ball_id}";

/// Rows #11–#24 in the exact order of `docs/router-api.md` §4 (the order decides shadowing).
pub fn bucket_routes(t: RouteTable, s: &AppState) -> RouteTable {
    let s = s.clone();
    t.route(Method::GET, SIZE, meta::size, s.clone())
        .route(
            Method::GET,
            BUCKET_METADATA,
            listing::bucket_metadata,
            s.clone(),
        )
        .route(
            Method::GET,
            OBJECT_METADATA,
            meta::object_metadata,
            s.clone(),
        )
        .route(
            Method::POST,
            UPDATE_METADATA,
            delete::update_metadata,
            s.clone(),
        )
        .route(Method::POST, PUT_METADATA, put::put_metadata, s.clone())
        .route(
            Method::POST,
            PUT_DATA,
            upload::put_data_multipart,
            s.clone(),
        )
        .route(Method::POST, PUT_CHUNKED, upload::put_chunked, s.clone())
        .route(
            Method::POST,
            PUT_CHUNKED_V1,
            upload::put_chunked_v1,
            s.clone(),
        )
        .route(Method::POST, DISABLE, delete::disable, s.clone())
        .route(Method::GET, MERGE, merge::merge, s.clone())
        .route(Method::GET, OBJECT, get::get_object, s.clone())
        .route(Method::GET, CHUNKS, meta::chunks, s.clone())
        .route(Method::DELETE, OBJECT, delete::delete_by_key, s.clone())
        .route(Method::DELETE, DELETE_BALL, delete::delete_by_ball, s)
}

/// Same rows as [`bucket_routes`] (the resource-module convention of `api::mod`).
pub fn routes(t: RouteTable, s: &AppState) -> RouteTable {
    bucket_routes(t, s)
}

/// OpenAPI paths of #11–#24, for `api::docs` to merge.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        meta::size,
        listing::bucket_metadata,
        meta::object_metadata,
        delete::update_metadata,
        put::put_metadata,
        upload::put_data_multipart,
        upload::put_chunked,
        upload::put_chunked_v1,
        delete::disable,
        merge::merge,
        get::get_object,
        meta::chunks,
        delete::delete_by_key,
        delete::delete_by_ball,
    ),
    components(schemas(
        models::PutMetadataDto,
        models::PutMetadataResponse,
        models::RouterPutChunkedResponse,
        models::GetMetadataOut,
        models::GetSizeByKey,
        models::BucketPage,
        models::BallMetadata,
        models::DeletedByKeyResponse,
        models::DeletedByBallIdResponse,
        mictlanx_proto::model::Metadata,
    )),
    tags((name = "buckets", description = "Buckets and objects"))
)]
pub struct BucketsApi;

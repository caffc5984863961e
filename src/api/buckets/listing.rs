//! The bucket listing endpoint (`docs/router-api.md` #12): one page with `limit` (plus `start_after`,
//! `prefix`), or, without `limit`, the complete listing streamed a merge page at a time, so the router's
//! memory stays bounded whatever the bucket's size ([`super::list_page`]).

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

use super::list_page::{list_bucket_page, BucketLister, MAX_PAGE};
use super::models::BucketPage;
use crate::api::state::AppState;
use crate::ids::BucketId;
use crate::validate::{query_int, query_str};
use mictlanx_http::error::{ApiError, ApiResult};
use mictlanx_http::routing::PathParams;

/// Objects merged per chunk of the streamed complete listing.
const STREAM_PAGE: usize = 1000;

/// Asks a page (a request with `limit`) to be handed over as a [`super::list_page::ListedPage`] in the
/// answer's extensions, with an empty body, instead of written as JSON: set only by an in-process caller (the
/// S3 facade), since extensions never cross the wire. It saves writing and parsing the page again.
#[derive(Debug, Clone, Copy)]
pub struct PageInExtensions;

/// The listing's query: `limit` (`None` = the complete listing), `start_after`, `prefix`.
struct ListQuery {
    limit: Option<usize>,
    start_after: Option<String>,
    prefix: String,
}

impl ListQuery {
    fn parse(raw: Option<&str>) -> ApiResult<Self> {
        let limit = match query_int(raw, "limit", 0)? {
            0 if query_str(raw, "limit", "").is_empty() => None,
            n if (1..=MAX_PAGE as i64).contains(&n) => Some(n as usize),
            n => {
                return Err(ApiError::unprocessable(vec![json!({
                    "type": "value_error", "loc": ["query", "limit"],
                    "msg": format!("limit must be between 1 and {MAX_PAGE}"), "input": n.to_string(),
                })]))
            }
        };
        Ok(ListQuery {
            limit,
            start_after: Some(query_str(raw, "start_after", "")).filter(|s| !s.is_empty()),
            prefix: query_str(raw, "prefix", ""),
        })
    }
}

/// List the objects of a bucket
///
/// Asks every available peer for its objects in the bucket and lists each key once (the newest copy by
/// `tags.updated_at`, on a tie the smallest peer id), sorted by key; deleted objects are left out.
/// With `limit`, one page of at most `limit` objects: pass its `next_start_after` as `start_after` for
/// the next page (`null` on the last page). Without `limit`, the complete listing (streamed; any size).
/// A peer that fails or does not answer within the fan-out deadline is left out of `peer_ids`.
#[utoipa::path(
    get,
    path = "/api/v4/buckets/{bucket_id}/metadata",
    tag = "buckets",
    params(
        ("bucket_id" = String, Path, description = "Bucket (canonical form is used)", example = "demo"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 10000, description = "At most this many objects (1 to 10000): one page. Absent = the complete listing"),
        ("start_after" = Option<String>, Query, description = "Only keys after this one (the `next_start_after` of the previous page)"),
        ("prefix" = Option<String>, Query, description = "Only keys that start with this"),
    ),
    responses(
        (status = 200, description = "The bucket's objects, the peers that answered, and where the next page starts", body = BucketPage),
        (status = 400, description = "An id that keeps no character in canonical form"),
        (status = 422, description = "`limit` is not an integer between 1 and 10000"),
    )
)]
pub async fn bucket_metadata(
    State(s): State<AppState>,
    params: PathParams,
    RawQuery(raw): RawQuery,
    in_process: Option<Extension<PageInExtensions>>,
) -> ApiResult<Response> {
    let b = BucketId::parse(params.required("bucket_id")?)?;
    let q = ListQuery::parse(raw.as_deref())?;
    let b = b.as_str();
    match q.limit {
        Some(limit) => {
            let page = list_bucket_page(&s, b, &q.prefix, q.start_after.as_deref(), limit).await?;
            if in_process.is_some() {
                let mut res = StatusCode::OK.into_response();
                res.extensions_mut().insert(page);
                return Ok(res);
            }
            Ok(Json(BucketPage {
                bucket_id: b.to_string(),
                peers_ids: page.peer_ids.clone(),
                peer_ids: page.peer_ids,
                balls: page.balls,
                next_start_after: page.next_start_after,
            })
            .into_response())
        }
        None => {
            let lister =
                BucketLister::open(&s, b, &q.prefix, q.start_after.as_deref(), STREAM_PAGE).await?;
            Ok(streamed(b, lister))
        }
    }
}

/// Where the streamed listing is.
enum Phase {
    Head,
    Balls { first: bool },
    Done,
}

/// The complete listing as one JSON object, written a merge page at a time: `bucket_id`, `balls`, then
/// the peers that answered every call and `"next_start_after": null`. A state store failure midway
/// aborts the body (the client sees a truncated answer, never a short list that looks complete).
fn streamed(bucket: &str, lister: BucketLister) -> Response {
    let head = format!("{{\"bucket_id\":{},\"balls\":[", json!(bucket));
    let stream = futures::stream::unfold(
        (Phase::Head, lister, head),
        |(phase, mut lister, head)| async move {
            match phase {
                Phase::Head => {
                    let chunk = Bytes::from(head);
                    Some((
                        Ok(chunk),
                        (Phase::Balls { first: true }, lister, String::new()),
                    ))
                }
                Phase::Balls { first } => match lister.next_page(STREAM_PAGE).await {
                    Err(e) => {
                        tracing::warn!(error = ?e.detail(), "bucket listing aborted");
                        let err = std::io::Error::other("bucket listing aborted");
                        Some((Err(err), (Phase::Done, lister, String::new())))
                    }
                    Ok(balls) if balls.is_empty() && !lister.has_more() => {
                        let ids = json!(lister.peer_ids());
                        let tail = format!(
                            "],\"peers_ids\":{ids},\"peer_ids\":{ids},\"next_start_after\":null}}"
                        );
                        Some((Ok(Bytes::from(tail)), (Phase::Done, lister, String::new())))
                    }
                    Ok(balls) => {
                        let mut out = Vec::with_capacity(balls.len() * 256);
                        for (i, m) in balls.iter().enumerate() {
                            if !(first && i == 0) {
                                out.push(b',');
                            }
                            serde_json::to_writer(&mut out, m).expect("metadata serializes");
                        }
                        let first = first && balls.is_empty();
                        Some((
                            Ok(Bytes::from(out)),
                            (Phase::Balls { first }, lister, String::new()),
                        ))
                    }
                },
                Phase::Done => None,
            }
        },
    );
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response()
}

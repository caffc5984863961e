//! The MictlanX API, called in process: the S3 facade sends the router's own requests to the router's own
//! route table (no socket, no copy), so an S3 write is the MictlanX write — placement, fan-out to rf peers,
//! the write protocol, the cache and the replica manager — and an S3 read is the MictlanX read (failover,
//! hedging, resume, cache). Ids given here are MictlanX ids ([`super::names`]).

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use futures::Stream;
use http_body_util::BodyExt;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

use crate::api::buckets::get::{ReadMetadata, WithMetadata};
use crate::api::buckets::list_page::ListedPage;
use crate::api::buckets::listing::PageInExtensions;
use crate::datapath::late_tags::{LateTags, LateTagsApplied};
use mictlanx_proto::model::Metadata;

/// Largest JSON answer read from the API (a bucket listing of many objects is the large one).
const JSON_LIMIT: usize = 512 * 1024 * 1024;

/// Why a call to the MictlanX API failed.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("not found")]
    NotFound,
    /// The placement's `code` 666: with `Overwrite` (every S3 write), no peer is live to take the write.
    #[error("no peer is available to take the write")]
    AllHold,
    /// The body of an upload failed (client disconnect, bad digest, wrong length).
    #[error("upload body failed: {0}")]
    Body(String),
    #[error("MictlanX API answered {status}: {detail}")]
    Status { status: StatusCode, detail: String },
}

#[derive(Clone)]
pub struct Backend {
    api: axum::Router,
}

#[derive(Deserialize)]
struct Opened {
    tasks_ids: Vec<String>,
}

#[derive(Deserialize)]
struct MetadataOut {
    metadata: Metadata,
}

/// The answer of a read that asked for the object's metadata too ([`Backend::read_object`]).
pub enum ObjectRead {
    /// 200 or 206, streaming; with the metadata of the version it streams when the router could tell it.
    Bytes {
        res: Response,
        meta: Option<Metadata>,
    },
    /// 416: the range selects nothing of the object (with its metadata when known).
    Unsatisfiable { meta: Option<Metadata> },
}

/// What a new object is written with.
pub struct NewObject<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: u64,
    pub tags: BTreeMap<String, String>,
    pub content_type: String,
    pub replication_factor: u32,
}

impl Backend {
    /// `api` is the router's HTTP service without prefix.
    pub fn new(api: axum::Router) -> Self {
        Backend { api }
    }

    async fn call(&self, req: Request<Body>) -> Response {
        match self.api.clone().oneshot(req).await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    }

    async fn json<T: for<'de> Deserialize<'de>>(res: Response) -> Result<T, BackendError> {
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), JSON_LIMIT)
            .await
            .map_err(|e| BackendError::Status {
                status,
                detail: e.to_string(),
            })?;
        serde_json::from_slice(&bytes).map_err(|e| BackendError::Status {
            status,
            detail: format!("unexpected answer: {e}"),
        })
    }

    async fn error(res: Response) -> BackendError {
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        let detail = String::from_utf8_lossy(&bytes).into_owned();
        if status == StatusCode::NOT_FOUND {
            if detail.contains("666") {
                return BackendError::AllHold;
            }
            return BackendError::NotFound;
        }
        if status.as_u16() == 499 || status == StatusCode::BAD_REQUEST {
            return BackendError::Body(detail);
        }
        BackendError::Status { status, detail }
    }

    fn get(path: String) -> Request<Body> {
        Request::builder()
            .method(Method::GET)
            .uri(path)
            .body(Body::empty())
            .expect("a valid request")
    }

    /// The object's metadata; `None` when no replica holds it.
    pub async fn metadata(&self, b: &str, k: &str) -> Result<Option<Metadata>, BackendError> {
        let res = self
            .call(Self::get(format!("/api/v4/buckets/{b}/metadata/{k}")))
            .await;
        if res.status().is_success() {
            return Ok(Some(Self::json::<MetadataOut>(res).await?.metadata));
        }
        match Self::error(res).await {
            BackendError::NotFound => Ok(None),
            e => Err(e),
        }
    }

    /// Phase 1 of a write: place and open the upload; answers the task id for [`Backend::write_body`].
    pub async fn open_write(&self, o: &NewObject<'_>) -> Result<String, BackendError> {
        let body = json!({
            "bucket_id": o.bucket, "key": o.key, "ball_id": o.key, "checksum": "",
            "size": o.size, "tags": o.tags, "producer_id": "s3", "content_type": o.content_type,
            "is_disabled": false, "replication_factor": o.replication_factor,
        });
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v4/buckets/{}/metadata", o.bucket))
            .header(header::CONTENT_TYPE, "application/json")
            // an S3 PUT replaces the object, also when every peer holds it
            .header("overwrite", "1")
            .body(Body::from(body.to_string()))
            .expect("a valid request");
        let res = self.call(req).await;
        if !res.status().is_success() {
            return Err(Self::error(res).await);
        }
        let opened: Opened = Self::json(res).await?;
        opened
            .tasks_ids
            .into_iter()
            .next()
            .ok_or_else(|| BackendError::Status {
                status: StatusCode::BAD_GATEWAY,
                detail: "no upload task".into(),
            })
    }

    /// Phase 2 of a write: stream exactly `size` bytes; `Ok` once the write is committed, `Ok(true)` when
    /// every holder also recorded `late_tags` (set by the body before its last bytes).
    pub async fn write_body<S, E>(
        &self,
        task_id: &str,
        size: u64,
        body: S,
        late_tags: Option<LateTags>,
    ) -> Result<bool, BackendError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v4/buckets/data/{task_id}/chunked"))
            .header(header::CONTENT_LENGTH, size)
            .header("chunk-size", "0")
            .body(Body::from_stream(body))
            .expect("a valid request");
        if let Some(tags) = late_tags {
            req.extensions_mut().insert(tags);
        }
        let res = self.call(req).await;
        if res.status().is_success() {
            return Ok(res.extensions().get::<LateTagsApplied>().is_some());
        }
        Err(Self::error(res).await)
    }

    /// Rewrite an existing object's metadata on its holders (the ETag known only after the body).
    pub async fn update_metadata(&self, meta: &Metadata) -> Result<(), BackendError> {
        let body = json!({
            "bucket_id": meta.bucket_id, "key": meta.key, "ball_id": meta.ball_id,
            "checksum": meta.checksum, "size": meta.size, "tags": meta.tags, "producer_id": meta.producer_id,
            "content_type": meta.content_type, "is_disabled": meta.is_disabled,
        });
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v4/u/buckets/{}/{}", meta.bucket_id, meta.key))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("a valid request");
        let res = self.call(req).await;
        if res.status().is_success() {
            return Ok(());
        }
        Err(Self::error(res).await)
    }

    /// The bytes (or the `range` header's part): the API's answer, 200 or 206, streaming.
    pub async fn read(
        &self,
        b: &str,
        k: &str,
        range: Option<&str>,
    ) -> Result<Response, BackendError> {
        let mut req = Self::get(format!("/api/v4/buckets/{b}/{k}"));
        if let Some(r) = range {
            req.headers_mut().insert(
                header::RANGE,
                r.parse()
                    .map_err(|_| BackendError::Body("bad range".into()))?,
            );
        }
        let res = self.call(req).await;
        if res.status().is_success() {
            return Ok(res);
        }
        if res.status() == StatusCode::RANGE_NOT_SATISFIABLE {
            return Err(BackendError::Status {
                status: res.status(),
                detail: "range not satisfiable".into(),
            });
        }
        Err(Self::error(res).await)
    }

    /// One request for the bytes (or the `range` header's part) and the metadata of the version they are:
    /// the router's GET asked [`WithMetadata`] answers it in its extensions ([`ReadMetadata`]).
    pub async fn read_object(
        &self,
        b: &str,
        k: &str,
        range: Option<&str>,
    ) -> Result<ObjectRead, BackendError> {
        let mut req = Self::get(format!("/api/v4/buckets/{b}/{k}"));
        req.extensions_mut().insert(WithMetadata);
        if let Some(r) = range {
            req.headers_mut().insert(
                header::RANGE,
                r.parse()
                    .map_err(|_| BackendError::Body("bad range".into()))?,
            );
        }
        let mut res = self.call(req).await;
        let meta = res
            .extensions_mut()
            .remove::<ReadMetadata>()
            .map(|ReadMetadata(m)| m);
        if res.status().is_success() {
            return Ok(ObjectRead::Bytes { res, meta });
        }
        if res.status() == StatusCode::RANGE_NOT_SATISFIABLE {
            return Ok(ObjectRead::Unsatisfiable { meta });
        }
        Err(Self::error(res).await)
    }

    /// Delete every replica; `Ok(false)` when there was nothing to delete.
    pub async fn delete(&self, b: &str, k: &str) -> Result<bool, BackendError> {
        let req = Request::builder()
            .method(Method::DELETE)
            .uri(format!("/api/v4/buckets/{b}/{k}"))
            .body(Body::empty())
            .expect("a valid request");
        let res = self.call(req).await;
        if res.status().is_success() {
            return Ok(true);
        }
        match Self::error(res).await {
            BackendError::NotFound => Ok(false),
            e => Err(e),
        }
    }

    /// One page of bucket `b`'s live objects (MictlanX ids), sorted by id: at most `limit` whose id starts
    /// with `prefix` and sorts after `start_after`, and the `start_after` of the next page (`None` on the
    /// last page). It costs O(page) at the router, the peers and the state store.
    pub async fn list_page(
        &self,
        b: &str,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Metadata>, Option<String>), BackendError> {
        let enc = |v: &str| utf8_percent_encode(v, NON_ALPHANUMERIC).to_string();
        let mut uri = format!(
            "/api/v4/buckets/{b}/metadata?limit={limit}&prefix={}",
            enc(prefix)
        );
        if let Some(after) = start_after {
            uri.push_str(&format!("&start_after={}", enc(after)));
        }
        let mut req = Self::get(uri);
        req.extensions_mut().insert(PageInExtensions);
        let mut res = self.call(req).await;
        if !res.status().is_success() {
            return match Self::error(res).await {
                BackendError::NotFound => Ok((Vec::new(), None)),
                e => Err(e),
            };
        }
        // the route hands a page with `limit` over in the extensions when asked (`PageInExtensions`)
        let page =
            res.extensions_mut()
                .remove::<ListedPage>()
                .ok_or_else(|| BackendError::Status {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    detail: "the listing route answered no page".into(),
                })?;
        Ok((page.balls, page.next_start_after))
    }
}

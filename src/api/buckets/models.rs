//! JSON models the bucket/object endpoints read and emit (`docs/router-api.md` §5.1, §5.5–§5.12), and the lax
//! parsing of `PutMetadataDTO` into canonical ids.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::ids::{BallId, BucketId, ObjectKey};
use crate::validate::Fields;
use mictlanx_http::error::ApiError;
use mictlanx_proto::model::Metadata;

/// The metadata of an object to upload (or the new metadata of an update).
///
/// `checksum` is what the client computed (the MictlanX client sends the lowercase hex SHA-256 of the
/// bytes); `size` is the exact number of bytes step 2 will send.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"bucket_id": "demo", "key": "hello", "ball_id": "hello",
    "checksum": "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447", "size": 12,
    "tags": {"fullname": "hello.txt"}, "producer_id": "client-0", "content_type": "text/plain",
    "is_disabled": false, "replication_factor": 2}))]
pub struct PutMetadataDto {
    pub bucket_id: String,
    pub key: String,
    pub ball_id: String,
    pub checksum: String,
    pub size: u64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub producer_id: String,
    #[schema(default = "application/octet-stream")]
    pub content_type: String,
    #[schema(default = false)]
    pub is_disabled: bool,
    #[schema(default = 1, minimum = 1)]
    pub replication_factor: u32,
}

/// A validated `PutMetadataDTO` with canonical ids (P1 applied).
#[derive(Debug, Clone)]
pub struct PutMetadata {
    pub bucket_id: BucketId,
    pub key: ObjectKey,
    pub ball_id: BallId,
    pub checksum: String,
    pub size: u64,
    pub tags: BTreeMap<String, String>,
    pub producer_id: String,
    pub content_type: String,
    pub is_disabled: bool,
    pub replication_factor: u32,
}

/// A `PutMetadataDTO` that passed lax typing; ids still raw.
#[derive(Debug, Clone)]
pub struct PutMetadataFields {
    bucket_id: String,
    key: String,
    ball_id: String,
    checksum: String,
    size: i64,
    tags: BTreeMap<String, String>,
    producer_id: String,
    content_type: String,
    is_disabled: bool,
    replication_factor: i64,
}

impl PutMetadata {
    /// Lax typing: 422 with every problem in field order.
    pub fn fields(body: &Value) -> Result<PutMetadataFields, ApiError> {
        let mut f = Fields::new(body, &["body"])?;
        let bucket_id = f.req_str("bucket_id");
        let key = f.req_str("key");
        let ball_id = f.req_str("ball_id");
        let checksum = f.req_str("checksum");
        let size = f.req_int("size", Some(0));
        let tags = f.opt_str_map("tags");
        let producer_id = f.req_str("producer_id");
        let content_type = f.opt_str("content_type", "application/octet-stream");
        let is_disabled = f.opt_bool("is_disabled", false);
        let replication_factor = f.opt_int("replication_factor", 1, Some(1));
        f.finish()?;
        Ok(PutMetadataFields {
            bucket_id,
            key,
            ball_id,
            checksum,
            size,
            tags: tags.into_iter().collect(),
            producer_id,
            content_type,
            is_disabled,
            replication_factor,
        })
    }
}

impl PutMetadataFields {
    /// P1 on the body ids (400 when one sanitizes to nothing).
    pub fn canonical(self) -> Result<PutMetadata, ApiError> {
        Ok(PutMetadata {
            bucket_id: BucketId::parse(&self.bucket_id)?,
            key: ObjectKey::parse(&self.key)?,
            ball_id: BallId::parse(&self.ball_id)?,
            checksum: self.checksum,
            size: u64::try_from(self.size).unwrap_or(0),
            tags: self.tags,
            producer_id: self.producer_id,
            content_type: self.content_type,
            is_disabled: self.is_disabled,
            replication_factor: u32::try_from(self.replication_factor).unwrap_or(u32::MAX),
        })
    }

    /// For update metadata (#14): the path addresses the object; the body `bucket_id`/`key` are present
    /// but unused, only `ball_id` is canonicalised.
    pub fn addressed(self, bucket: BucketId, key: ObjectKey) -> Result<PutMetadata, ApiError> {
        Ok(PutMetadata {
            bucket_id: bucket,
            key,
            ball_id: BallId::parse(&self.ball_id)?,
            checksum: self.checksum,
            size: u64::try_from(self.size).unwrap_or(0),
            tags: self.tags,
            producer_id: self.producer_id,
            content_type: self.content_type,
            is_disabled: self.is_disabled,
            replication_factor: u32::try_from(self.replication_factor).unwrap_or(u32::MAX),
        })
    }
}

/// An object's metadata and the peer that answered; `service_time` is an integer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"service_time": 1, "peer_id": "mictlanx-peer-0", "local_peer_id": "mictlanx-peer-0",
    "metadata": {"key": "hello", "size": 12, "checksum": "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
        "tags": {"updated_at": "1764576000000000000"}, "content_type": "text/plain", "producer_id": "client-0",
        "ball_id": "hello", "bucket_id": "demo", "is_disabled": false}}))]
pub struct GetMetadataOut {
    pub service_time: i64,
    pub peer_id: String,
    pub local_peer_id: String,
    pub metadata: Metadata,
}

/// An opened upload: send the bytes to `tasks_ids[0]`; `replicas` are the peers that accepted it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"key": "hello", "service_time": 0.004, "tasks_ids": ["V1StGXR8_Z5jdHi6B-myT"],
    "bucket_id": "demo", "replicas": ["mictlanx-peer-0", "mictlanx-peer-1"], "extra": {}}))]
pub struct PutMetadataResponse {
    pub key: String,
    pub service_time: f64,
    pub tasks_ids: Vec<String>,
    pub bucket_id: String,
    pub replicas: Vec<String>,
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, Value>,
}

/// A finished upload: the peers that stored the bytes and how many bytes arrived.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"peer_ids": ["mictlanx-peer-0", "mictlanx-peer-1"], "combined_key": "demo@hello",
    "bucket_id": "demo", "key": "hello", "size": 12}))]
pub struct RouterPutChunkedResponse {
    pub peer_ids: Vec<String>,
    pub combined_key: String,
    pub bucket_id: String,
    pub key: String,
    pub size: u64,
}

/// How many replicas of the key were deleted.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"n_deletes": 2, "key": "hello"}))]
pub struct DeletedByKeyResponse {
    pub n_deletes: u64,
    pub key: String,
}

/// How many chunks of the chunked object were deleted.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"n_deletes": 3, "ball_id": "report"}))]
pub struct DeletedByBallIdResponse {
    pub n_deletes: u64,
    pub ball_id: String,
}

/// The size of one replica.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"bucket_id": "demo", "key": "hello", "peer_id": "mictlanx-peer-0", "size": 12}))]
pub struct GetSizeByKey {
    pub bucket_id: String,
    pub key: String,
    pub peer_id: String,
    pub size: u64,
}

/// The objects of a bucket (one page, or the complete listing); `peers_ids` (the original spelling) and
/// `peer_ids` list the same peers; `next_start_after` is the `start_after` of the next page (`null` on the
/// last page and on the complete listing).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"bucket_id": "demo", "peers_ids": ["mictlanx-peer-0"], "peer_ids": ["mictlanx-peer-0"],
    "balls": [{"key": "hello", "size": 12, "checksum": "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
        "tags": {}, "content_type": "text/plain", "producer_id": "client-0", "ball_id": "hello",
        "bucket_id": "demo", "is_disabled": false}], "next_start_after": null}))]
pub struct BucketPage {
    pub bucket_id: String,
    pub peers_ids: Vec<String>,
    pub peer_ids: Vec<String>,
    pub balls: Vec<Metadata>,
    pub next_start_after: Option<String>,
}

/// The chunks of a chunked object, sorted by index; `size` is `size_bytes` in words (`"600 KB"`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"bucket_id": "demo", "ball_id": "report", "size": "20 bytes", "size_bytes": 20,
    "checksum": "5d41402abc4b2a76b9719d911017c592", "chunks": [
        {"key": "report_0", "size": 10, "checksum": "c0", "tags": {"index": "0", "num_chunks": "2"},
         "content_type": "application/octet-stream", "producer_id": "client-0", "ball_id": "report",
         "bucket_id": "demo", "is_disabled": false},
        {"key": "report_1", "size": 10, "checksum": "c1", "tags": {"index": "1", "num_chunks": "2"},
         "content_type": "application/octet-stream", "producer_id": "client-0", "ball_id": "report",
         "bucket_id": "demo", "is_disabled": false}]}))]
pub struct BallMetadata {
    pub bucket_id: String,
    pub ball_id: String,
    pub size: String,
    pub size_bytes: u64,
    pub checksum: String,
    pub chunks: Vec<Metadata>,
}

/// The code-666 detail (§5.6): every live peer already holds the key.
pub fn no_available_peers(bucket: &str, key: &str, mut replicas: Vec<String>) -> ApiError {
    replicas.sort();
    ApiError::with_detail(
        axum::http::StatusCode::NOT_FOUND,
        json!({
            "msg": "No available peers.",
            "suggestion": "Add more peers or delete replicas.",
            "bucket_id": bucket,
            "key": key,
            "replicas": replicas,
            "code": 666,
        }),
    )
}

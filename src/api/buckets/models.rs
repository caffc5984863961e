//! JSON models the bucket/object endpoints read and emit (`router-api.md` §5.1, §5.5–§5.12), and the lax
//! parsing of `PutMetadataDTO` into canonical ids.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::ids::{BallId, BucketId, ObjectKey};
use crate::model::Metadata;
use crate::validate::Fields;

/// `PutMetadataDTO` (body of #14 and #15), documentation shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// `GetMetadataResponse` (§5.5): exactly four keys, integer `service_time`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GetMetadataOut {
    pub service_time: i64,
    pub peer_id: String,
    pub local_peer_id: String,
    pub metadata: Metadata,
}

/// `PutMetadataResponse` (§5.7).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PutMetadataResponse {
    pub key: String,
    pub service_time: f64,
    pub tasks_ids: Vec<String>,
    pub bucket_id: String,
    pub replicas: Vec<String>,
    #[schema(value_type = Object)]
    pub extra: serde_json::Map<String, Value>,
}

/// `RouterPutChunkedResponse` (§5.8).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouterPutChunkedResponse {
    pub peer_ids: Vec<String>,
    pub combined_key: String,
    pub bucket_id: String,
    pub key: String,
    pub size: u64,
}

/// `DeletedByKeyResponse` (§5.9).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedByKeyResponse {
    pub n_deletes: u64,
    pub key: String,
}

/// `DeletedByBallIdResponse` (§5.9).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedByBallIdResponse {
    pub n_deletes: u64,
    pub ball_id: String,
}

/// `GetSizeByKey` (§5.10).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GetSizeByKey {
    pub bucket_id: String,
    pub key: String,
    pub peer_id: String,
    pub size: u64,
}

/// Bucket listing (§5.11): `peers_ids` (original spelling) and `peer_ids` carry the same list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BucketListing {
    pub bucket_id: String,
    pub peers_ids: Vec<String>,
    pub peer_ids: Vec<String>,
    pub balls: Vec<Metadata>,
}

/// `BallMetadata` (§5.12).
#[derive(Debug, Clone, Serialize, ToSchema)]
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

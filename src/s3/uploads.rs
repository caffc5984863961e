//! Multipart uploads in progress: one small document per upload (`s3/upload/{id}`) in the shared state
//! store, so any router of the space can take the parts, complete or abort it. The parts themselves are
//! MictlanX objects of the bucket [`PARTS_BUCKET`] under [`part_key`], stored and replicated like any
//! object. An aborted upload's document is removed; a completed one is kept, marked completed, so a repeated
//! complete answers the same; the sweep removes both kinds once older than `MICTLANX_S3_UPLOAD_EXPIRY`
//! (deleting the parts of uncompleted ones only).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::buckets::{bounded, RegistryError};
use crate::cluster::store::{StateStore, StoreError};

const PREFIX: &str = "s3/upload/";

/// The MictlanX bucket of the parts: an id no S3 bucket name maps to (S3 names with the `s3x-` prefix are
/// always hex-encoded), so it never shows in S3.
pub const PARTS_BUCKET: &str = "s3x-uploads";

/// The MictlanX key of part `n` of upload `id` (zero-padded: byte order is part order).
pub fn part_key(id: &str, n: i32) -> String {
    format!("{id}-{n:05}")
}

/// The part number of a part's MictlanX key ([`part_key`]).
pub fn part_number(key: &str) -> Option<i32> {
    key.rsplit_once('-')?.1.parse().ok()
}

/// One upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadDoc {
    /// MictlanX bucket id and key of the object it completes into.
    pub bucket: String,
    pub key: String,
    /// The S3 key.
    pub s3_key: String,
    pub content_type: String,
    /// User metadata (`x-amz-meta-*` tags) and content headers ([`super::content_headers`]).
    pub tags: BTreeMap<String, String>,
    /// Seconds since the epoch.
    pub created: u64,
    /// The ETag, once completed: a repeated CompleteMultipartUpload answers it again. The document stays
    /// until the sweep removes it (the parts belong to the object by then).
    #[serde(default)]
    pub completed: Option<String>,
}

#[derive(Clone)]
pub struct Uploads {
    store: Arc<dyn StateStore>,
    timeout: Duration,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Uploads {
    pub fn new(store: Arc<dyn StateStore>, timeout: Duration) -> Self {
        Uploads { store, timeout }
    }

    async fn bounded<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, RegistryError> {
        bounded(self.timeout, f).await
    }

    /// A new upload id: 32 hex digits (a canonical MictlanX id).
    pub fn new_id() -> String {
        hex::encode(rand::random::<[u8; 16]>())
    }

    pub async fn put(&self, id: &str, doc: &UploadDoc) -> Result<(), RegistryError> {
        let value =
            serde_json::to_value(doc).map_err(|e| RegistryError::Document(e.to_string()))?;
        self.bounded(
            self.store
                .put_doc(&format!("{PREFIX}{id}"), Some(value), None),
        )
        .await
    }

    pub async fn get(&self, id: &str) -> Result<Option<UploadDoc>, RegistryError> {
        if !crate::ids::is_canonical(id) {
            return Ok(None);
        }
        let doc = self
            .bounded(self.store.doc(&format!("{PREFIX}{id}")))
            .await?;
        doc.map(|v| serde_json::from_value(v).map_err(|e| RegistryError::Document(e.to_string())))
            .transpose()
    }

    pub async fn remove(&self, id: &str) -> Result<(), RegistryError> {
        self.bounded(self.store.put_doc(&format!("{PREFIX}{id}"), None, None))
            .await
    }

    /// Every upload in progress, by id.
    pub async fn list(&self) -> Result<Vec<(String, UploadDoc)>, RegistryError> {
        let docs = self.bounded(self.store.docs(PREFIX)).await?;
        Ok(docs
            .into_iter()
            .filter_map(|(name, v)| {
                let id = name.strip_prefix(PREFIX)?.to_string();
                Some((id, serde_json::from_value(v).ok()?))
            })
            .collect())
    }
}

//! The S3 bucket registry: one small document per bucket (`s3/bucket/{mictlanx bucket id}`) in the shared
//! state store, so every router of the space sees the same buckets. A bucket MictlanX clients wrote into
//! without creating it exists for S3 as soon as it holds an object ([`Buckets::exists`] falls back to the
//! bucket's listing).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::cluster::store::{StateStore, StoreError};

const PREFIX: &str = "s3/bucket/";

/// One registered bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketDoc {
    /// The S3 name.
    pub name: String,
    /// Seconds since the epoch.
    pub created: u64,
    /// The `LocationConstraint` it was created with (none: `us-east-1`), answered by GetBucketLocation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

#[derive(Clone)]
pub struct Buckets {
    store: Arc<dyn StateStore>,
    timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("the state store did not answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("bad bucket document: {0}")]
    Document(String),
}

/// A state store call bounded by `timeout`: a stalled store costs the timeout, never a hung request.
pub(super) async fn bounded<T>(
    timeout: Duration,
    f: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, RegistryError> {
    match tokio::time::timeout(timeout, f).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(RegistryError::Timeout(timeout)),
    }
}

impl Buckets {
    pub fn new(store: Arc<dyn StateStore>, timeout: Duration) -> Self {
        Buckets { store, timeout }
    }

    async fn bounded<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, RegistryError> {
        bounded(self.timeout, f).await
    }

    /// The registered bucket `id` (a MictlanX bucket id).
    pub async fn get(&self, id: &str) -> Result<Option<BucketDoc>, RegistryError> {
        let doc = self
            .bounded(self.store.doc(&format!("{PREFIX}{id}")))
            .await?;
        doc.map(|v| serde_json::from_value(v).map_err(|e| RegistryError::Document(e.to_string())))
            .transpose()
    }

    /// Register `id`; `false` when it was registered already.
    pub async fn create(
        &self,
        id: &str,
        name: &str,
        location: Option<String>,
    ) -> Result<bool, RegistryError> {
        if self.get(id).await?.is_some() {
            return Ok(false);
        }
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let doc = BucketDoc {
            name: name.to_string(),
            created,
            location,
        };
        let value =
            serde_json::to_value(&doc).map_err(|e| RegistryError::Document(e.to_string()))?;
        self.bounded(
            self.store
                .put_doc(&format!("{PREFIX}{id}"), Some(value), None),
        )
        .await?;
        Ok(true)
    }

    pub async fn remove(&self, id: &str) -> Result<(), RegistryError> {
        self.bounded(self.store.put_doc(&format!("{PREFIX}{id}"), None, None))
            .await
    }

    /// Every registered bucket, by S3 name.
    pub async fn list(&self) -> Result<Vec<BucketDoc>, RegistryError> {
        let docs = self.bounded(self.store.docs(PREFIX)).await?;
        let mut out: Vec<BucketDoc> = docs
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_value(v).ok())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

//! Wire models shared by the router and the storage peer (`docs/router-api.md` §5, `docs/peer-api.md` §2).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One stored object's metadata (`docs/router-api.md` §5.4). The router always emits all nine fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metadata {
    pub key: String,
    pub size: u64,
    pub checksum: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default = "default_content_type")]
    pub content_type: String,
    #[serde(default)]
    pub producer_id: String,
    #[serde(default)]
    pub ball_id: String,
    #[serde(default)]
    pub bucket_id: String,
    #[serde(default)]
    pub is_disabled: bool,
}

pub fn default_content_type() -> String {
    "application/octet-stream".to_string()
}

impl Metadata {
    /// `tags.updated_at` as an integer; missing or non-integer counts as -1 ("newest wins" merges).
    pub fn updated_at(&self) -> i128 {
        self.tags
            .get("updated_at")
            .and_then(|v| v.trim().parse::<i128>().ok())
            .unwrap_or(-1)
    }

    /// `tags.index` as an integer, if it is one (chunk ordering).
    pub fn index(&self) -> Option<i64> {
        self.tags
            .get("index")
            .and_then(|v| v.trim().parse::<i64>().ok())
    }

    /// `"{bucket_id}@{key}"`.
    pub fn combined_key(&self) -> String {
        format!("{}@{}", self.bucket_id, self.key)
    }
}

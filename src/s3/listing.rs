//! The one place the S3 facade reads a bucket's keys: [`fetch_page`] answers one page of a bucket's live
//! objects in S3 byte order of their S3 names. Every S3 listing (ListObjects, ListObjectsV2,
//! ListObjectVersions, the emptiness check of DeleteBucket) goes through it.
//!
//! Today it reads the router's whole bucket listing (`GET /api/v4/buckets/{bucket}/metadata`, every peer
//! asked once, newest copy per key, deleted keys left out) and cuts the page out of it, so a page costs
//! O(bucket). It is the seam where a paged bucket listing of the router plugs in.

use super::backend::{Backend, BackendError};
use super::names;
use mictlanx_proto::model::Metadata;

/// One object of a page.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The S3 name.
    pub key: String,
    pub meta: Metadata,
}

/// Up to `limit` entries; `truncated` when more follow.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub entries: Vec<Entry>,
    pub truncated: bool,
}

/// Up to `limit` live objects of MictlanX bucket `bucket` whose S3 names start with `prefix` and sort after
/// `after` (byte order), in byte order.
pub async fn fetch_page(
    backend: &Backend,
    bucket: &str,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Page, BackendError> {
    let mut entries: Vec<Entry> = backend
        .list(bucket)
        .await?
        .into_iter()
        .filter(|m| !m.is_disabled)
        .map(|meta| Entry {
            key: names::to_s3(&meta.key),
            meta,
        })
        .filter(|e| e.key.starts_with(prefix))
        .filter(|e| after.is_none_or(|a| e.key.as_bytes() > a.as_bytes()))
        .collect();
    entries.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    let truncated = entries.len() > limit;
    entries.truncate(limit);
    Ok(Page { entries, truncated })
}

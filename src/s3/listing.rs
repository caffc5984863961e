//! The one place the S3 facade reads a bucket's keys: [`fetch_page`] answers one page of a bucket's live
//! objects in S3 byte order of their S3 names. Every S3 listing (ListObjects, ListObjectsV2,
//! ListObjectVersions, the emptiness check of DeleteBucket) goes through it.
//!
//! It builds on the router's paged bucket listing, which is sorted by MictlanX id and costs O(page). The
//! ids of a bucket fall in two runs, each already in S3 byte order ([`super::names`]):
//!
//! * plain names, whose id is the S3 name itself, everywhere outside the encoded region;
//! * encoded names, the region of ids that start with `s3x-`, followed by the lowercase hex of the name's
//!   bytes. Hex of fixed width per byte sorts like the bytes, so the region is in S3 byte order too, and an
//!   S3 prefix or start-after maps to an id prefix or start-after inside it.
//!
//! A page takes at most `limit + 1` objects from each run (the plain run jumps over the region in one call)
//! and merges them, so it costs O(page) however large the bucket is.

use super::backend::{Backend, BackendError};
use super::names::{self, ENCODED_PREFIX};
use mictlanx_proto::model::Metadata;

/// Sorts after every id of the encoded region: ids are `[A-Za-z0-9_-]`, all below `~`.
const PAST_REGION: &str = "s3x-~";

/// Largest page asked of the router's listing.
const MAX_CALL: usize = 10_000;

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
    let want = limit + 1;
    // the two runs are independent range scans: asked at once, a page costs the slower one, not both
    let (mut entries, encoded) = futures::try_join!(
        plain_run(backend, bucket, prefix, after, want),
        encoded_run(backend, bucket, prefix, after, want)
    )?;
    entries.extend(encoded);
    entries.sort_by(|a, b| a.key.as_bytes().cmp(b.key.as_bytes()));
    let truncated = entries.len() > limit;
    entries.truncate(limit);
    Ok(Page { entries, truncated })
}

/// The first `want` objects whose id is their S3 name, after `after`, skipping the encoded region.
async fn plain_run(
    backend: &Backend,
    bucket: &str,
    prefix: &str,
    after: Option<&str>,
    want: usize,
) -> Result<Vec<Entry>, BackendError> {
    let mut out = Vec::new();
    let mut cursor = after.map(str::to_string);
    loop {
        let ask = want.min(MAX_CALL);
        let (balls, next) = backend
            .list_page(bucket, prefix, cursor.as_deref(), ask)
            .await?;
        for meta in balls {
            if meta.key.starts_with(ENCODED_PREFIX) || meta.is_disabled {
                continue;
            }
            out.push(Entry {
                key: meta.key.clone(),
                meta,
            });
            if out.len() == want {
                return Ok(out);
            }
        }
        cursor = match next {
            None => return Ok(out),
            Some(n) if n.starts_with(ENCODED_PREFIX) => Some(PAST_REGION.to_string()),
            Some(n) => Some(n),
        };
    }
}

/// The first `want` objects of the encoded region whose S3 names start with `prefix` and sort after `after`.
async fn encoded_run(
    backend: &Backend,
    bucket: &str,
    prefix: &str,
    after: Option<&str>,
    want: usize,
) -> Result<Vec<Entry>, BackendError> {
    let id_prefix = format!("{ENCODED_PREFIX}{}", hex::encode(prefix));
    let mut cursor = after.map(|a| format!("{ENCODED_PREFIX}{}", hex::encode(a)));
    let mut out = Vec::new();
    loop {
        let ask = want.min(MAX_CALL);
        let (balls, next) = backend
            .list_page(bucket, &id_prefix, cursor.as_deref(), ask)
            .await?;
        for meta in balls {
            let key = names::to_s3(&meta.key);
            // an id of the region that is not an encoding (a MictlanX key that merely starts with `s3x-`)
            // is shown as is, and only where its own name allows
            let fits =
                key.starts_with(prefix) && after.is_none_or(|a| key.as_bytes() > a.as_bytes());
            if meta.is_disabled || !fits {
                continue;
            }
            out.push(Entry { key, meta });
            if out.len() == want {
                return Ok(out);
            }
        }
        match next {
            None => return Ok(out),
            Some(n) => cursor = Some(n),
        }
    }
}

//! The conditions of writes and deletes: `If-Match`/`If-None-Match` on PutObject and
//! CompleteMultipartUpload, `If-Match`/`x-amz-if-match-last-modified-time`/`x-amz-if-match-size` on
//! DeleteObject (and the `ETag`/`LastModifiedTime`/`Size` of a DeleteObjects entry), and the
//! `x-amz-copy-source-if-*` conditions of CopyObject and UploadPartCopy.
//!
//! A write's condition is checked against the object's metadata before the write starts; it is not a
//! compare-and-swap: two writes that both pass their check at the same time both go on, the later commit
//! winning, as for any two writes of one key.

use axum::http::header::{ETAG, LAST_MODIFIED};
use axum::http::{HeaderMap, HeaderValue};
use s3s::dto::{ETag, ETagCondition, Timestamp, TimestampFormat};
use s3s::{S3Error, S3ErrorCode, S3Result};

use super::attrs;
use super::errors::no_such_key;
use super::service::Facade;
use mictlanx_proto::model::Metadata;

fn precondition_failed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
}

fn matches(c: &ETagCondition, etag: &ETag) -> bool {
    c.is_any() || c.as_etag().is_some_and(|e| e.value() == etag.value())
}

/// 304 Not Modified of a conditional read of `meta`, with its `ETag` and `Last-Modified` as S3 sends.
pub fn not_modified(meta: &Metadata) -> S3Error {
    let mut e = S3Error::new(S3ErrorCode::NotModified);
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", attrs::etag_value(meta))) {
        headers.insert(ETAG, v);
    }
    let mut date = Vec::new();
    if attrs::last_modified_second(meta)
        .format(TimestampFormat::HttpDate, &mut date)
        .is_ok()
    {
        if let Ok(v) = HeaderValue::from_bytes(&date) {
            headers.insert(LAST_MODIFIED, v);
        }
    }
    e.set_headers(headers);
    e
}

/// The conditions of a write over the current object (`None`: there is none): `If-None-Match` (`*` or
/// its ETag) fails with 412 when it is there; `If-Match` is `NoSuchKey` (404) when there is no object
/// and 412 when its ETag differs.
pub fn write_preconditions(
    current: Option<&Metadata>,
    key: &str,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let etag = current.map(attrs::etag);
    if let Some(c) = if_match {
        match &etag {
            None => return Err(no_such_key(key)),
            Some(e) if !matches(c, e) => return Err(precondition_failed()),
            Some(_) => {}
        }
    }
    if let (Some(c), Some(e)) = (if_none_match, &etag) {
        if matches(c, e) {
            return Err(precondition_failed());
        }
    }
    Ok(())
}

/// The conditions of a delete over the current object: each one given must hold (412 otherwise); a
/// missing object deletes nothing and is no error, whatever the conditions.
pub fn delete_preconditions(
    current: Option<&Metadata>,
    if_match: Option<&ETagCondition>,
    last_modified: Option<&Timestamp>,
    size: Option<i64>,
) -> S3Result<()> {
    let Some(meta) = current else { return Ok(()) };
    let etag_differs = if_match.is_some_and(|c| !matches(c, &attrs::etag(meta)));
    let mtime_differs = last_modified.is_some_and(|t| attrs::last_modified_second(meta) != *t);
    let size_differs = size.is_some_and(|s| u64::try_from(s).ok() != Some(attrs::size(meta)));
    if etag_differs || mtime_differs || size_differs {
        return Err(precondition_failed());
    }
    Ok(())
}

/// The `x-amz-copy-source-if-*` conditions on the source (`source` its metadata): each one that fails is
/// `PreconditionFailed` (412), as S3 answers for copies. As S3, a true `if-match` overrides a false
/// `if-unmodified-since`, and a true `if-none-match` a false `if-modified-since`.
pub fn copy_preconditions(
    source: &Metadata,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let etag = attrs::etag(source);
    let modified = attrs::last_modified_second(source);
    let failed = match (if_match, if_none_match) {
        (Some(c), _) if !matches(c, &etag) => true,
        (None, _) if if_unmodified_since.is_some_and(|t| modified > *t) => true,
        (_, Some(c)) if matches(c, &etag) => true,
        (_, None) if if_modified_since.is_some_and(|t| modified <= *t) => true,
        _ => false,
    };
    if failed {
        return Err(precondition_failed());
    }
    Ok(())
}

impl Facade {
    /// The write conditions on object `b`/`k` (MictlanX ids; `key` its S3 name); reads its metadata only
    /// when a condition is given.
    pub(super) async fn check_write(
        &self,
        (b, k, key): (&str, &str, &str),
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
    ) -> S3Result<()> {
        if if_match.is_none() && if_none_match.is_none() {
            return Ok(());
        }
        let current = self.current(b, k).await?;
        write_preconditions(current.as_ref(), key, if_match, if_none_match)
    }

    /// The delete conditions on object `b`/`k` (MictlanX ids); reads its metadata only when a condition
    /// is given.
    pub(super) async fn check_delete(
        &self,
        (b, k): (&str, &str),
        if_match: Option<&ETagCondition>,
        last_modified: Option<&Timestamp>,
        size: Option<i64>,
    ) -> S3Result<()> {
        if if_match.is_none() && last_modified.is_none() && size.is_none() {
            return Ok(());
        }
        let current = self.current(b, k).await?;
        delete_preconditions(current.as_ref(), if_match, last_modified, size)
    }

    /// The live object `b`/`k` (MictlanX ids), if any: what write and delete conditions are checked on.
    async fn current(&self, b: &str, k: &str) -> S3Result<Option<Metadata>> {
        Ok(self
            .backend
            .metadata(b, k)
            .await?
            .filter(|m| !m.is_disabled))
    }
}

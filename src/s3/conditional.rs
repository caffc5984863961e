//! The conditions of writes and deletes: `If-Match`/`If-None-Match` on PutObject and
//! CompleteMultipartUpload, `If-Match`/`x-amz-if-match-last-modified-time`/`x-amz-if-match-size` on
//! DeleteObject (and the `ETag`/`LastModifiedTime`/`Size` of a DeleteObjects entry), and the
//! `x-amz-copy-source-if-*` conditions of CopyObject and UploadPartCopy, which follow the rules of GET's
//! ([`ReadConditions`]).
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

/// The four conditions of a read: `If-Match`, `If-None-Match`, `If-Modified-Since` and
/// `If-Unmodified-Since` of GET and HEAD, or the `x-amz-copy-source-if-*` of a copy's source.
#[derive(Clone, Copy, Default)]
pub struct ReadConditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// Which side of a read's conditions failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failed {
    /// `If-Match`, or `If-Unmodified-Since` without it: 412.
    Precondition,
    /// `If-None-Match`, or `If-Modified-Since` without it: 304 on a read.
    NotModified,
}

impl ReadConditions<'_> {
    pub fn is_set(&self) -> bool {
        self.if_match.is_some()
            || self.if_none_match.is_some()
            || self.if_modified_since.is_some()
            || self.if_unmodified_since.is_some()
    }

    /// RFC 9110 §13.2.2 order: `If-Match` (else `If-Unmodified-Since`), then `If-None-Match` (else
    /// `If-Modified-Since`). As S3, a true `If-Match` overrides a false `If-Unmodified-Since`, and a true
    /// `If-None-Match` a false `If-Modified-Since`. Dates compare to the second, as HTTP dates do.
    fn failed(&self, meta: &Metadata) -> Option<Failed> {
        let etag = attrs::etag(meta);
        let modified = attrs::last_modified_second(meta);
        let precondition = match self.if_match {
            Some(c) => !matches(c, &etag),
            None => self.if_unmodified_since.is_some_and(|t| modified > *t),
        };
        if precondition {
            return Some(Failed::Precondition);
        }
        let not_modified = match self.if_none_match {
            Some(c) => matches(c, &etag),
            None => self.if_modified_since.is_some_and(|t| modified <= *t),
        };
        not_modified.then_some(Failed::NotModified)
    }

    /// GET and HEAD: 412 Precondition Failed or 304 Not Modified.
    pub fn check_read(&self, meta: &Metadata) -> S3Result<()> {
        match self.failed(meta) {
            None => Ok(()),
            Some(Failed::Precondition) => Err(S3Error::new(S3ErrorCode::PreconditionFailed)),
            Some(Failed::NotModified) => Err(not_modified(meta)),
        }
    }

    /// A copy's source: each failure is 412 Precondition Failed, as S3 answers for copies.
    pub fn check_copy_source(&self, source: &Metadata) -> S3Result<()> {
        match self.failed(source) {
            None => Ok(()),
            Some(_) => Err(precondition_failed()),
        }
    }
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn meta() -> Metadata {
        Metadata {
            key: "k".into(),
            size: 3,
            checksum: String::new(),
            tags: [
                (attrs::ETAG.to_string(), "abc".to_string()),
                (attrs::MTIME.to_string(), "1000.500".to_string()),
            ]
            .into(),
            content_type: "text/plain".into(),
            producer_id: "p".into(),
            ball_id: "k".into(),
            bucket_id: "b".into(),
            is_disabled: false,
        }
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::from(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn read_conditions_follow_the_rfc_order_and_a_true_match_overrides_a_false_date() {
        let m = meta();
        let same = ETagCondition::ETag(ETag::Strong("abc".into()));
        let other = ETagCondition::ETag(ETag::Strong("xyz".into()));
        let (early, late) = (at(999), at(1000));
        let c = |im, inm, ims, ius| ReadConditions {
            if_match: im,
            if_none_match: inm,
            if_modified_since: ims,
            if_unmodified_since: ius,
        };
        assert_eq!(c(None, None, None, None).failed(&m), None);
        assert_eq!(
            c(Some(&other), None, None, None).failed(&m),
            Some(Failed::Precondition)
        );
        // modified at 1000.5 s: to the second it is 1000, not after `late`
        assert_eq!(
            c(None, None, None, Some(&early)).failed(&m),
            Some(Failed::Precondition)
        );
        assert_eq!(c(Some(&same), None, None, Some(&early)).failed(&m), None);
        assert_eq!(
            c(None, Some(&same), None, None).failed(&m),
            Some(Failed::NotModified)
        );
        assert_eq!(
            c(None, None, Some(&late), None).failed(&m),
            Some(Failed::NotModified)
        );
        assert_eq!(c(None, Some(&other), Some(&late), None).failed(&m), None);
        assert_eq!(
            c(Some(&other), Some(&same), None, None).failed(&m),
            Some(Failed::Precondition),
            "the 412 side is judged first"
        );
        let copy = c(None, Some(&same), None, None).check_copy_source(&m);
        assert!(copy.is_err_and(|e| *e.code() == S3ErrorCode::PreconditionFailed));
    }
}

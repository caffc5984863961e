//! Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, over the MictlanX
//! write path ([`super::write`]) and read path ([`super::manifest`]); CopyObject is
//! [`super::copy_object`].

use bytes::Bytes;
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use super::attrs;
use super::checksum::{self, declared_checksums, with_checksums, Expected};
use super::conditional::ReadConditions;
use super::content_headers::{content_headers, ContentHeaders};
use super::errors::no_such_key;
use super::manifest;
use super::names;
use super::read;
use super::service::Facade;
use super::storage_class::Class;
use super::uploads::PARTS_BUCKET;
use super::write::{decode_md5, Upload};
use mictlanx_proto::model::Metadata;

/// Deletes of one DeleteObjects request run at once.
const DELETE_CONCURRENCY: usize = 16;
/// Most keys of one DeleteObjects request, as S3.
const MAX_DELETE_KEYS: usize = 1000;

impl Facade {
    /// Delete an object; a completed multipart object takes its parts with it.
    pub(super) async fn remove(&self, b: &str, k: &str) -> S3Result<()> {
        let parts = match self.backend.metadata(b, k).await? {
            Some(meta) if attrs::is_manifest(&meta) => {
                manifest::read_manifest(&self.backend, b, k).await?.parts
            }
            _ => Vec::new(),
        };
        self.backend.delete(b, k).await?;
        for p in parts {
            if let Err(e) = self.backend.delete(PARTS_BUCKET, &p.key).await {
                tracing::warn!(error = %e, "a part of a deleted object was left behind");
            }
        }
        Ok(())
    }

    pub(super) async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<PutObjectOutput> {
        let checksums = Expected::of(
            &req.headers,
            declared_checksums!(req.input),
            req.trailing_headers.clone(),
        );
        let input = req.input;
        let b = self.existing_bucket(&input.bucket).await?;
        let k = names::to_mictlanx(&input.key);
        self.check_write(
            (&b, &k, &input.key),
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )
        .await?;
        let size = input
            .content_length
            .and_then(|l| u64::try_from(l).ok())
            .ok_or_else(|| S3Error::new(S3ErrorCode::MissingContentLength))?;
        let content_md5 = decode_md5(input.content_md5.as_deref())?;
        let headers = content_headers!(input);
        let class = Class::asked(input.storage_class.as_ref())?;
        let body = input.body.unwrap_or_else(|| {
            StreamingBlob::wrap(futures::stream::empty::<Result<Bytes, std::io::Error>>())
        });
        let up = Upload {
            bucket: &b,
            key: &k,
            size,
            content_type: input
                .content_type
                .unwrap_or_else(|| "binary/octet-stream".into()),
            user: input.metadata.as_ref(),
            headers,
            content_md5,
            checksums,
            fixed: None,
            class,
        };
        let stored = self.store(up, body).await?;
        Ok(with_checksums!(
            stored.checksum,
            PutObjectOutput {
                e_tag: Some(ETag::Strong(stored.etag)),
            }
        ))
    }

    /// A missing object: `NoSuchBucket` when its bucket does not exist either, else `NoSuchKey`. A bucket
    /// that holds the object exists, so the bucket is looked up only once the object was not found.
    async fn missing(&self, bucket: &str, key: &str) -> S3Error {
        match self.existing_bucket(bucket).await {
            Ok(_) => no_such_key(key),
            Err(e) => e,
        }
    }

    /// The live object's metadata, or `NoSuchKey` (a missing key, a key that is only a prefix, a disabled
    /// object).
    pub(super) async fn live_metadata(
        &self,
        bucket: &str,
        key: &str,
    ) -> S3Result<(String, String, Metadata)> {
        let (b, k) = (names::to_mictlanx(bucket), names::to_mictlanx(key));
        match self.backend.metadata(&b, &k).await? {
            Some(m) if !m.is_disabled => Ok((b, k, m)),
            _ => Err(self.missing(bucket, key).await),
        }
    }

    /// [`Self::live_metadata`] with a read's conditional headers checked (412 or 304).
    async fn checked_metadata(
        &self,
        bucket: &str,
        key: &str,
        conditions: ReadConditions<'_>,
    ) -> S3Result<(String, String, Metadata)> {
        let found = self.live_metadata(bucket, key).await?;
        conditions.check_read(&found.2)?;
        Ok(found)
    }

    /// GetObject: one call to the MictlanX GET ([`read::read_object`]). A conditional GET reads the
    /// metadata first, so a 304 or 412 moves no bytes; so does the GET of one part (`partNumber`), whose
    /// span the metadata (and manifest) gives.
    pub(super) async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<GetObjectOutput> {
        let input = req.input;
        let overrides = content_headers!(response input);
        let conditions = ReadConditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        };
        let mut parts_count = None;
        let (meta, opened) = if conditions.is_set() || input.part_number.is_some() {
            let (b, k, meta) = self
                .checked_metadata(&input.bucket, &input.key, conditions)
                .await?;
            let part = self
                .part_read((&b, &k, &meta), input.part_number, input.range)
                .await?;
            parts_count = part.parts_count;
            let opened = manifest::open(&self.backend, &b, &k, &meta, part.range).await?;
            (meta, opened)
        } else {
            let (b, k) = (
                names::to_mictlanx(&input.bucket),
                names::to_mictlanx(&input.key),
            );
            match read::read_object(&self.backend, &b, &k, input.range).await? {
                Some(found) => found,
                None => return Err(self.missing(&input.bucket, &input.key).await),
            }
        };
        let body = s3s::Body::http_body_unsync(axum::body::Body::from_stream(opened.body));
        let headers = ContentHeaders::of(&meta).overridden(overrides);
        // the whole object's checksums, when asked (not for a range or a part)
        let whole = opened.content_range.is_none() && input.part_number.is_none();
        let sums = kept_checksums(&meta, input.checksum_mode.as_ref().filter(|_| whole));
        Ok(with_checksums!(
            sums,
            GetObjectOutput {
                cache_control: headers.cache_control,
                content_disposition: headers.content_disposition,
                content_encoding: headers.content_encoding,
                content_language: headers.content_language,
                expires: headers.expires,
                body: Some(StreamingBlob::from(body)),
                content_length: i64::try_from(opened.content_length).ok(),
                content_range: opened.content_range,
                accept_ranges: Some("bytes".into()),
                content_type: Some(
                    input
                        .response_content_type
                        .unwrap_or(meta.content_type.clone()),
                ),
                e_tag: Some(attrs::etag(&meta)),
                last_modified: Some(attrs::last_modified(&meta)),
                metadata: attrs::user_metadata(&meta),
                parts_count,
                storage_class: Class::of(&meta).header(),
            }
        ))
    }

    pub(super) async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<HeadObjectOutput> {
        let input = req.input;
        let conditions = ReadConditions {
            if_match: input.if_match.as_ref(),
            if_none_match: input.if_none_match.as_ref(),
            if_modified_since: input.if_modified_since.as_ref(),
            if_unmodified_since: input.if_unmodified_since.as_ref(),
        };
        let (b, k, meta) = self
            .checked_metadata(&input.bucket, &input.key, conditions)
            .await?;
        let part = self
            .part_read((&b, &k, &meta), input.part_number, None)
            .await?;
        let headers = ContentHeaders::of(&meta).overridden(content_headers!(response input));
        let whole = input.part_number.is_none();
        let sums = kept_checksums(&meta, input.checksum_mode.as_ref().filter(|_| whole));
        Ok(with_checksums!(
            sums,
            HeadObjectOutput {
                cache_control: headers.cache_control,
                content_disposition: headers.content_disposition,
                content_encoding: headers.content_encoding,
                content_language: headers.content_language,
                expires: headers.expires,
                content_length: i64::try_from(part.length.unwrap_or(attrs::size(&meta))).ok(),
                parts_count: part.parts_count,
                accept_ranges: Some("bytes".into()),
                content_type: Some(meta.content_type.clone()),
                e_tag: Some(attrs::etag(&meta)),
                last_modified: Some(attrs::last_modified(&meta)),
                metadata: attrs::user_metadata(&meta),
                storage_class: Class::of(&meta).header(),
            }
        ))
    }

    pub(super) async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<DeleteObjectOutput> {
        let input = req.input;
        let b = self.existing_bucket(&input.bucket).await?;
        let k = names::to_mictlanx(&input.key);
        self.check_delete(
            (&b, &k),
            input.if_match.as_ref(),
            input.if_match_last_modified_time.as_ref(),
            input.if_match_size,
        )
        .await?;
        self.remove(&b, &k).await?;
        Ok(DeleteObjectOutput::default())
    }

    pub(super) async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<DeleteObjectsOutput> {
        let input = req.input;
        if input.delete.objects.len() > MAX_DELETE_KEYS {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                format!("A DeleteObjects request names at most {MAX_DELETE_KEYS} keys"),
            ));
        }
        let b = self.existing_bucket(&input.bucket).await?;
        let quiet = input.delete.quiet.unwrap_or(false);
        let results: Vec<(String, S3Result<()>)> =
            futures::stream::iter(input.delete.objects.into_iter().map(|o| {
                let b = b.clone();
                async move {
                    let k = names::to_mictlanx(&o.key);
                    let if_match = o.e_tag.clone().map(ETagCondition::ETag);
                    let checked = self
                        .check_delete(
                            (&b, &k),
                            if_match.as_ref(),
                            o.last_modified_time.as_ref(),
                            o.size,
                        )
                        .await;
                    let r = match checked {
                        Ok(()) => self.remove(&b, &k).await,
                        Err(e) => Err(e),
                    };
                    (o.key, r)
                }
            }))
            .buffered(DELETE_CONCURRENCY)
            .collect()
            .await;
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for (key, r) in results {
            match r {
                Ok(_) if quiet => {}
                Ok(_) => deleted.push(DeletedObject {
                    key: Some(key),
                    ..Default::default()
                }),
                Err(e) => {
                    errors.push(Error {
                        code: Some(e.code().as_str().to_string()),
                        key: Some(key),
                        message: e.message().map(str::to_string),
                        ..Default::default()
                    });
                }
            }
        }
        Ok(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        })
    }
}

/// The checksums kept with the object when `x-amz-checksum-mode: ENABLED` asks for them, else none.
fn kept_checksums(meta: &Metadata, mode: Option<&ChecksumMode>) -> Checksum {
    match mode {
        Some(m) if m.as_str().eq_ignore_ascii_case(ChecksumMode::ENABLED) => {
            checksum::of_metadata(meta)
        }
        _ => Checksum::default(),
    }
}

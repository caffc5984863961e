//! CopyObject: a new object streamed from an existing one (a multipart one too), with the source's
//! attributes (`COPY`, the default) or the request's (`REPLACE`: content type, user metadata, content
//! headers); onto itself with `REPLACE` it rewrites the metadata only, the bytes staying where they are.
//! The `x-amz-copy-source-if-*` conditions follow GET's rules ([`ReadConditions`]), each failure a 412.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use super::attrs;
use super::conditional::ReadConditions;
use super::content_headers::{content_headers, ContentHeaders};
use super::manifest;
use super::names;
use super::service::Facade;
use super::storage_class::Class;
use super::write::Upload;

impl Facade {
    /// A copy's source object (MictlanX bucket, key, metadata), its `x-amz-copy-source-if-*` conditions
    /// checked (412 `PreconditionFailed`).
    pub(super) async fn copy_source(
        &self,
        source: &CopySource,
        conditions: ReadConditions<'_>,
    ) -> S3Result<(String, String, mictlanx_proto::model::Metadata)> {
        let CopySource::Bucket { bucket, key, .. } = source else {
            return Err(S3Error::with_message(
                S3ErrorCode::NotImplemented,
                "copies from access points are not supported",
            ));
        };
        let found = self.live_metadata(bucket, key).await?;
        conditions.check_copy_source(&found.2)?;
        Ok(found)
    }

    pub(super) async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<CopyObjectOutput> {
        let input = req.input;
        let conditions = ReadConditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        };
        let (sb, sk, source) = self.copy_source(&input.copy_source, conditions).await?;
        let db = self.existing_bucket(&input.bucket).await?;
        let dk = names::to_mictlanx(&input.key);
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if sb == db && sk == dk && !replace {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidRequest,
                "copying an object onto itself needs the REPLACE metadata directive",
            ));
        }
        let source_user = attrs::user_metadata(&source);
        let (content_type, user, headers) = if replace {
            (
                input
                    .content_type
                    .clone()
                    .unwrap_or_else(|| source.content_type.clone()),
                input.metadata.as_ref(),
                content_headers!(input),
            )
        } else {
            (
                source.content_type.clone(),
                source_user.as_ref(),
                ContentHeaders::of(&source),
            )
        };
        // the destination's class is the request's (STANDARD when not given), as in S3; onto itself an
        // object keeps its class unless the request names one
        let same = sb == db && sk == dk;
        let class = match &input.storage_class {
            None if same => Class::of(&source),
            asked => Class::asked(asked.as_ref())?,
        };
        let etag = if same {
            if class != Class::of(&source) {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    "changing the storage class of an object in place is not offered: copy it to another key",
                ));
            }
            // New metadata only: the bytes stay where they are.
            let mut meta = source.clone();
            meta.tags = attrs::new_tags(user, Some(attrs::etag_value(&source)));
            meta.tags.extend(headers.tags());
            meta.tags.extend(class.tags());
            meta.content_type = content_type;
            self.backend.update_metadata(&meta).await?;
            attrs::etag_value(&source)
        } else {
            let opened = manifest::open(&self.backend, &sb, &sk, &source, None).await?;
            let up = Upload {
                bucket: &db,
                key: &dk,
                size: opened.content_length,
                content_type,
                user,
                headers,
                content_md5: None,
                checksums: None,
                fixed: None,
                class,
            };
            self.store(up, opened.body).await?.etag
        };
        Ok(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(std::time::SystemTime::now().into()),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

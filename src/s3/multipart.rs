//! Multipart uploads: CreateMultipartUpload, UploadPart (streamed, each part stored and replicated as a
//! MictlanX object), ListParts, CompleteMultipartUpload (writes a manifest naming the parts in order; no
//! byte is copied; ETag `md5(concat(part md5s))-N`), AbortMultipartUpload. ListMultipartUploads is
//! [`super::upload_list`].

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use super::attrs;
use super::bucket_ops::owner;
use super::checksum::{declared_checksums, with_checksums, Expected};
use super::content_headers::{content_headers, ContentHeaders};
use super::listing::fetch_page;
use super::manifest::{Manifest, PartRef};
use super::names;
use super::service::Facade;
use super::storage_class::Class;
use super::uploads::{now_secs, part_key, StoredUpload, UploadDoc, Uploads, PARTS_BUCKET};
use super::write::Upload;

/// Smallest part but the last, as S3.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Most parts of one upload, as S3.
pub(super) const MAX_PARTS: i32 = 10_000;

fn no_such_upload() -> S3Error {
    S3Error::new(S3ErrorCode::NoSuchUpload)
}

impl Facade {
    fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// The upload `id` of `bucket`/`key` (completed or not), or `NoSuchUpload`.
    async fn any_upload(&self, id: &str, bucket: &str, key: &str) -> S3Result<StoredUpload> {
        self.uploads()
            .get(&names::to_mictlanx(bucket), key, id)
            .await?
            .ok_or_else(no_such_upload)
    }

    /// The upload `id` of `bucket`/`key` in progress, or `NoSuchUpload`.
    pub(super) async fn upload(&self, id: &str, bucket: &str, key: &str) -> S3Result<StoredUpload> {
        let upload = self.any_upload(id, bucket, key).await?;
        if upload.doc.completed.is_some() {
            return Err(no_such_upload());
        }
        Ok(upload)
    }

    pub(super) async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<CreateMultipartUploadOutput> {
        let input = req.input;
        let b = self.existing_bucket(&input.bucket).await?;
        let mut tags = attrs::new_tags(input.metadata.as_ref(), None);
        tags.remove(attrs::MTIME);
        tags.extend(content_headers!(input).tags());
        // the parts and the finished object are written with the upload's storage class
        tags.extend(Class::asked(input.storage_class.as_ref())?.tags());
        let doc = UploadDoc {
            bucket: b,
            key: names::to_mictlanx(&input.key),
            s3_key: input.key.clone(),
            content_type: input
                .content_type
                .unwrap_or_else(|| "binary/octet-stream".into()),
            tags,
            created: now_secs(),
            completed: None,
        };
        let created = self.uploads().create(doc).await?;
        Ok(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(created.id),
            ..Default::default()
        })
    }

    pub(super) async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<UploadPartOutput> {
        let checksums = Expected::of(
            &req.headers,
            declared_checksums!(req.input),
            req.trailing_headers.clone(),
        );
        let input = req.input;
        let upload = self
            .upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        if !(1..=MAX_PARTS).contains(&input.part_number) {
            return Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            ));
        }
        let size = input
            .content_length
            .and_then(|l| u64::try_from(l).ok())
            .ok_or_else(|| S3Error::new(S3ErrorCode::MissingContentLength))?;
        let content_md5 = super::write::decode_md5(input.content_md5.as_deref())?;
        let key = part_key(&input.upload_id, input.part_number);
        let body = input.body.unwrap_or_else(|| {
            StreamingBlob::wrap(futures::stream::empty::<Result<bytes::Bytes, std::io::Error>>())
        });
        let up = Upload {
            bucket: PARTS_BUCKET,
            key: &key,
            size,
            content_type: "application/octet-stream".into(),
            user: None,
            headers: Default::default(),
            content_md5,
            checksums,
            fixed: None,
            class: Class::of_tags(&upload.doc.tags),
        };
        let stored = self.store(up, body).await?;
        Ok(with_checksums!(
            stored.checksum,
            UploadPartOutput {
                e_tag: Some(ETag::Strong(stored.etag)),
            }
        ))
    }

    pub(super) async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<ListPartsOutput> {
        let input = req.input;
        self.upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let after = input
            .part_number_marker
            .filter(|m| *m > 0)
            .map(|m| part_key(&input.upload_id, m));
        let prefix = format!("{}-", input.upload_id);
        let page = fetch_page(&self.backend, PARTS_BUCKET, &prefix, after.as_deref(), max).await?;
        let parts: Vec<Part> = page
            .entries
            .iter()
            .filter_map(|e| {
                let n = e.key.strip_prefix(&prefix)?.parse::<i32>().ok()?;
                Some(Part {
                    part_number: Some(n),
                    e_tag: Some(attrs::etag(&e.meta)),
                    size: i64::try_from(e.meta.size).ok(),
                    last_modified: Some(attrs::last_modified(&e.meta)),
                    ..Default::default()
                })
            })
            .collect();
        Ok(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(input.upload_id),
            max_parts: Some(max as i32),
            is_truncated: Some(page.truncated),
            next_part_number_marker: parts.last().and_then(|p| p.part_number),
            part_number_marker: input.part_number_marker,
            parts: Some(parts),
            owner: Some(owner()),
            ..Default::default()
        })
    }

    pub(super) async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<CompleteMultipartUploadOutput> {
        let input = req.input;
        let id = &input.upload_id;
        let mut stored = self.any_upload(id, &input.bucket, &input.key).await?;
        let doc = &stored.doc;
        if let Some(etag) = doc.completed.clone() {
            // completed already: the same answer again
            return Ok(CompleteMultipartUploadOutput {
                bucket: Some(input.bucket),
                key: Some(input.key),
                e_tag: Some(ETag::Strong(etag)),
                ..Default::default()
            });
        }
        self.check_write(
            (&doc.bucket, &doc.key, &input.key),
            input.if_match.as_ref(),
            input.if_none_match.as_ref(),
        )
        .await?;
        let asked = input
            .multipart_upload
            .and_then(|m| m.parts)
            .unwrap_or_default();
        if asked.is_empty() {
            return Err(S3Error::with_message(
                S3ErrorCode::MalformedXML,
                "The XML you provided did not list any part",
            ));
        }
        let mut parts = Vec::with_capacity(asked.len());
        let mut md5s = Vec::with_capacity(asked.len());
        let mut previous = 0;
        for (i, p) in asked.iter().enumerate() {
            let n = p.part_number.unwrap_or(0);
            if n <= previous {
                return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
            }
            previous = n;
            let key = part_key(id, n);
            let meta = self
                .backend
                .metadata(PARTS_BUCKET, &key)
                .await?
                .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidPart))?;
            let stored = attrs::etag_value(&meta);
            if p.e_tag.as_ref().is_some_and(|e| e.value() != stored) {
                return Err(S3Error::new(S3ErrorCode::InvalidPart));
            }
            let md5: [u8; 16] = hex::decode(&stored)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidPart))?;
            if i + 1 < asked.len() && meta.size < MIN_PART_SIZE {
                return Err(S3Error::new(S3ErrorCode::EntityTooSmall));
            }
            md5s.push(md5);
            parts.push(PartRef {
                key,
                size: meta.size,
            });
        }
        let total: u64 = parts.iter().map(|p| p.size).sum();
        let etag = attrs::multipart_etag(&md5s);
        let manifest = serde_json::to_vec(&Manifest {
            upload: id.clone(),
            parts,
        })
        .map_err(|e| S3Error::with_message(S3ErrorCode::InternalError, e.to_string()))?;
        let user = attrs::user_metadata(&UploadDoc::as_metadata(doc));
        let extra = BTreeMap::from([
            (attrs::MANIFEST.to_string(), "1".to_string()),
            (attrs::SIZE.to_string(), total.to_string()),
        ]);
        let up = Upload {
            bucket: &doc.bucket,
            key: &doc.key,
            size: manifest.len() as u64,
            content_type: doc.content_type.clone(),
            user: user.as_ref(),
            headers: ContentHeaders::of_tags(&doc.tags),
            content_md5: None,
            checksums: None,
            fixed: Some((etag.clone(), extra)),
            class: Class::of_tags(&doc.tags),
        };
        let body = futures::stream::iter([Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
            bytes::Bytes::from(manifest),
        )]);
        self.store(up, body).await?;
        stored.doc.completed = Some(etag.clone());
        self.uploads().save(&stored).await?;
        Ok(CompleteMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(ETag::Strong(etag)),
            ..Default::default()
        })
    }

    pub(super) async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<AbortMultipartUploadOutput> {
        let input = req.input;
        let upload = self
            .upload(&input.upload_id, &input.bucket, &input.key)
            .await?;
        self.abort(&upload).await?;
        Ok(AbortMultipartUploadOutput::default())
    }

    /// Delete the parts of an upload, then its document.
    pub(super) async fn abort(&self, upload: &StoredUpload) -> S3Result<()> {
        let prefix = format!("{}-", upload.id);
        let page = fetch_page(
            &self.backend,
            PARTS_BUCKET,
            &prefix,
            None,
            MAX_PARTS as usize,
        )
        .await?;
        for e in page.entries {
            self.backend.delete(PARTS_BUCKET, &e.meta.key).await?;
        }
        self.uploads().remove(upload).await?;
        Ok(())
    }
}

impl UploadDoc {
    /// The upload's attributes in the shape [`attrs`] reads.
    fn as_metadata(&self) -> mictlanx_proto::model::Metadata {
        mictlanx_proto::model::Metadata {
            key: self.key.clone(),
            size: 0,
            checksum: String::new(),
            tags: self.tags.clone(),
            content_type: self.content_type.clone(),
            producer_id: "s3".into(),
            ball_id: self.key.clone(),
            bucket_id: self.bucket.clone(),
            is_disabled: false,
        }
    }
}

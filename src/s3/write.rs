//! The S3 write path: one object (or part) from a streamed body into the MictlanX write (phase 1 with the
//! S3 attributes as tags, asking to replace an existing object; phase 2 with the [`Checked`] body), and the
//! ETag: written with the object when it is known before placement (`Content-MD5`, a manifest),
//! else sent to the holders after the body's last bytes as a late tag (a trailer they merge into the
//! metadata they commit); only a holder that does not take it gets a metadata update afterwards. The body
//! is streamed, never held whole.

use std::collections::BTreeMap;
use std::pin::Pin;

use base64::Engine as _;
use bytes::Bytes;
use futures::Stream;
use s3s::dto::Checksum;
use s3s::{S3Error, S3ErrorCode, S3Result};

use super::attrs;
use super::backend::{BackendError, NewObject};
use super::body::{Checked, Outcome};
use super::checksum::{self, Expected};
use super::content_headers::ContentHeaders;
use super::service::Facade;
use super::storage_class::Class;
use crate::datapath::late_tags::LateTags;
use mictlanx_proto::model::Metadata;

type StdError = Box<dyn std::error::Error + Send + Sync>;

/// An object to write: where, how large, with which attributes.
pub(super) struct Upload<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub size: u64,
    pub content_type: String,
    pub user: Option<&'a s3s::dto::Metadata>,
    /// `Cache-Control`, `Content-Disposition`, … recorded with the object.
    pub headers: ContentHeaders,
    pub content_md5: Option<[u8; 16]>,
    /// SDK checksums the body must match.
    pub checksums: Option<Expected>,
    /// The ETag to record instead of the MD5 of the bytes (a multipart manifest), with more tags.
    pub fixed: Option<(String, BTreeMap<String, String>)>,
    /// The storage class: how many replicas, recorded with the object.
    pub class: Class,
}

pub(super) fn decode_md5(raw: Option<&str>) -> S3Result<Option<[u8; 16]>> {
    let Some(raw) = raw else { return Ok(None) };
    base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .ok()
        .and_then(|v| <[u8; 16]>::try_from(v).ok())
        .map(Some)
        .ok_or_else(|| S3Error::new(S3ErrorCode::InvalidDigest))
}

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StdError>> + Send>>;

/// `IncompleteBody` for a body that failed or was not the announced size, else the backend's error.
fn write_error(e: BackendError) -> S3Error {
    match e {
        BackendError::Body(detail) => S3Error::with_message(S3ErrorCode::IncompleteBody, detail),
        e => e.into(),
    }
}

/// A committed write: its ETag, and the SDK checksums its request announced, as checked (an answer echoes
/// them).
pub(super) struct Stored {
    pub etag: String,
    pub checksum: Checksum,
}

impl Facade {
    /// Write one object (MictlanX ids) from `body`; answers once the write is committed. The body is checked
    /// ([`Checked`]) so a bad or incomplete one leaves nothing visible.
    pub(super) async fn store<S>(&self, mut up: Upload<'_>, body: S) -> S3Result<Stored>
    where
        S: Stream<Item = Result<Bytes, StdError>> + Unpin + Send + 'static,
    {
        if self.max_object_size > 0 && up.size > self.max_object_size {
            return Err(S3Error::with_message(
                S3ErrorCode::EntityTooLarge,
                format!(
                    "{} bytes is above the limit of {} bytes",
                    up.size, self.max_object_size
                ),
            ));
        }
        let known = match &up.fixed {
            Some((etag, _)) => Some(etag.clone()),
            None => up.content_md5.map(hex::encode),
        };
        let mut tags = attrs::new_tags(up.user, known.clone());
        tags.extend(up.headers.tags());
        tags.extend(up.class.tags());
        if let Some((_, extra)) = &up.fixed {
            tags.extend(extra.clone());
        }
        let new = NewObject {
            bucket: up.bucket,
            key: up.key,
            size: up.size,
            tags,
            content_type: up.content_type.clone(),
            replication_factor: up.class.replication_factor(self.replication),
        };
        // an existing object is replaced on its holders at a new version, and stays readable until then
        let task = self.backend.open_write(&new).await?;
        // what is known only after the body (the ETag without Content-MD5, the SDK checksums) goes to the
        // peers with its last bytes (a trailer)
        let late = (known.is_none() || up.checksums.is_some()).then(LateTags::new);
        let sent_late = late.is_some();
        let (digest, checksum, recorded) = self
            .write_checked(&task, &mut up, Box::pin(body), (late, known.is_some()))
            .await?;
        let etag = known.unwrap_or_else(|| hex::encode(digest));
        if sent_late && !recorded {
            // a holder that does not take the trailer (an original MictlanX peer)
            self.record_late(&up, &etag, &checksum).await;
        }
        Ok(Stored { etag, checksum })
    }

    /// Phase 2 with the body [`Checked`] on its way: the MD5 and SDK checksums of a committed write, and
    /// whether every holder recorded the MD5 from `late` (the ETag as a late tag).
    async fn write_checked(
        &self,
        task: &str,
        up: &mut Upload<'_>,
        body: ByteStream,
        (late, etag_known): (Option<LateTags>, bool),
    ) -> S3Result<([u8; 16], Checksum, bool)> {
        let (checked, outcome) = Checked::new(body, up.content_md5, up.checksums.take());
        let checked = checked.with_late_tags(late.clone(), etag_known);
        let written = self.backend.write_body(task, up.size, checked, late).await;
        let outcome = outcome.lock().map(|o| o.clone()).unwrap_or_default();
        match (written, outcome) {
            (_, Outcome::BadDigest) => Err(S3Error::new(S3ErrorCode::BadDigest)),
            (Ok(recorded), Outcome::Complete(d, sums)) => Ok((d, sums, recorded)),
            (Ok(_), Outcome::Pending) => Err(S3Error::with_message(
                S3ErrorCode::InternalError,
                "the write committed before its body ended",
            )),
            (Err(e), _) => Err(write_error(e)),
        }
    }

    /// What is known only after the body (the ETag, the checked SDK checksums), recorded with the object by
    /// a metadata update on its holders when a holder did not take it as a late tag. A failure leaves the
    /// object with its fallback ETag (and without checksums), so it is logged, not answered.
    async fn record_late(&self, up: &Upload<'_>, etag: &str, sums: &Checksum) {
        let mut tags = attrs::new_tags(up.user, Some(etag.to_string()));
        tags.extend(up.headers.tags());
        tags.extend(up.class.tags());
        tags.extend(checksum::tags(sums));
        let meta = Metadata {
            key: up.key.to_string(),
            size: up.size,
            checksum: String::new(),
            tags,
            content_type: up.content_type.clone(),
            producer_id: "s3".into(),
            ball_id: up.key.to_string(),
            bucket_id: up.bucket.to_string(),
            is_disabled: false,
        };
        if let Err(e) = self.backend.update_metadata(&meta).await {
            tracing::warn!(error = %e, "the ETag of a written object could not be recorded");
        }
    }
}

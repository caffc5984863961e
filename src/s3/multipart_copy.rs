//! UploadPartCopy: a part streamed from an existing object, whole or a `x-amz-copy-source-range`, under
//! the `x-amz-copy-source-if-*` conditions ([`super::conditional::ReadConditions`]).

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use super::attrs;
use super::conditional::ReadConditions;
use super::manifest;
use super::multipart::MAX_PARTS;
use super::service::Facade;
use super::storage_class::Class;
use super::uploads::{part_key, PARTS_BUCKET};
use super::write::Upload;

/// The inclusive span of `x-amz-copy-source-range` over a source of `size` bytes. S3 takes only
/// `bytes=first-last` (`InvalidArgument` otherwise), inside the source (`InvalidRange` otherwise).
pub fn copy_range(raw: &str, size: u64) -> S3Result<(u64, u64)> {
    let improper = || {
        S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last",
        )
    };
    let (first, last) = raw
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(improper)?;
    let digits = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (first, last) = digits(first).zip(digits(last)).ok_or_else(improper)?;
    if first > last {
        return Err(improper());
    }
    if last >= size {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidRange,
            format!("The range {first}-{last} is outside the source object of {size} bytes"),
        ));
    }
    Ok((first, last))
}

impl Facade {
    pub(super) async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<UploadPartCopyOutput> {
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
        let conditions = ReadConditions {
            if_match: input.copy_source_if_match.as_ref(),
            if_none_match: input.copy_source_if_none_match.as_ref(),
            if_modified_since: input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: input.copy_source_if_unmodified_since.as_ref(),
        };
        let (sb, sk, source) = self.copy_source(&input.copy_source, conditions).await?;
        let range = input
            .copy_source_range
            .as_deref()
            .map(|r| copy_range(r, attrs::size(&source)))
            .transpose()?
            .map(|(first, last)| Range::Int {
                first,
                last: Some(last),
            });
        let opened = manifest::open(&self.backend, &sb, &sk, &source, range).await?;
        let part = part_key(&input.upload_id, input.part_number);
        let up = Upload {
            bucket: PARTS_BUCKET,
            key: &part,
            size: opened.content_length,
            content_type: "application/octet-stream".into(),
            user: None,
            headers: Default::default(),
            content_md5: None,
            checksums: None,
            fixed: None,
            class: Class::of_tags(&upload.doc.tags),
        };
        let etag = self.store(up, opened.body).await?.etag;
        Ok(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(etag)),
                last_modified: Some(std::time::SystemTime::now().into()),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_range_is_bytes_first_last_inside_the_source() {
        assert_eq!(copy_range("bytes=0-4", 5).unwrap(), (0, 4));
        assert_eq!(copy_range("bytes=2-2", 5).unwrap(), (2, 2));
        for improper in [
            "0-2",
            "bytes=0",
            "bytes=hello-world",
            "bytes=0-bar",
            "bytes=hello-",
            "bytes=0-2,3-5",
            "bytes=-3",
            "bytes=3-1",
        ] {
            let e = copy_range(improper, 5).unwrap_err();
            assert_eq!(e.code(), &S3ErrorCode::InvalidArgument, "{improper}");
        }
        let e = copy_range("bytes=0-21", 5).unwrap_err();
        assert_eq!(e.code(), &S3ErrorCode::InvalidRange);
    }
}

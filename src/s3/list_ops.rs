//! ListObjectsV2, ListObjects (v1) and ListObjectVersions (every object is version `null`, the latest):
//! request parameters → [`super::list::list`] → the S3 answer, with `encoding-type=url` applied.

use super::storage_class::Class;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use super::attrs;
use super::bucket_ops::owner as bucket_owner;
use super::list::{list, Listed, Query, MAX_KEYS};
use super::listing::Entry;
use super::names;
use super::service::Facade;

/// What `encoding-type=url` leaves as is: unreserved characters and `/`.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Applies `encoding-type=url` to a name of the answer.
pub(super) struct Encoder(bool);

impl Encoder {
    pub(super) fn new(encoding: Option<&EncodingType>) -> S3Result<Self> {
        match encoding.map(|e| e.as_str()) {
            None => Ok(Encoder(false)),
            Some(EncodingType::URL) => Ok(Encoder(true)),
            Some(other) => Err(S3Error::with_message(
                S3ErrorCode::InvalidArgument,
                format!("Invalid Encoding Method specified in Request: {other}"),
            )),
        }
    }

    pub(super) fn name(&self, s: &str) -> String {
        if self.0 {
            utf8_percent_encode(s, KEEP).to_string()
        } else {
            s.to_string()
        }
    }

    pub(super) fn opt(&self, s: Option<&str>) -> Option<String> {
        s.map(|s| self.name(s))
    }
}

/// One object of an answer; `owner` only where the request asks for it (always in ListObjects, with
/// `fetch-owner=true` in ListObjectsV2).
fn object(e: &Entry, enc: &Encoder, owner: bool) -> Object {
    Object {
        key: Some(enc.name(&e.key)),
        size: i64::try_from(attrs::size(&e.meta)).ok(),
        e_tag: Some(attrs::etag(&e.meta)),
        last_modified: Some(attrs::last_modified(&e.meta)),
        storage_class: Some(ObjectStorageClass::from(
            Class::of(&e.meta).name().to_string(),
        )),
        owner: owner.then(bucket_owner),
        ..Default::default()
    }
}

/// The delimiter as answered: an empty one is no delimiter, and is not echoed.
fn delimiter(d: Option<&str>, enc: &Encoder) -> Option<String> {
    enc.opt(d.filter(|d| !d.is_empty()))
}

fn prefixes(l: &Listed, enc: &Encoder) -> Vec<CommonPrefix> {
    l.prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(enc.name(p)),
        })
        .collect()
}

fn max_keys(m: Option<i32>) -> usize {
    m.map_or(MAX_KEYS, |m| usize::try_from(m).unwrap_or(0))
}

impl Facade {
    /// Resolves the bucket and runs one listing of it as asked: the prefix, max-keys and the answer.
    async fn run_list(
        &self,
        bucket: &str,
        prefix: Option<&str>,
        delimiter: Option<&str>,
        after: Option<String>,
        asked: Option<i32>,
    ) -> S3Result<(String, usize, Listed)> {
        let b = self.existing_bucket(bucket).await?;
        let prefix = prefix.unwrap_or_default().to_string();
        let max = max_keys(asked);
        let query = Query {
            bucket: &b,
            prefix: &prefix,
            delimiter,
            after,
            max_keys: max,
        };
        let listed = list(&self.backend, query).await?;
        Ok((prefix, max, listed))
    }

    pub(super) async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<ListObjectsV2Output> {
        let input = req.input;
        let enc = Encoder::new(input.encoding_type.as_ref())?;
        let after = match &input.continuation_token {
            Some(t) => Some(names::token_to_name(t)?),
            None => input.start_after.clone().filter(|s| !s.is_empty()),
        };
        let (prefix, max, listed) = self
            .run_list(
                &input.bucket,
                input.prefix.as_deref(),
                input.delimiter.as_deref(),
                after,
                input.max_keys,
            )
            .await?;
        let fetch_owner = input.fetch_owner.unwrap_or(false);
        let contents: Vec<Object> = listed
            .contents
            .iter()
            .map(|e| object(e, &enc, fetch_owner))
            .collect();
        let common = prefixes(&listed, &enc);
        Ok(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(enc.name(&prefix)),
            max_keys: Some(i32::try_from(max).unwrap_or(i32::MAX)),
            key_count: Some(i32::try_from(contents.len() + common.len()).unwrap_or(i32::MAX)),
            continuation_token: input.continuation_token,
            is_truncated: Some(listed.truncated),
            next_continuation_token: listed.next.as_deref().map(names::name_to_token),
            contents: Some(contents),
            common_prefixes: Some(common),
            delimiter: delimiter(input.delimiter.as_deref(), &enc),
            encoding_type: input.encoding_type,
            start_after: enc.opt(input.start_after.as_deref()),
            ..Default::default()
        })
    }

    pub(super) async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<ListObjectsOutput> {
        let input = req.input;
        let enc = Encoder::new(input.encoding_type.as_ref())?;
        let (prefix, max, listed) = self
            .run_list(
                &input.bucket,
                input.prefix.as_deref(),
                input.delimiter.as_deref(),
                input.marker.clone().filter(|m| !m.is_empty()),
                input.max_keys,
            )
            .await?;
        Ok(ListObjectsOutput {
            name: Some(input.bucket),
            // as S3: ListObjects (v1) answers its Prefix as asked, not URL-encoded (clients do not decode it)
            prefix: Some(prefix),
            marker: Some(enc.name(input.marker.as_deref().unwrap_or_default())),
            max_keys: Some(i32::try_from(max).unwrap_or(i32::MAX)),
            is_truncated: Some(listed.truncated),
            contents: Some(
                listed
                    .contents
                    .iter()
                    .map(|e| object(e, &enc, true))
                    .collect(),
            ),
            common_prefixes: Some(prefixes(&listed, &enc)),
            delimiter: delimiter(input.delimiter.as_deref(), &enc),
            next_marker: enc.opt(listed.next.as_deref()),
            encoding_type: input.encoding_type,
            ..Default::default()
        })
    }

    pub(super) async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<ListObjectVersionsOutput> {
        let input = req.input;
        let enc = Encoder::new(input.encoding_type.as_ref())?;
        let (prefix, max, listed) = self
            .run_list(
                &input.bucket,
                input.prefix.as_deref(),
                input.delimiter.as_deref(),
                input.key_marker.clone().filter(|m| !m.is_empty()),
                input.max_keys,
            )
            .await?;
        let versions = listed
            .contents
            .iter()
            .map(|e| ObjectVersion {
                key: Some(enc.name(&e.key)),
                size: i64::try_from(attrs::size(&e.meta)).ok(),
                e_tag: Some(attrs::etag(&e.meta)),
                last_modified: Some(attrs::last_modified(&e.meta)),
                is_latest: Some(true),
                version_id: Some("null".into()),
                owner: Some(bucket_owner()),
                storage_class: Some(ObjectVersionStorageClass::from(
                    Class::of(&e.meta).name().to_string(),
                )),
                ..Default::default()
            })
            .collect();
        Ok(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(enc.name(&prefix)),
            key_marker: enc.opt(input.key_marker.as_deref()),
            max_keys: Some(i32::try_from(max).unwrap_or(i32::MAX)),
            is_truncated: Some(listed.truncated),
            versions: Some(versions),
            common_prefixes: Some(prefixes(&listed, &enc)),
            delimiter: delimiter(input.delimiter.as_deref(), &enc),
            next_key_marker: enc.opt(listed.next.as_deref()),
            next_version_id_marker: listed.next.as_ref().map(|_| "null".to_string()),
            encoding_type: input.encoding_type,
            ..Default::default()
        })
    }
}

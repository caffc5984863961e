//! ListMultipartUploads: the uploads in progress of a bucket in S3 order (key bytes, then initiation), paged
//! by `max-uploads` (≤ 1000), `key-marker` and `upload-id-marker`, narrowed by `prefix` and grouped by
//! `delimiter` into common prefixes (a common prefix counts as one entry of the page), with
//! `IsTruncated`/`NextKeyMarker`/`NextUploadIdMarker` and `encoding-type=url`.
//!
//! The state store reads documents by name prefix, whole: a page reads the upload documents of its bucket
//! under its prefix ([`super::uploads::Uploads::list_bucket`]), not those of other buckets, and takes the
//! page from them.

use s3s::dto::*;
use s3s::{S3Request, S3Result};

use super::bucket_ops::owner;
use super::list_ops::Encoder;
use super::service::Facade;
use super::uploads::StoredUpload;

/// Most uploads (and common prefixes) of one page, as S3.
const MAX_UPLOADS: i32 = 1000;

/// Where a page starts and what it groups.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageQuery<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    pub key_marker: Option<&'a str>,
    pub upload_id_marker: Option<&'a str>,
    pub max: usize,
}

/// One entry of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listed<'a> {
    Upload(&'a StoredUpload),
    CommonPrefix(String),
}

/// A page of uploads.
#[derive(Debug, Default)]
pub struct Page<'a> {
    pub entries: Vec<Listed<'a>>,
    pub truncated: bool,
}

impl PageQuery<'_> {
    /// Whether `u` comes after the markers: a key after `key-marker`, or that key with an id after
    /// `upload-id-marker` (ids sort by creation); past a common prefix when the key marker is one.
    fn after_markers(&self, u: &StoredUpload) -> bool {
        let Some(marker) = self.key_marker.filter(|m| !m.is_empty()) else {
            return true;
        };
        let key = u.doc.s3_key.as_str();
        if self
            .delimiter
            .is_some_and(|d| !d.is_empty() && marker.ends_with(d) && key.starts_with(marker))
        {
            return false;
        }
        match key.as_bytes().cmp(marker.as_bytes()) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => self.upload_id_marker.is_some_and(|m| u.id.as_str() > m),
        }
    }

    /// The common prefix `key` falls in, if the query has a delimiter and the key has it past the prefix.
    fn group_of(&self, key: &str) -> Option<String> {
        let d = self.delimiter.filter(|d| !d.is_empty())?;
        let rest = key.strip_prefix(self.prefix)?;
        let end = rest.find(d)? + d.len();
        Some(format!("{}{}", self.prefix, &rest[..end]))
    }

    /// The page of `uploads` (in S3 order) this query selects.
    pub fn page<'u>(&self, uploads: &'u [StoredUpload]) -> Page<'u> {
        let mut page = Page::default();
        for u in uploads
            .iter()
            .filter(|u| u.doc.s3_key.starts_with(self.prefix) && self.after_markers(u))
        {
            let entry = match self.group_of(&u.doc.s3_key) {
                Some(cp) => {
                    if matches!(page.entries.last(), Some(Listed::CommonPrefix(last)) if *last == cp)
                    {
                        continue;
                    }
                    Listed::CommonPrefix(cp)
                }
                None => Listed::Upload(u),
            };
            if page.entries.len() == self.max {
                page.truncated = true;
                break;
            }
            page.entries.push(entry);
        }
        page
    }
}

impl Facade {
    pub(super) async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<ListMultipartUploadsOutput> {
        let input = req.input;
        let enc = Encoder::new(input.encoding_type.as_ref())?;
        let b = self.existing_bucket(&input.bucket).await?;
        let prefix = input.prefix.as_deref().unwrap_or_default();
        let max = input
            .max_uploads
            .unwrap_or(MAX_UPLOADS)
            .clamp(0, MAX_UPLOADS);
        let query = PageQuery {
            prefix,
            delimiter: input.delimiter.as_deref(),
            key_marker: input.key_marker.as_deref(),
            upload_id_marker: input.upload_id_marker.as_deref(),
            max: max as usize,
        };
        let uploads: Vec<StoredUpload> = self
            .uploads
            .list_bucket(&b, prefix)
            .await?
            .into_iter()
            .filter(|u| u.doc.completed.is_none())
            .collect();
        let page = query.page(&uploads);
        let (next_key_marker, next_upload_id_marker) = match page.entries.last() {
            Some(Listed::Upload(u)) if page.truncated => {
                (Some(enc.name(&u.doc.s3_key)), Some(u.id.clone()))
            }
            Some(Listed::CommonPrefix(cp)) if page.truncated => (Some(enc.name(cp)), None),
            _ => (None, None),
        };
        let mut list = Vec::new();
        let mut common_prefixes = Vec::new();
        for entry in page.entries {
            match entry {
                Listed::Upload(u) => list.push(MultipartUpload {
                    key: Some(enc.name(&u.doc.s3_key)),
                    upload_id: Some(u.id.clone()),
                    initiated: Some(
                        (std::time::UNIX_EPOCH + std::time::Duration::from_secs(u.doc.created))
                            .into(),
                    ),
                    owner: Some(owner()),
                    initiator: Some(Initiator {
                        display_name: owner().display_name,
                        id: owner().id,
                    }),
                    storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                    ..Default::default()
                }),
                Listed::CommonPrefix(cp) => common_prefixes.push(CommonPrefix {
                    prefix: Some(enc.name(&cp)),
                }),
            }
        }
        Ok(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: enc.opt(input.prefix.as_deref()),
            delimiter: enc.opt(input.delimiter.as_deref().filter(|d| !d.is_empty())),
            key_marker: enc.opt(input.key_marker.as_deref()),
            upload_id_marker: input.upload_id_marker,
            max_uploads: Some(max),
            is_truncated: Some(page.truncated),
            next_key_marker,
            next_upload_id_marker,
            uploads: Some(list),
            common_prefixes: (!common_prefixes.is_empty()).then_some(common_prefixes),
            encoding_type: input.encoding_type,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::uploads::UploadDoc;

    fn upload(key: &str, id: &str) -> StoredUpload {
        StoredUpload {
            id: id.into(),
            name: format!("n/{key}/{id}"),
            doc: UploadDoc {
                bucket: "b".into(),
                key: key.into(),
                s3_key: key.into(),
                content_type: String::new(),
                tags: Default::default(),
                created: 0,
                completed: None,
            },
        }
    }

    fn shown(page: &Page<'_>) -> Vec<String> {
        page.entries
            .iter()
            .map(|e| match e {
                Listed::Upload(u) => format!("{}#{}", u.doc.s3_key, u.id),
                Listed::CommonPrefix(cp) => format!("{cp}/"),
            })
            .collect()
    }

    #[test]
    fn pages_follow_key_then_upload_id_markers() {
        let all = [
            upload("a", "1"),
            upload("a", "2"),
            upload("b", "1"),
            upload("c", "1"),
        ];
        let q = |km, um, max| PageQuery {
            key_marker: km,
            upload_id_marker: um,
            max,
            ..Default::default()
        };
        let first = q(None, None, 2).page(&all);
        assert_eq!(shown(&first), ["a#1", "a#2"]);
        assert!(first.truncated);
        let second = q(Some("a"), Some("2"), 2).page(&all);
        assert_eq!(shown(&second), ["b#1", "c#1"]);
        assert!(!second.truncated);
        assert_eq!(
            shown(&q(Some("a"), Some("1"), 9).page(&all)),
            ["a#2", "b#1", "c#1"]
        );
        assert_eq!(shown(&q(Some("a"), None, 9).page(&all)), ["b#1", "c#1"]);
        let none = q(None, None, 0).page(&all);
        assert!(none.entries.is_empty() && none.truncated);
    }

    #[test]
    fn a_delimiter_groups_keys_and_a_page_resumes_past_a_group() {
        let all = [
            upload("dir/a", "1"),
            upload("dir/b", "1"),
            upload("dir/sub/c", "1"),
            upload("dir2/x", "1"),
            upload("top", "1"),
        ];
        let q = |prefix, km, max| PageQuery {
            prefix,
            delimiter: Some("/"),
            key_marker: km,
            max,
            ..Default::default()
        };
        let first = q("", None, 1).page(&all);
        assert_eq!(shown(&first), ["dir//"]);
        assert!(first.truncated);
        assert_eq!(
            shown(&q("", Some("dir/"), 9).page(&all)),
            ["dir2//", "top#1"]
        );
        assert_eq!(
            shown(&q("dir/", None, 9).page(&all)),
            ["dir/a#1", "dir/b#1", "dir/sub//"]
        );
    }
}

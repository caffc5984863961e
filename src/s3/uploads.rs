//! Multipart uploads in progress: one small document per upload in the shared state store, so any router
//! of the space can take the parts, complete or abort it. The parts themselves are MictlanX objects of the
//! bucket [`PARTS_BUCKET`] under [`part_key`], stored and replicated like any object. An aborted upload's
//! document is removed; a completed one is kept, marked completed, so a repeated complete answers the
//! same; the sweep removes both kinds once older than `MICTLANX_S3_UPLOAD_EXPIRY` (deleting the parts of
//! uncompleted ones only).
//!
//! A document is named `s3/upload/{bucket}/{hex of the S3 key}/{id}`: every request on an upload names its
//! bucket and key, so it is found by name, and ListMultipartUploads reads only the documents of its bucket
//! under its prefix (the hex of a prefix is a prefix of the hex of the keys it covers). Ids start with the
//! creation time in milliseconds, so names sort in S3 order: key bytes, then initiation. Documents of
//! uploads created under the former name `s3/upload/{id}` are still found, completed, aborted and swept,
//! but not listed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::buckets::{bounded, RegistryError};
use crate::cluster::store::{StateStore, StoreError};

const PREFIX: &str = "s3/upload/";

/// The MictlanX bucket of the parts: an id no S3 bucket name maps to (S3 names with the `s3x-` prefix are
/// always hex-encoded), so it never shows in S3.
pub const PARTS_BUCKET: &str = "s3x-uploads";

/// The MictlanX key of part `n` of upload `id` (zero-padded: byte order is part order).
pub fn part_key(id: &str, n: i32) -> String {
    format!("{id}-{n:05}")
}

/// The part number of a part's MictlanX key ([`part_key`]).
pub fn part_number(key: &str) -> Option<i32> {
    key.rsplit_once('-')?.1.parse().ok()
}

/// One upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadDoc {
    /// MictlanX bucket id and key of the object it completes into.
    pub bucket: String,
    pub key: String,
    /// The S3 key.
    pub s3_key: String,
    pub content_type: String,
    /// User metadata (`x-amz-meta-*` tags) and content headers ([`super::content_headers`]).
    pub tags: BTreeMap<String, String>,
    /// Seconds since the epoch.
    pub created: u64,
    /// The ETag, once completed: a repeated CompleteMultipartUpload answers it again. The document stays
    /// until the sweep removes it (the parts belong to the object by then).
    #[serde(default)]
    pub completed: Option<String>,
}

#[derive(Clone)]
pub struct Uploads {
    store: Arc<dyn StateStore>,
    timeout: Duration,
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An upload's document and the name it is stored under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    pub id: String,
    pub name: String,
    pub doc: UploadDoc,
}

/// The document name of upload `id` of S3 key `s3_key` in MictlanX bucket `bucket`.
fn doc_name(bucket: &str, s3_key: &str, id: &str) -> String {
    format!("{PREFIX}{bucket}/{}/{id}", hex::encode(s3_key.as_bytes()))
}

/// The name prefix of the uploads of `bucket` whose S3 key starts with `key_prefix`.
fn bucket_prefix(bucket: &str, key_prefix: &str) -> String {
    format!("{PREFIX}{bucket}/{}", hex::encode(key_prefix.as_bytes()))
}

/// The upload id of a document name (its last segment).
fn id_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(PREFIX)?;
    Some(rest.rsplit_once('/').map_or(rest, |(_, id)| id))
}

impl Uploads {
    pub fn new(store: Arc<dyn StateStore>, timeout: Duration) -> Self {
        Uploads { store, timeout }
    }

    async fn bounded<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, RegistryError> {
        bounded(self.timeout, f).await
    }

    /// A new upload id: 32 hex digits (a canonical MictlanX id), the creation time in milliseconds then
    /// 80 random bits, so ids sort by creation.
    pub fn new_id() -> String {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        format!(
            "{:012x}{}",
            millis & 0xffff_ffff_ffff,
            hex::encode(rand::random::<[u8; 10]>())
        )
    }

    /// Store a new upload's document; answers it with its id.
    pub async fn create(&self, doc: UploadDoc) -> Result<StoredUpload, RegistryError> {
        let id = Self::new_id();
        let upload = StoredUpload {
            name: doc_name(&doc.bucket, &doc.s3_key, &id),
            id,
            doc,
        };
        self.save(&upload).await?;
        Ok(upload)
    }

    /// Write an upload's document (again).
    pub async fn save(&self, upload: &StoredUpload) -> Result<(), RegistryError> {
        let value = serde_json::to_value(&upload.doc)
            .map_err(|e| RegistryError::Document(e.to_string()))?;
        self.bounded(self.store.put_doc(&upload.name, Some(value), None))
            .await
    }

    async fn read(&self, name: String, id: &str) -> Result<Option<StoredUpload>, RegistryError> {
        let Some(v) = self.bounded(self.store.doc(&name)).await? else {
            return Ok(None);
        };
        let doc = serde_json::from_value(v).map_err(|e| RegistryError::Document(e.to_string()))?;
        Ok(Some(StoredUpload {
            id: id.to_string(),
            name,
            doc,
        }))
    }

    /// Upload `id` of S3 key `s3_key` in MictlanX bucket `bucket`, under its name or the former one.
    pub async fn get(
        &self,
        bucket: &str,
        s3_key: &str,
        id: &str,
    ) -> Result<Option<StoredUpload>, RegistryError> {
        if !crate::ids::is_canonical(id) {
            return Ok(None);
        }
        if let Some(found) = self.read(doc_name(bucket, s3_key, id), id).await? {
            return Ok(Some(found));
        }
        Ok(self
            .read(format!("{PREFIX}{id}"), id)
            .await?
            .filter(|u| u.doc.bucket == bucket && u.doc.s3_key == s3_key))
    }

    pub async fn remove(&self, upload: &StoredUpload) -> Result<(), RegistryError> {
        self.bounded(self.store.put_doc(&upload.name, None, None))
            .await
    }

    async fn list_named(&self, prefix: &str) -> Result<Vec<StoredUpload>, RegistryError> {
        let docs = self.bounded(self.store.docs(prefix)).await?;
        Ok(docs
            .into_iter()
            .filter_map(|(name, v)| {
                Some(StoredUpload {
                    id: id_of(&name)?.to_string(),
                    doc: serde_json::from_value(v).ok()?,
                    name,
                })
            })
            .collect())
    }

    /// Every upload of the space (what the sweep reads).
    pub async fn list(&self) -> Result<Vec<StoredUpload>, RegistryError> {
        self.list_named(PREFIX).await
    }

    /// The uploads of MictlanX bucket `bucket` whose S3 key starts with `key_prefix`, in S3 order (key
    /// bytes, then initiation).
    pub async fn list_bucket(
        &self,
        bucket: &str,
        key_prefix: &str,
    ) -> Result<Vec<StoredUpload>, RegistryError> {
        let mut found = self.list_named(&bucket_prefix(bucket, key_prefix)).await?;
        found.sort_by(|a, b| {
            (a.doc.s3_key.as_bytes(), &a.id).cmp(&(b.doc.s3_key.as_bytes(), &b.id))
        });
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_like_s3_keys_and_ids_by_creation() {
        let mut keys = ["ab", "a", "a/b", "abc", "b", "ä", ""];
        let mut names: Vec<String> = keys.iter().map(|k| doc_name("bk", k, "01")).collect();
        names.sort();
        keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        let want: Vec<String> = keys.iter().map(|k| doc_name("bk", k, "01")).collect();
        assert_eq!(names, want);
        assert!(doc_name("bk", "abc", "01").starts_with(&bucket_prefix("bk", "ab")));
        assert!(!doc_name("bk2", "abc", "01").starts_with(&bucket_prefix("bk", "")));
        assert_eq!(id_of(&doc_name("bk", "a/b", "0a1b")), Some("0a1b"));
        assert_eq!(id_of("s3/upload/0a1b"), Some("0a1b"));
        let first = Uploads::new_id();
        std::thread::sleep(Duration::from_millis(2));
        let second = Uploads::new_id();
        assert!(first < second && first.len() == 32 && crate::ids::is_canonical(&first));
        assert_eq!(part_number(&part_key(&first, 42)), Some(42));
    }

    #[tokio::test]
    async fn uploads_are_found_by_name_and_by_their_former_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = crate::cluster::registry::RegistryFile::open(dir.path()).unwrap();
        let store: Arc<dyn StateStore> =
            Arc::new(crate::cluster::store::memory::MemoryStore::open(file).unwrap());
        let uploads = Uploads::new(store.clone(), Duration::from_secs(5));
        let doc = |key: &str| UploadDoc {
            bucket: "bk".into(),
            key: key.into(),
            s3_key: key.into(),
            content_type: String::new(),
            tags: BTreeMap::new(),
            created: now_secs(),
            completed: None,
        };
        let new = uploads.create(doc("dir/a")).await.unwrap();
        let former = "0123456789abcdef0123456789abcdef";
        let value = serde_json::to_value(doc("dir/b")).unwrap();
        store
            .put_doc(&format!("{PREFIX}{former}"), Some(value), None)
            .await
            .unwrap();
        let found = uploads.get("bk", "dir/a", &new.id).await.unwrap();
        assert_eq!(found.as_ref(), Some(&new));
        let old = uploads.get("bk", "dir/b", former).await.unwrap().unwrap();
        assert_eq!(old.doc.s3_key, "dir/b");
        assert!(uploads.get("bk", "dir/a", former).await.unwrap().is_none());
        assert!(uploads
            .get("other", "dir/a", &new.id)
            .await
            .unwrap()
            .is_none());
        // a bucket's listing holds only its new-style documents; the sweep's holds both
        let listed = uploads.list_bucket("bk", "dir/").await.unwrap();
        assert_eq!(listed, vec![new.clone()]);
        assert!(uploads.list_bucket("bk", "x").await.unwrap().is_empty());
        assert_eq!(uploads.list().await.unwrap().len(), 2);
        uploads.remove(&old).await.unwrap();
        uploads.remove(&new).await.unwrap();
        assert!(uploads.list().await.unwrap().is_empty());
    }
}

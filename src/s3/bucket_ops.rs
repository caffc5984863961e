//! Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket (only when empty),
//! GetBucketLocation, and the GetBucketVersioning stub (never versioned).

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use super::errors::no_such_bucket;
use super::listing::fetch_page;
use super::names;
use super::service::Facade;

impl Facade {
    pub(super) async fn list_buckets(&self) -> S3Result<ListBucketsOutput> {
        let buckets = self
            .buckets
            .list()
            .await?
            .into_iter()
            .map(|d| Bucket {
                name: Some(d.name),
                creation_date: Some(
                    (std::time::UNIX_EPOCH + std::time::Duration::from_secs(d.created)).into(),
                ),
                ..Default::default()
            })
            .collect();
        Ok(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            ..Default::default()
        })
    }

    pub(super) async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<CreateBucketOutput> {
        let name = &req.input.bucket;
        let id = names::to_mictlanx(name);
        if !self.buckets.create(&id, name).await? {
            return Err(S3Error::new(S3ErrorCode::BucketAlreadyOwnedByYou));
        }
        Ok(CreateBucketOutput {
            location: Some(format!("/{name}")),
        })
    }

    pub(super) async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<HeadBucketOutput> {
        self.existing_bucket(&req.input.bucket).await?;
        Ok(HeadBucketOutput::default())
    }

    pub(super) async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<DeleteBucketOutput> {
        let name = &req.input.bucket;
        let id = names::to_mictlanx(name);
        let registered = self.buckets.get(&id).await?.is_some();
        let page = fetch_page(&self.backend, &id, "", None, 1).await?;
        if !page.entries.is_empty() {
            return Err(S3Error::new(S3ErrorCode::BucketNotEmpty));
        }
        if !registered {
            return Err(no_such_bucket(name));
        }
        self.buckets.remove(&id).await?;
        Ok(DeleteBucketOutput::default())
    }

    pub(super) async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<GetBucketLocationOutput> {
        self.existing_bucket(&req.input.bucket).await?;
        Ok(GetBucketLocationOutput::default())
    }

    pub(super) async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<GetBucketVersioningOutput> {
        self.existing_bucket(&req.input.bucket).await?;
        Ok(GetBucketVersioningOutput::default())
    }
}

/// The one owner of everything in the space.
pub(super) fn owner() -> Owner {
    Owner {
        display_name: Some("mictlanx".into()),
        id: Some("mictlanx".into()),
    }
}

//! Bucket operations: ListBuckets (paged by `max-buckets` and a continuation token), CreateBucket (S3's
//! naming rules, the location constraint kept), HeadBucket, DeleteBucket (only when empty),
//! GetBucketLocation, and the GetBucketVersioning stub (never versioned).

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Result};

use super::errors::no_such_bucket;
use super::listing::fetch_page;
use super::names;
use super::service::Facade;

impl Facade {
    pub(super) async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<ListBucketsOutput> {
        let input = req.input;
        let after = input
            .continuation_token
            .as_deref()
            .map(names::token_to_name)
            .transpose()?;
        let max = match input.max_buckets {
            None => usize::MAX,
            Some(m @ 1..=MAX_BUCKETS) => m as usize,
            Some(_) => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    format!("max-buckets must be between 1 and {MAX_BUCKETS}"),
                ))
            }
        };
        let prefix = input.prefix.as_deref().unwrap_or_default();
        let mut docs: Vec<_> = self
            .buckets
            .list()
            .await?
            .into_iter()
            .filter(|d| d.name.starts_with(prefix))
            .filter(|d| after.as_ref().is_none_or(|a| d.name > *a))
            .collect();
        let next = (docs.len() > max).then(|| names::name_to_token(&docs[max - 1].name));
        docs.truncate(max);
        let buckets = docs
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
            continuation_token: next,
            prefix: input.prefix,
        })
    }

    pub(super) async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<CreateBucketOutput> {
        let name = &req.input.bucket;
        if let Some(why) = names::refused_bucket_name(name) {
            return Err(S3Error::with_message(S3ErrorCode::InvalidBucketName, why));
        }
        let location = req
            .input
            .create_bucket_configuration
            .and_then(|c| c.location_constraint)
            .map(|l| l.as_str().to_string())
            .filter(|l| !l.is_empty());
        let id = names::to_mictlanx(name);
        if !self.buckets.create(&id, name, location).await? {
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
        let id = self.existing_bucket(&req.input.bucket).await?;
        let location = self.buckets.get(&id).await?.and_then(|d| d.location);
        Ok(GetBucketLocationOutput {
            location_constraint: location.map(BucketLocationConstraint::from),
        })
    }

    pub(super) async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<GetBucketVersioningOutput> {
        self.existing_bucket(&req.input.bucket).await?;
        Ok(GetBucketVersioningOutput::default())
    }
}

/// Most buckets in one ListBuckets answer, as S3.
const MAX_BUCKETS: i32 = 10_000;

/// The one owner of everything in the space.
pub(super) fn owner() -> Owner {
    Owner {
        display_name: Some("mictlanx".into()),
        id: Some("mictlanx".into()),
    }
}

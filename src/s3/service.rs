//! The S3 facade's state and what every operation shares: bucket resolution (registry, then implicit
//! buckets), and the per-operation metrics and span ([`Facade::observe`]).

use std::future::Future;
use std::time::Instant;

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use s3s::header::X_AMZ_REQUEST_ID;
use s3s::{S3ErrorCode, S3Response, S3Result};
use tracing::Instrument;

use super::backend::Backend;
use super::buckets::Buckets;
use super::errors::no_such_bucket;
use super::listing::fetch_page;
use super::names;
use super::uploads::Uploads;
use crate::telemetry::Metrics;

/// Requests by S3 operation and outcome (`ok` or the S3 error code).
pub const REQUESTS: &str = "mictlanx_router_s3_requests_total";
/// Seconds per S3 operation, until the answer's head (bodies stream after).
pub const DURATION: &str = "mictlanx_router_s3_request_duration_seconds";

#[derive(Clone)]
pub struct Facade {
    pub(super) backend: Backend,
    pub(super) buckets: Buckets,
    pub(super) uploads: Uploads,
    /// Replicas of an object written through S3: (storage class `STANDARD`, `REDUCED_REDUNDANCY`).
    pub(super) replication: (u32, u32),
    /// Largest object (`MICTLANX_ROUTER_MAX_OBJECT_SIZE`); 0 = no limit.
    pub(super) max_object_size: u64,
    pub(super) metrics: Metrics,
}

impl Facade {
    pub fn new(
        backend: Backend,
        (buckets, uploads): (Buckets, Uploads),
        (standard, reduced): (u32, u32),
        max_object_size: u64,
        metrics: Metrics,
    ) -> Self {
        Facade {
            backend,
            buckets,
            uploads,
            replication: (standard.max(1), reduced.max(1)),
            max_object_size,
            metrics,
        }
    }

    /// Run one operation inside its span, counting it by operation and outcome (never by bucket or key).
    /// The answer carries a request id in `x-amz-request-id`, and an error also in its XML `RequestId`.
    pub(super) async fn observe<T>(
        &self,
        op: &'static str,
        f: impl Future<Output = S3Result<T>>,
    ) -> S3Result<S3Response<T>> {
        let span = tracing::info_span!(
            "s3",
            otel.name = op,
            otel.kind = "server",
            s3.operation = op,
            s3.error_code = tracing::field::Empty
        );
        let started = Instant::now();
        let result = f.instrument(span.clone()).await;
        let outcome = static_code(&result);
        if outcome != "ok" {
            span.record("s3.error_code", outcome);
        }
        self.metrics
            .counter_with(REQUESTS, &[("operation", op), ("outcome", outcome)])
            .increment(1);
        self.metrics
            .histogram_with(DURATION, &[("operation", op)])
            .record(started.elapsed().as_secs_f64());
        with_request_id(result)
    }

    /// The MictlanX id of an S3 bucket that exists: registered, or holding objects written through the
    /// MictlanX API. `NoSuchBucket` otherwise.
    pub(super) async fn existing_bucket(&self, bucket: &str) -> S3Result<String> {
        let id = names::to_mictlanx(bucket);
        if self.buckets.get(&id).await?.is_some() {
            return Ok(id);
        }
        let page = fetch_page(&self.backend, &id, "", None, 1).await?;
        if page.entries.is_empty() {
            return Err(no_such_bucket(bucket));
        }
        Ok(id)
    }
}

/// A new request id (24 hex digits) on the answer: in `x-amz-request-id`, and in an error's XML.
fn with_request_id<T>(result: S3Result<T>) -> S3Result<S3Response<T>> {
    let id = hex::encode(rand::random::<[u8; 12]>());
    let value = HeaderValue::from_str(&id).expect("hex is a header value");
    match result {
        Ok(output) => {
            let mut res = S3Response::new(output);
            res.headers.insert(X_AMZ_REQUEST_ID, value);
            Ok(res)
        }
        Err(mut e) => {
            // the headers of an error replace the answer's: keep the XML content type
            let mut headers = e.headers().cloned().unwrap_or_default();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
            headers.insert(X_AMZ_REQUEST_ID, value);
            e.set_headers(headers);
            e.set_request_id(id);
            Err(e)
        }
    }
}

/// The error code of a failed result as a `'static` label.
fn static_code<T>(result: &S3Result<T>) -> &'static str {
    let Err(e) = result else { return "ok" };
    match e.code() {
        S3ErrorCode::NoSuchKey => "NoSuchKey",
        S3ErrorCode::NoSuchBucket => "NoSuchBucket",
        S3ErrorCode::AccessDenied => "AccessDenied",
        S3ErrorCode::BucketNotEmpty => "BucketNotEmpty",
        S3ErrorCode::BucketAlreadyOwnedByYou => "BucketAlreadyOwnedByYou",
        S3ErrorCode::NotModified => "NotModified",
        S3ErrorCode::PreconditionFailed => "PreconditionFailed",
        S3ErrorCode::InvalidRange => "InvalidRange",
        S3ErrorCode::BadDigest => "BadDigest",
        S3ErrorCode::InvalidDigest => "InvalidDigest",
        S3ErrorCode::EntityTooLarge => "EntityTooLarge",
        S3ErrorCode::IncompleteBody => "IncompleteBody",
        S3ErrorCode::NoSuchUpload => "NoSuchUpload",
        S3ErrorCode::InvalidPart => "InvalidPart",
        S3ErrorCode::InvalidPartOrder => "InvalidPartOrder",
        S3ErrorCode::EntityTooSmall => "EntityTooSmall",
        S3ErrorCode::InvalidArgument => "InvalidArgument",
        S3ErrorCode::InvalidBucketName => "InvalidBucketName",
        S3ErrorCode::MalformedXML => "MalformedXML",
        S3ErrorCode::ServiceUnavailable => "ServiceUnavailable",
        S3ErrorCode::NotImplemented => "NotImplemented",
        _ => "other",
    }
}

//! MictlanX outcomes → S3 error codes (the XML body and status come from s3s). A state store or peer
//! outage is `ServiceUnavailable` (503, which S3 clients retry); nothing here maps to a 500 except a
//! genuinely unexpected answer.

use axum::http::StatusCode;
use s3s::{S3Error, S3ErrorCode};

use super::backend::BackendError;
use super::buckets::RegistryError;

pub fn no_such_key(key: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchKey,
        format!("The specified key does not exist: {key}"),
    )
}

pub fn no_such_bucket(bucket: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchBucket,
        format!("The specified bucket does not exist: {bucket}"),
    )
}

impl From<BackendError> for S3Error {
    fn from(e: BackendError) -> S3Error {
        match e {
            BackendError::NotFound => S3Error::new(S3ErrorCode::NoSuchKey),
            BackendError::AllHold => {
                S3Error::with_message(S3ErrorCode::ServiceUnavailable, e.to_string())
            }
            BackendError::Body(detail) => {
                S3Error::with_message(S3ErrorCode::IncompleteBody, detail)
            }
            BackendError::Status { status, detail } => {
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => S3ErrorCode::EntityTooLarge,
                    StatusCode::RANGE_NOT_SATISFIABLE => S3ErrorCode::InvalidRange,
                    StatusCode::INSUFFICIENT_STORAGE => S3ErrorCode::ServiceUnavailable,
                    StatusCode::CONFLICT => S3ErrorCode::OperationAborted,
                    s if s.is_server_error() => S3ErrorCode::ServiceUnavailable,
                    _ => S3ErrorCode::InvalidRequest,
                };
                S3Error::with_message(code, detail)
            }
        }
    }
}

impl From<RegistryError> for S3Error {
    fn from(e: RegistryError) -> S3Error {
        S3Error::with_message(S3ErrorCode::ServiceUnavailable, e.to_string())
    }
}

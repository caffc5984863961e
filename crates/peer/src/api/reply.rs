//! Response helpers shared by the peer handlers: JSON answers, the not-found and stale-version texts, id
//! and extension-header checks, and the mapping of store/task/receive errors onto `ApiError`.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::receive::ReceiveError;
use crate::store::{Entry, StoreError};
use crate::tasks::TaskError;
use mictlanx_http::error::ApiError;
use mictlanx_http::PathParams;
use mictlanx_proto::headers::{parse_unsigned, N_DELETES, OBJECT_VERSION, REPLICATION_FACTOR};

/// Ids are stored as given but must be non-empty and at most 1024 bytes.
pub const MAX_ID_LEN: usize = 1024;

/// A JSON answer of one of the `mictlanx_proto::peer` types. It is written through a `serde_json::Value`,
/// whose object keys are sorted: the bytes stay those the peer has always sent, whatever the field order
/// of the type (which the router keeps for what it relays).
pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_value(body) {
        Ok(value) => (status, axum::Json(value)).into_response(),
        Err(e) => ApiError::internal(format!("cannot encode the answer: {e}")).into_response(),
    }
}

pub fn not_found(bucket_id: &str, key: &str) -> ApiError {
    ApiError::not_found(format!("{bucket_id}@{key} not found"))
}

/// 400 `"{field}: ..."` for an empty or oversized id.
pub fn check_id(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(ApiError::bad_request(format!("{field}: must not be empty")));
    }
    if value.len() > MAX_ID_LEN {
        return Err(ApiError::bad_request(format!(
            "{field}: must be at most {MAX_ID_LEN} bytes"
        )));
    }
    Ok(())
}

/// A path id (`bucket_id`, `key`, `ball_id`), checked like body ids.
pub fn id_param<'a>(p: &'a PathParams, name: &str) -> Result<&'a str, ApiError> {
    let value = p.required(name)?;
    check_id(name, value)?;
    Ok(value)
}

/// `409 "Stale version {v}: {b}@{k} is at version {current}"`.
pub fn stale(v: u64, bucket_id: &str, key: &str, current: u64) -> ApiError {
    ApiError::conflict(format!(
        "Stale version {v}: {bucket_id}@{key} is at version {current}"
    ))
}

/// An optional unsigned-integer extension header (`Object-Version`, `Replication-Factor`, …); a value that
/// is not plain decimal in range is a 400 naming the header.
pub fn unsigned_header<T: std::str::FromStr>(
    headers: &HeaderMap,
    name: &str,
    display: &str,
) -> Result<Option<T>, ApiError> {
    let Some(raw) = headers.get(name) else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .and_then(parse_unsigned::<T>)
        .map(Some)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "{display}: must be an unsigned integer in range, got '{}'",
                String::from_utf8_lossy(raw.as_bytes())
            ))
        })
}

/// `Object-Version` of a request (400 when invalid).
pub fn object_version(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    unsigned_header(headers, OBJECT_VERSION, "Object-Version")
}

/// Attach `Object-Version` and `Replication-Factor` of a committed object.
pub fn with_version_headers(mut res: Response, entry: &Entry) -> Response {
    let h = res.headers_mut();
    h.insert(OBJECT_VERSION, HeaderValue::from(entry.version));
    h.insert(
        REPLICATION_FACTOR,
        HeaderValue::from(entry.replication_factor),
    );
    res
}

/// Attach `n-deletes: n` to any response.
pub fn with_n_deletes(mut res: Response, n: u64) -> Response {
    res.headers_mut().insert(N_DELETES, HeaderValue::from(n));
    res
}

pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::NoSpace => ApiError::insufficient_storage("No space left on device"),
        // handlers that pass a version map Stale with `stale()`; reaching here is a bug, not a 500 to hide
        StoreError::Stale { current } => {
            ApiError::conflict(format!("Stale version: the object is at version {current}"))
        }
        other => {
            tracing::error!(error = %other, "store failure");
            ApiError::internal(other.to_string())
        }
    }
}

pub fn task_error(e: TaskError) -> ApiError {
    match e {
        TaskError::NotFound(_) => ApiError::not_found(e.to_string()),
        TaskError::InProgress(_) => ApiError::conflict(e.to_string()),
        TaskError::Insufficient { .. } => ApiError::insufficient_storage(e.to_string()),
    }
}

pub fn receive_error(e: ReceiveError) -> ApiError {
    match e {
        ReceiveError::SizeMismatch { .. } => ApiError::bad_request(e.to_string()),
        ReceiveError::NoSpace => ApiError::insufficient_storage(e.to_string()),
        ReceiveError::Transport(_) => ApiError::bad_request(e.to_string()),
        ReceiveError::IdleTimeout(_) => ApiError::new(StatusCode::REQUEST_TIMEOUT, e.to_string()),
        ReceiveError::Io(_) => {
            tracing::error!(error = %e, "upload i/o failure");
            ApiError::internal(e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_maps_to_507() {
        let e = ReceiveError::from(std::io::Error::from_raw_os_error(28));
        let api = receive_error(e);
        assert_eq!(api.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(api.detail(), "No space left on device");
        let api = store_error(StoreError::from(std::io::Error::from_raw_os_error(28)));
        assert_eq!(
            (api.status().as_u16(), api.detail().as_str()),
            (507, Some("No space left on device"))
        );
        let api = receive_error(ReceiveError::SizeMismatch {
            received: 3,
            size: 5,
        });
        assert_eq!(api.detail(), "Data size mistmatch 3 != 5");
    }
}

//! Phase 1 of the two-phase write (`docs/peer-api.md` §3.1, #11): validate, admit, optionally update a committed
//! object's metadata in place (with the `Object-Version` rules), create the pending task (with its
//! `Replication-Factor`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value};

use super::reply::{
    check_id, id_param, json, object_version, stale, store_error, task_error, unsigned_header,
};
use crate::state::PeerState;
use crate::store::{MetadataUpdate, StoreError};
use crate::tasks::TaskError;
use mictlanx_http::error::ApiError;
use mictlanx_http::PathParams;
use mictlanx_proto::headers::{REPLICATION_FACTOR, TASK_ID, UPDATE};
use mictlanx_proto::model::{default_content_type, Metadata};
use mictlanx_proto::peer::PeerPutMetadataResponse;

const JSON_LIMIT: usize = 16 * 1024 * 1024;

/// #11 `POST /api/v4/buckets/{bucket_id}/metadata`.
pub async fn put_metadata(
    State(s): State<Arc<PeerState>>,
    p: PathParams,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let bucket = id_param(&p, "bucket_id")?;
    let bytes = axum::body::to_bytes(body, JSON_LIMIT)
        .await
        .map_err(|_| ApiError::payload_too_large("Request body too large"))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("body: invalid JSON ({e})")))?;
    let meta = parse_body(bucket, &value)?;
    let replication_factor: u32 =
        unsigned_header(&headers, REPLICATION_FACTOR, "Replication-Factor")?.unwrap_or(0);
    let version = object_version(&headers)?;

    let limit = s.config.payload_limit;
    if limit > 0 && meta.size > limit {
        return Err(ApiError::payload_too_large(format!(
            "Object of {} bytes exceeds the payload limit of {limit} bytes",
            meta.size
        )));
    }
    let (used, old) = {
        let index = s.store.index();
        (
            index.used(),
            index
                .get(&meta.bucket_id, &meta.key)
                .map_or(0, |e| e.meta.size),
        )
    };
    let free = s.total_disk().saturating_sub(used.saturating_sub(old));
    if meta.size > free {
        return Err(task_error(TaskError::Insufficient {
            size: meta.size,
            free,
        }));
    }

    let task_id = match headers
        .get(TASK_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => nanoid::nanoid!(),
    };

    let update = headers
        .get(UPDATE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true"));
    if update {
        // refuse before changing anything: a 409 must leave the committed object as it was
        if s.tasks.is_uploading(&task_id) {
            return Err(task_error(TaskError::InProgress(task_id)));
        }
        let up = MetadataUpdate {
            tags: meta.tags.clone(),
            content_type: meta.content_type.clone(),
            producer_id: meta.producer_id.clone(),
            ball_id: meta.ball_id.clone(),
            is_disabled: meta.is_disabled,
        };
        let (b, k) = (&meta.bucket_id, &meta.key);
        match s.store.update(b, k, up, version).await {
            Ok(_) => {}
            Err(StoreError::Stale { current }) => {
                return Err(stale(version.unwrap_or(0), b, k, current))
            }
            Err(e) => return Err(store_error(e)),
        }
    }
    s.tasks
        .put(&task_id, meta.clone(), replication_factor)
        .map_err(task_error)?;
    tracing::debug!(bucket = %meta.bucket_id, key = %meta.key, task_id = %task_id, size = meta.size, "task created");
    Ok(json(
        StatusCode::CREATED,
        &PeerPutMetadataResponse {
            key: meta.key,
            service_time: started.elapsed().as_millis() as i64,
            task_id,
            node_id: s.config.node_id.clone(),
        },
    ))
}

fn bad(field: &str, problem: &str) -> ApiError {
    ApiError::bad_request(format!("{field}: {problem}"))
}

fn req_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Err(bad(field, "field required")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad(field, "must be a string")),
    }
}

fn opt_str<'a>(obj: &'a Map<String, Value>, field: &str) -> Result<Option<&'a str>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(field, "must be a string")),
    }
}

fn opt_bool(obj: &Map<String, Value>, field: &str) -> Result<Option<bool>, ApiError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad(field, "must be a boolean")),
    }
}

/// Validate the phase-1 body into the metadata the task will commit.
pub fn parse_body(bucket: &str, value: &Value) -> Result<Metadata, ApiError> {
    let obj = value
        .as_object()
        .ok_or_else(|| bad("body", "must be a JSON object"))?;
    let key = req_str(obj, "key")?;
    check_id("key", key)?;
    let size = match obj.get("size") {
        None | Some(Value::Null) => return Err(bad("size", "field required")),
        Some(v) => v
            .as_u64()
            .ok_or_else(|| bad("size", "must be an integer >= 0"))?,
    };
    let checksum = req_str(obj, "checksum")?;
    let producer_id = req_str(obj, "producer_id")?;
    let content_type =
        opt_str(obj, "content_type")?.map_or_else(default_content_type, str::to_string);
    let ball_id = opt_str(obj, "ball_id")?.unwrap_or(key);
    check_id("ball_id", ball_id)?;
    if let Some(body_bucket) = opt_str(obj, "bucket_id")? {
        if body_bucket != bucket {
            return Err(ApiError::bad_request(format!(
                "Bucket ID mismatch: {bucket} != {body_bucket}"
            )));
        }
    }
    let mut tags = BTreeMap::new();
    match obj.get("tags") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = v
                    .as_str()
                    .ok_or_else(|| bad(&format!("tags.{k}"), "must be a string"))?;
                tags.insert(k.clone(), v.to_string());
            }
        }
        Some(_) => return Err(bad("tags", "must be an object of strings")),
    }
    let is_disabled = match opt_bool(obj, "is_disable")? {
        Some(b) => b,
        None => opt_bool(obj, "is_disabled")?.unwrap_or(false),
    };
    Ok(Metadata {
        key: key.to_string(),
        size,
        checksum: checksum.to_string(),
        tags,
        content_type,
        producer_id: producer_id.to_string(),
        ball_id: ball_id.to_string(),
        bucket_id: bucket.to_string(),
        is_disabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn detail(v: Value) -> String {
        match parse_body("b", &v) {
            Err(e) => e.detail().as_str().unwrap_or_default().to_string(),
            Ok(m) => format!("ok {}", m.ball_id),
        }
    }

    #[test]
    fn defaults_and_spellings() {
        let m = parse_body("b", &json!({"key":"k","size":0,"checksum":"c","producer_id":"p","is_disable":true,"is_disabled":false}))
            .unwrap();
        assert_eq!(
            (m.ball_id.as_str(), m.bucket_id.as_str(), m.is_disabled),
            ("k", "b", true)
        );
        assert_eq!(m.content_type, "application/octet-stream");
    }

    #[test]
    fn problems_name_the_field() {
        assert_eq!(detail(json!({"size":1})), "key: field required");
        assert_eq!(detail(json!({"key":"","size":1})), "key: must not be empty");
        assert_eq!(
            detail(json!({"key":"k","size":-1})),
            "size: must be an integer >= 0"
        );
        assert_eq!(
            detail(json!({"key":"k","size":1,"checksum":"c"})),
            "producer_id: field required"
        );
        let base = json!({"key":"k","size":1,"checksum":"c","producer_id":"p","bucket_id":"x"});
        assert_eq!(detail(base), "Bucket ID mismatch: b != x");
        let tags = json!({"key":"k","size":1,"checksum":"c","producer_id":"p","tags":{"a":1}});
        assert_eq!(detail(tags), "tags.a: must be a string");
    }
}

//! #19 `POST /api/v4/buckets/{bucket_id}/{key}/replicate` (optional): pull a committed object from the
//! first neighbour that has it, through the same admission, temp file and commit as an upload. The copy
//! keeps the neighbour's `Object-Version` and `Replication-Factor` (a newer local version refuses it, 409).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::reply::{id_param, json, not_found, receive_error, stale, store_error, task_error};
use crate::receive::receive_into;
use crate::state::PeerState;
use crate::store::blocks::declared_sha256;
use crate::store::{CommitOptions, StoreError};
use mictlanx_http::error::ApiError;
use mictlanx_http::PathParams;
use mictlanx_proto::headers::{parse_unsigned, OBJECT_VERSION, REPLICATION_FACTOR};
use mictlanx_proto::model::Metadata;
use mictlanx_proto::peer::{paths, GetMetadataResponse, ReplicateResponse};

/// A neighbour's committed, enabled copy: its id and metadata.
async fn find(s: &PeerState, base: &str, b: &str, k: &str) -> Option<(String, Metadata)> {
    let res = s
        .neighbour_get(format!("{base}{}", paths::object_metadata(b, k)))
        .send()
        .await
        .ok()?;
    if !res.status().is_success() {
        return None;
    }
    let answer: GetMetadataResponse = res.json().await.ok()?;
    let meta = answer.metadata;
    (!meta.is_disabled && meta.bucket_id == b && meta.key == k).then_some((answer.peer_id, meta))
}

pub async fn replicate(
    State(s): State<Arc<PeerState>>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let (b, k) = (id_param(&p, "bucket_id")?, id_param(&p, "key")?);
    for base in s.neighbour_urls() {
        let Some((replica_peer_id, meta)) = find(&s, &base, b, k).await else {
            continue;
        };
        let task_id = format!("replicate-{}", nanoid::nanoid!());
        s.tasks.put(&task_id, meta.clone(), 0).map_err(task_error)?;
        let guard = s
            .tasks
            .begin_upload(&task_id, s.total_disk(), |m| {
                let index = s.store.index();
                (
                    index.used(),
                    index.get(&m.bucket_id, &m.key).map_or(0, |e| e.meta.size),
                )
            })
            .map_err(task_error);
        let guard = match guard {
            Ok(g) => g.one_shot(),
            Err(e) => {
                s.tasks.remove_idle(&task_id);
                return Err(e);
            }
        };
        let res = match s
            .neighbour_get(format!("{base}{}", paths::object(b, k)))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => r,
            _ => continue, // the one-shot guard removes the task
        };
        let header = |name| res.headers().get(name).and_then(|v| v.to_str().ok());
        let opts = CommitOptions {
            version: header(OBJECT_VERSION).and_then(parse_unsigned),
            replication_factor: header(REPLICATION_FACTOR)
                .and_then(parse_unsigned)
                .unwrap_or(0),
        };
        let part = s.store.new_part();
        let idle = s.config.client_request_timeout;
        let received = receive_into(
            res.bytes_stream(),
            &part,
            meta.size,
            idle,
            &s.metrics.bytes_in,
        )
        .await
        .map_err(receive_error)?;
        let computed = hex::encode(received.digests.sha256);
        if let Some(declared) = declared_sha256(&meta.checksum).filter(|d| *d != computed) {
            s.metrics.mismatch_upload.increment(1);
            tracing::warn!(bucket = %b, key = %k, %declared, %computed, neighbour = %base, "replica bytes do not match the checksum");
            continue;
        }
        let committed = match s.store.commit(meta, part, received.digests, opts).await {
            Ok(entry) => entry.meta,
            Err(StoreError::Stale { current }) => {
                return Err(stale(opts.version.unwrap_or(0), b, k, current))
            }
            Err(e) => return Err(store_error(e)),
        };
        guard.complete();
        return Ok(json(
            StatusCode::OK,
            &ReplicateResponse {
                peer_id: s.config.node_id.clone(),
                replica_peer_id,
                bucket_id: committed.bucket_id,
                key: committed.key,
                size: received.bytes,
                ok: true,
                response_time: started.elapsed().as_millis() as u64,
            },
        ));
    }
    Err(not_found(b, k))
}

//! One repair or drain copy, relayed by the router: the source's metadata and its streaming bytes become a
//! two-phase write on the target at the **same version** (so the new copy counts as current), paced by the
//! shared bandwidth bound. Nothing is buffered: the source body streams straight into the target upload.

use std::sync::Arc;

use futures::StreamExt;

use super::state::Inner;
use super::throttle::throttled;
use super::types::PeerInfo;
use crate::peer_client::{PeerPutMetadata, PutOptions};

/// What one copy moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    pub version: u64,
}

/// Copy `b@k` from `source` to `target`. `version` is the record's current version (0 = unknown): a
/// source holding another version is refused, so a stale copy is never spread.
pub(super) async fn copy(
    inner: &Arc<Inner>,
    source: &PeerInfo,
    target: &PeerInfo,
    b: &str,
    k: &str,
    version: u64,
    rf: u32,
) -> Result<Copied, String> {
    let client = &inner.client;
    let (md, held) = client
        .get_metadata_copy(source, b, k)
        .await
        .map_err(|e| format!("source metadata: {e}"))?;
    if version != 0 && held.version != version {
        return Err(format!(
            "source holds version {} instead of {version}",
            held.version
        ));
    }
    let m = md.metadata;
    if m.is_disabled {
        return Err("disabled objects are not copied (their bytes are not served)".into());
    }
    let body = PeerPutMetadata {
        bucket_id: b.to_string(),
        key: k.to_string(),
        ball_id: m.ball_id.clone(),
        checksum: m.checksum.clone(),
        size: m.size,
        tags: m.tags.clone(),
        producer_id: m.producer_id.clone(),
        content_type: m.content_type.clone(),
        is_disabled: false,
    };
    let task_id = format!("repair-{}", nanoid::nanoid!());
    let opts = PutOptions {
        rf: Some(rf.max(held.rf).max(1)),
        version: None,
    };
    let task = client
        .put_metadata_with(target, b, &body, Some(&task_id), "0", opts)
        .await
        .map_err(|e| format!("target put metadata: {e}"))?;
    let resp = client
        .get_data(source, b, k)
        .await
        .map_err(|e| format!("source data: {e}"))?;
    let bytes = resp
        .bytes_stream()
        .map(|piece| piece.map_err(std::io::Error::other));
    let body = reqwest::Body::wrap_stream(throttled(bytes, inner.work.throttle.clone()));
    client
        .upload_chunked_versioned(
            target,
            &task.task_id,
            m.size,
            body,
            (held.version > 0).then_some(held.version),
        )
        .await
        .map_err(|e| format!("target upload: {e}"))?;
    Ok(Copied {
        bytes: m.size,
        version: held.version,
    })
}

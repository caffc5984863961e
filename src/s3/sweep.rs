//! The expiry sweep of multipart uploads: on the router that holds the background lease (one per space),
//! every pass aborts the uploads created longer than `MICTLANX_S3_UPLOAD_EXPIRY` ago (their parts are
//! deleted, then their document) and forgets completed ones as old (their parts stay with the object). A
//! pass reads the upload documents only, never the objects.

use std::sync::Arc;
use std::time::Duration;

use super::service::Facade;
use super::uploads::now_secs;
use crate::cluster::Manager;

/// Between passes: a fraction of the expiry, at most a minute.
pub fn interval(expiry: Duration) -> Duration {
    (expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Run passes until the task is dropped.
pub async fn run(facade: Facade, manager: Arc<Manager>, expiry: Duration) {
    let mut tick = tokio::time::interval(interval(expiry));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !manager.is_leader() {
            continue;
        }
        match pass(&facade, expiry).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(aborted = n, "expired multipart uploads aborted"),
            Err(e) => tracing::warn!(error = %e, "multipart upload sweep failed"),
        }
    }
}

/// One pass; the number of uploads aborted.
pub async fn pass(facade: &Facade, expiry: Duration) -> Result<usize, s3s::S3Error> {
    let now = now_secs();
    let mut aborted = 0;
    for upload in facade.uploads.list().await? {
        if now.saturating_sub(upload.doc.created) < expiry.as_secs() {
            continue;
        }
        if upload.doc.completed.is_some() {
            // the parts belong to the completed object: only the document goes
            facade.uploads.remove(&upload).await?;
        } else {
            facade.abort(&upload).await?;
            aborted += 1;
        }
    }
    Ok(aborted)
}

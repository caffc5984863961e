//! Start/outcome bookkeeping of one peer call: the `mictlanx_router_peer_requests_total` counter and, when
//! the client reports to a replica manager, `report_start` + `report_outcome`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::error::outcome_label;
use super::PeerClient;
use crate::replica::{PeerInfo, PeerOutcome, ReplicaManager};

/// Start/outcome bookkeeping of one call. Dropping it unfinished (the caller's future was cancelled) still
/// reports an outcome so the peer's in-flight count stays exact.
pub(super) struct Report {
    rm: Option<Arc<dyn ReplicaManager>>,
    peer_id: String,
    started: Instant,
    done: bool,
}

impl Report {
    pub async fn begin(client: &PeerClient, peer: &PeerInfo) -> Report {
        if let Some(rm) = &client.reporter {
            rm.report_start(&peer.peer_id).await;
        }
        Report {
            rm: client.reporter.clone(),
            peer_id: peer.peer_id.clone(),
            started: Instant::now(),
            done: false,
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub async fn finish(mut self, outcome: PeerOutcome) {
        self.done = true;
        metrics::counter!("mictlanx_router_peer_requests_total",
            "peer_id" => self.peer_id.clone(), "outcome" => outcome_label(&outcome))
        .increment(1);
        if let Some(rm) = self.rm.take() {
            rm.report_outcome(&self.peer_id, outcome).await;
        }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if let (Some(rm), Ok(handle)) = (self.rm.take(), tokio::runtime::Handle::try_current()) {
            let peer_id = std::mem::take(&mut self.peer_id);
            let latency = self.started.elapsed();
            handle.spawn(async move {
                rm.report_outcome(&peer_id, PeerOutcome::Ok { latency })
                    .await
            });
        }
    }
}

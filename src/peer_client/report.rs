//! Start/outcome bookkeeping of one peer call: the `mictlanx_router_peer_requests_total` counter and, when
//! the client reports somewhere (normally the replica manager), start + outcome.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::error::outcome_label;
use super::PeerClient;
use crate::replica::{PeerInfo, PeerOutcome, ReplicaManager};

/// Where a reporting client sends each call's start and outcome. The replica manager is one (through
/// [`PeerClient::reporting_to`]); the embedded manager's own background calls use a sink that does not keep
/// the manager alive.
#[async_trait]
pub trait OutcomeSink: Send + Sync + 'static {
    async fn start(&self, peer_id: &str);
    async fn outcome(&self, peer_id: &str, outcome: PeerOutcome);
}

pub(super) struct ManagerSink(pub Arc<dyn ReplicaManager>);

#[async_trait]
impl OutcomeSink for ManagerSink {
    async fn start(&self, peer_id: &str) {
        self.0.report_start(peer_id).await
    }

    async fn outcome(&self, peer_id: &str, outcome: PeerOutcome) {
        self.0.report_outcome(peer_id, outcome).await
    }
}

/// Start/outcome bookkeeping of one call. Dropping it unfinished (the caller's future was cancelled) still
/// reports an outcome so the peer's in-flight count stays exact.
pub(super) struct Report {
    rm: Option<Arc<dyn OutcomeSink>>,
    peer_id: String,
    started: Instant,
    done: bool,
}

impl Report {
    pub async fn begin(client: &PeerClient, peer: &PeerInfo) -> Report {
        if let Some(rm) = &client.reporter {
            rm.start(&peer.peer_id).await;
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
            rm.outcome(&self.peer_id, outcome).await;
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
            handle.spawn(async move { rm.outcome(&peer_id, PeerOutcome::Ok { latency }).await });
        }
    }
}

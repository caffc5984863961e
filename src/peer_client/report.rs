//! Start/outcome bookkeeping of one peer call: the `mictlanx_router_peer_requests_total` counter and, when
//! the client reports somewhere (normally the replica manager), start + outcome.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use metrics::Counter;

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

/// The outcome labels of `mictlanx_router_peer_requests_total`, in [`outcome_index`] order.
const OUTCOMES: [&str; 5] = ["ok", "connect", "timeout", "5xx", "507"];

fn outcome_index(o: &PeerOutcome) -> usize {
    let label = outcome_label(o);
    OUTCOMES.iter().position(|l| *l == label).unwrap_or(0)
}

/// `mictlanx_router_peer_requests_total` handles per peer, registered on a peer's first call: a labelled
/// `counter!` builds, allocates and hashes its key on every call (issue 16 profile). Shared by every clone
/// of one `PeerClient`.
#[derive(Clone, Default)]
pub(super) struct PeerCounters(Arc<RwLock<HashMap<String, Arc<[Counter; 5]>>>>);

impl PeerCounters {
    fn increment(&self, peer_id: &str, outcome: &PeerOutcome) {
        let i = outcome_index(outcome);
        let found = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(peer_id)
            .cloned();
        let handles = match found {
            Some(h) => h,
            None => {
                let h: Arc<[Counter; 5]> = Arc::new(OUTCOMES.map(|o| {
                    metrics::counter!("mictlanx_router_peer_requests_total",
                        "peer_id" => peer_id.to_string(), "outcome" => o)
                }));
                let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
                // Bounded by the peers ever registered; a runaway registry only costs a re-registration.
                if map.len() > 4096 {
                    map.clear();
                }
                map.insert(peer_id.to_string(), h.clone());
                h
            }
        };
        handles[i].increment(1);
    }
}

/// Start/outcome bookkeeping of one call. Dropping it unfinished (the caller's future was cancelled) still
/// reports an outcome so the peer's in-flight count stays exact.
pub(super) struct Report {
    rm: Option<Arc<dyn OutcomeSink>>,
    counters: PeerCounters,
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
            counters: client.counters.clone(),
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
        self.counters.increment(&self.peer_id, &outcome);
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

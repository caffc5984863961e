//! How a peer client reports each call's start and outcome to the replica manager (error limiting, read
//! ordering). It lives here, not in `peer_client`, so the peer client does not depend on the cluster.

use std::sync::Arc;

use async_trait::async_trait;

use super::ReplicaManager;
use crate::peer::PeerOutcome;
use crate::peer_client::{OutcomeSink, PeerClient};

struct ManagerSink(Arc<dyn ReplicaManager>);

#[async_trait]
impl OutcomeSink for ManagerSink {
    async fn start(&self, peer_id: &str) {
        self.0.report_start(peer_id).await
    }

    async fn outcome(&self, peer_id: &str, outcome: PeerOutcome) {
        self.0.report_outcome(peer_id, outcome).await
    }
}

impl PeerClient {
    /// The same client (same pool) reporting every call's start and outcome to `rm`.
    pub fn reporting_to(&self, rm: Arc<dyn ReplicaManager>) -> PeerClient {
        self.reporting_to_sink(Arc::new(ManagerSink(rm)))
    }
}

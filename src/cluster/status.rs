//! The repair status of `GET /api/v4/repair`: this router's repair loop, the attention queue, the drains,
//! and — on a router that is not the leader — the leader's own status as it last published it.

use std::sync::Arc;

use super::drain;
use super::state::{lock, nanos, Inner};
use super::types::RepairStatus;

pub(super) async fn repair_status(inner: &Arc<Inner>) -> RepairStatus {
    let (running, done, last_round) = {
        let st = lock(&inner.work.repair);
        (
            st.running.iter().cloned().collect(),
            st.totals.clone(),
            st.last.clone(),
        )
    };
    let leader = inner.work.is_leader();
    let leader_status = if leader {
        None
    } else {
        inner
            .state
            .st(inner.state.store.doc("repair/status"))
            .await
            .ok()
            .flatten()
    };
    let cfg = &inner.cfg.repair;
    RepairStatus {
        router_id: inner.router_id.clone(),
        leader,
        backend: inner.state.store.backend().to_string(),
        interval_ms: nanos(cfg.interval) / 1_000_000,
        delay_ms: nanos(cfg.delay) / 1_000_000,
        bandwidth: cfg.bandwidth,
        concurrency: cfg.concurrency as u64,
        queued: inner
            .state
            .st(inner.state.store.attention_len())
            .await
            .unwrap_or_default(),
        running,
        done,
        last_round,
        leader_status,
        drains: drain::all(&inner.state).await.unwrap_or_default(),
    }
}

//! The manager's background loops: liveness probes with a registry refresh (the first round runs at
//! start-up, before the router serves; then one every health interval), the leader lease, and — on the
//! leader only, so once per storage space — inventory rebuilds (after the first round, then every rebuild
//! interval) and the sweep of expired state. All run under the manager's cancellation token.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::state::{lock, now_ns, Inner};
use super::{drain, inventory, liveness, membership, repair};

/// Lease of the background work: three health intervals, at least 2 s.
pub fn leader_lease(health_interval: Duration) -> Duration {
    (health_interval * 3).max(Duration::from_secs(2))
}

pub(super) fn start(inner: &Arc<Inner>) {
    let i = inner.clone();
    inner.work.spawn(async move { probe_loop(i).await });
    let i = inner.clone();
    inner.work.spawn(async move { gc_loop(i).await });
    let i = inner.clone();
    inner
        .work
        .spawn(async move { repair::repair_loop(i).await });
}

/// Take or keep the leader lease; logs and counts transitions.
pub(super) async fn renew_leadership(inner: &Arc<Inner>) {
    let ttl = leader_lease(inner.cfg.health_interval);
    let leader = inner
        .state
        .st(inner.state.store.lease("leader", &inner.router_id, ttl))
        .await
        .unwrap_or(false);
    let was = inner.work.leader.swap(leader, Ordering::Relaxed);
    if was != leader {
        // a new leader knows nothing of the peers' shards: its first passes reconcile every shard
        lock(&inner.work.digests).clear();
        inner
            .metrics
            .gauge("mictlanx_router_leader")
            .set(if leader { 1.0 } else { 0.0 });
        tracing::info!(router_id = %inner.router_id, leader, "background work leadership changed");
    }
}

async fn leader_loop(inner: Arc<Inner>) {
    let every = leader_lease(inner.cfg.health_interval) / 3;
    loop {
        tokio::time::sleep(every).await;
        renew_leadership(&inner).await;
    }
}

async fn probe_loop(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(inner.cfg.health_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await;
    renew_leadership(&inner).await;
    let i = inner.clone();
    inner.work.spawn(async move { leader_loop(i).await });
    // The first round ran in `Manager::start`, before the router served; the start-up full pass follows it.
    let i = inner.clone();
    inner.work.spawn(async move { rebuild_loop(i).await });
    loop {
        tick.tick().await;
        // The epoch first: a store that lost its data must get this router's registry back before the
        // (empty) registry it now holds replaces this router's view.
        check_epoch(&inner).await;
        if let Err(e) = membership::refresh(&inner).await {
            tracing::debug!(error = %e, "registry refresh failed");
        }
        drain::refresh(&inner).await;
        liveness::probe_round(&inner, true).await;
    }
}

/// A store whose data-set identity changed lost its data (a Redis restarted empty): drop caches, publish
/// the registry again and, on the leader, rebuild the replica map from the peers at once.
async fn check_epoch(inner: &Arc<Inner>) {
    let Ok(epoch) = inner.state.st(inner.state.store.epoch()).await else {
        return;
    };
    let changed = {
        let mut last = lock(&inner.state.epoch);
        let changed = last.as_ref().is_some_and(|e| *e != epoch);
        *last = Some(epoch);
        changed
    };
    if !changed {
        return;
    }
    tracing::warn!("state store came back without its data: rebuilding from the peers");
    inner.state.reset_caches();
    membership::republish(inner).await;
    renew_leadership(inner).await;
    if inner.work.is_leader() {
        let i = inner.clone();
        inner
            .work
            .spawn(async move { inventory::full_pass(&i).await });
    }
}

async fn rebuild_loop(inner: Arc<Inner>) {
    if inner.work.is_leader() {
        inventory::full_pass(&inner).await;
    }
    let every = inner.cfg.rebuild_interval;
    if every.is_zero() {
        return;
    }
    loop {
        tokio::time::sleep(every).await;
        if inner.work.is_leader() {
            inventory::full_pass(&inner).await;
        }
    }
}

/// Sweep period `min(60 s, TTL/10)`, at least 1 s.
pub fn sweep_period(ttl: Duration) -> Duration {
    (ttl / 10)
        .min(Duration::from_secs(60))
        .max(Duration::from_secs(1))
}

async fn gc_loop(inner: Arc<Inner>) {
    let period = sweep_period(inner.cfg.task_ttl);
    loop {
        tokio::time::sleep(period).await;
        if inner.work.is_leader() {
            match inner.state.st(inner.state.store.sweep(now_ns())).await {
                Ok(n) if n > 0 => tracing::debug!(removed = n, "expired task groups swept"),
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "sweep failed"),
            }
        }
        if let Ok(n) = inner.state.st(inner.state.store.group_count()).await {
            inner.state.update_tasks_gauge(n);
        }
        if let Ok(n) = inner.state.st(inner.state.store.object_count()).await {
            inner.state.update_map_gauge(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_period_bounds() {
        assert_eq!(
            sweep_period(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
        assert_eq!(
            sweep_period(Duration::from_secs(100)),
            Duration::from_secs(10)
        );
        assert_eq!(sweep_period(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(
            leader_lease(Duration::from_millis(200)),
            Duration::from_secs(2)
        );
        assert_eq!(
            leader_lease(Duration::from_secs(5)),
            Duration::from_secs(15)
        );
    }
}

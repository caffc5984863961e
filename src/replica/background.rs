//! The embedded manager's background loops: health probes (first round at once, then every health
//! interval), inventory rebuilds (after the first round, then every rebuild interval) and the task-group
//! sweep. All run under the manager's cancellation token.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::health;
use super::inventory;
use super::state::{lock, now_ns, Inner};

pub(super) fn start(inner: &Arc<Inner>) {
    let i = inner.clone();
    inner.spawn(async move { health_loop(i).await });
    let i = inner.clone();
    inner.spawn(async move { gc_loop(i).await });
}

async fn health_loop(inner: Arc<Inner>) {
    let mut tick = tokio::time::interval(inner.cfg.health_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await;
    // The start-up full pass follows the first round, so that round does not start per-peer passes.
    health::probe_round(&inner, false).await;
    let i = inner.clone();
    inner.spawn(async move { rebuild_loop(i).await });
    loop {
        tick.tick().await;
        health::probe_round(&inner, true).await;
    }
}

async fn rebuild_loop(inner: Arc<Inner>) {
    inventory::full_pass(&inner).await;
    let every = inner.cfg.rebuild_interval;
    if every.is_zero() {
        return;
    }
    loop {
        tokio::time::sleep(every).await;
        inventory::full_pass(&inner).await;
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
        let mut tasks = lock(&inner.tasks);
        let removed = tasks.gc(now_ns());
        inner.update_tasks_gauge(tasks.group_count());
        if removed > 0 {
            tracing::debug!(removed, "expired task groups swept");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::sweep_period;
    use std::time::Duration;

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
    }
}

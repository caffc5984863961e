//! Peer health (`replica-manager.md` §4): the per-peer state machine (active probes + passive error
//! limiting from reported outcomes) and the probe rounds that drive it.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use super::state::{lock, now_ns, Inner};
use super::types::{PeerInfo, PeerOutcome};
use crate::peer_client::{OutcomeSink, UfsStats};
use crate::telemetry::Metrics;

/// Availability of one peer. Live = `Available`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Registered, never probed.
    Unknown,
    Available,
    Unreachable,
    CoolingDown {
        until: Instant,
    },
}

/// What the manager should do after a reported outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    Nothing,
    /// Probe the peer now (a 507 means its disk figures are stale).
    ProbeNow,
}

#[derive(Debug, Clone)]
pub struct PeerHealth {
    pub state: PeerState,
    pub figures: Option<UfsStats>,
    pub last_ok_at_ns: Option<u64>,
    pub last_error: Option<String>,
    pub consecutive_errors: u32,
    pub in_flight: u64,
    /// No sample yet = 0.
    pub ewma_latency_ms: f64,
    /// Since when the peer has not been live (`None` while it is): repair replaces a holder's copies only
    /// once this is older than `MICTLANX_ROUTER_REPAIR_DELAY`.
    pub down_since: Option<Instant>,
}

impl Default for PeerHealth {
    fn default() -> Self {
        Self {
            state: PeerState::Unknown,
            figures: None,
            last_ok_at_ns: None,
            last_error: None,
            consecutive_errors: 0,
            in_flight: 0,
            ewma_latency_ms: 0.0,
            down_since: Some(Instant::now()),
        }
    }
}

impl PeerHealth {
    pub fn is_live(&self) -> bool {
        self.state == PeerState::Available
    }

    /// A successful probe; returns `true` on a transition into `Available`.
    pub fn probe_ok(&mut self, figures: UfsStats, now: Instant, now_ns: u64) -> bool {
        self.figures = Some(figures);
        self.last_ok_at_ns = Some(now_ns);
        self.consecutive_errors = 0;
        let next = match self.state {
            PeerState::CoolingDown { until } if now < until => self.state,
            _ => PeerState::Available,
        };
        let became = next == PeerState::Available && self.state != PeerState::Available;
        self.state = next;
        self.track_down(now);
        became
    }

    pub fn probe_failed(&mut self, error: String) {
        self.state = PeerState::Unreachable;
        self.last_error = Some(error);
        self.track_down(Instant::now());
    }

    /// How long the peer has not been live (zero while it is).
    pub fn down_for(&self, now: Instant) -> std::time::Duration {
        self.down_since.map_or(std::time::Duration::ZERO, |since| {
            now.saturating_duration_since(since)
        })
    }

    fn track_down(&mut self, now: Instant) {
        if self.is_live() {
            self.down_since = None;
        } else if self.down_since.is_none() {
            self.down_since = Some(now);
        }
    }

    pub fn started(&mut self) {
        self.in_flight += 1;
    }

    /// Passive error limiting (§4.3).
    pub fn outcome(
        &mut self,
        outcome: PeerOutcome,
        threshold: u32,
        cooldown: Duration,
        now: Instant,
    ) -> FollowUp {
        self.in_flight = self.in_flight.saturating_sub(1);
        match outcome {
            PeerOutcome::Connect => {
                self.state = PeerState::Unreachable;
                self.last_error = Some("connect error".into());
            }
            PeerOutcome::Timeout | PeerOutcome::ServerError(_) => {
                self.consecutive_errors += 1;
                self.last_error = Some(match outcome {
                    PeerOutcome::ServerError(s) => format!("status {s}"),
                    _ => "timeout".into(),
                });
                if self.consecutive_errors >= threshold.max(1) {
                    self.state = PeerState::CoolingDown {
                        until: now + cooldown,
                    };
                    self.consecutive_errors = 0;
                }
            }
            PeerOutcome::Ok { latency } => {
                self.consecutive_errors = 0;
                let ms = latency.as_secs_f64() * 1000.0;
                self.ewma_latency_ms = 0.8 * self.ewma_latency_ms + 0.2 * ms;
            }
            PeerOutcome::InsufficientStorage => return FollowUp::ProbeNow,
        }
        self.track_down(now);
        FollowUp::Nothing
    }
}

/// Probe one peer (`GET /api/v4/stats/ufs`, health timeout) and apply the result. A transition into
/// `Available` starts that peer's inventory pass when `with_pass`.
pub(super) async fn probe_peer(inner: &Arc<Inner>, peer: PeerInfo, with_pass: bool) {
    let result = inner
        .probe_client
        .probe_ufs(&peer, inner.cfg.health_timeout)
        .await;
    let became = {
        let mut peers = lock(&inner.peers);
        let Some(entry) = peers.get_mut(&peer.peer_id).filter(|e| e.info == peer) else {
            return;
        };
        let became = match result {
            Ok(figures) => entry.health.probe_ok(figures, Instant::now(), now_ns()),
            Err(e) => {
                if entry.health.state != PeerState::Unreachable {
                    tracing::warn!(peer_id = %peer.peer_id, error = %e, "peer probe failed");
                }
                entry.health.probe_failed(e.to_string());
                false
            }
        };
        set_available_gauge(&inner.metrics, &peer.peer_id, entry.health.is_live());
        became
    };
    if became {
        tracing::info!(peer_id = %peer.peer_id, "peer available");
        // Pending deletes (tombstones) and repairs involving this peer can run now.
        inner.repair_kick.notify_one();
        if with_pass && inner.is_leader() {
            let inner2 = inner.clone();
            inner.spawn(async move { super::inventory::pass_peer(&inner2, peer).await });
        }
    }
}

/// Probe every registered peer concurrently (bounded by the fan-out concurrency).
pub(super) async fn probe_round(inner: &Arc<Inner>, with_pass: bool) {
    let peers: Vec<PeerInfo> = lock(&inner.peers)
        .values()
        .map(|e| e.info.clone())
        .collect();
    futures::stream::iter(peers)
        .for_each_concurrent(inner.fanout, |p| probe_peer(inner, p, with_pass))
        .await;
}

/// `report_start`: one more call in flight.
pub(super) fn on_start(inner: &Inner, peer_id: &str) {
    if let Some(e) = lock(&inner.peers).get_mut(peer_id) {
        e.health.started();
    }
}

/// `report_outcome`: error limiting and latency (§4.3); a 507 triggers a probe of that peer.
pub(super) fn on_outcome(inner: &Arc<Inner>, peer_id: &str, outcome: PeerOutcome) {
    let follow = {
        let mut peers = lock(&inner.peers);
        let Some(e) = peers.get_mut(peer_id) else {
            return;
        };
        let was_live = e.health.is_live();
        let cfg = &inner.cfg;
        let follow = e.health.outcome(
            outcome,
            cfg.error_threshold,
            cfg.error_cooldown,
            Instant::now(),
        );
        if was_live != e.health.is_live() {
            tracing::warn!(peer_id, ?outcome, state = ?e.health.state, "peer taken out of rotation");
            set_available_gauge(&inner.metrics, peer_id, e.health.is_live());
        }
        (follow == FollowUp::ProbeNow).then(|| e.info.clone())
    };
    if let Some(peer) = follow {
        let i = inner.clone();
        inner.spawn(async move { probe_peer(&i, peer, true).await });
    }
}

/// The manager's own background calls report here; it does not keep the manager alive.
pub(super) struct HealthSink(pub Weak<Inner>);

#[async_trait]
impl OutcomeSink for HealthSink {
    async fn start(&self, peer_id: &str) {
        if let Some(inner) = self.0.upgrade() {
            on_start(&inner, peer_id);
        }
    }

    async fn outcome(&self, peer_id: &str, outcome: PeerOutcome) {
        if let Some(inner) = self.0.upgrade() {
            on_outcome(&inner, peer_id, outcome);
        }
    }
}

pub(super) fn set_available_gauge(metrics: &Metrics, peer_id: &str, live: bool) {
    metrics
        .gauge_with(
            "mictlanx_router_peer_available",
            &[("peer_id", peer_id.to_string())],
        )
        .set(if live { 1.0 } else { 0.0 });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ufs() -> UfsStats {
        UfsStats {
            total_disk: 100,
            used_disk: 10,
            disk_uf: 0.1,
        }
    }

    #[test]
    fn probes_drive_availability() {
        let mut h = PeerHealth::default();
        assert!(!h.is_live());
        assert!(h.probe_ok(ufs(), Instant::now(), 1));
        assert!(
            !h.probe_ok(ufs(), Instant::now(), 2),
            "already available is no transition"
        );
        h.probe_failed("down".into());
        assert_eq!(h.state, PeerState::Unreachable);
        assert!(h.probe_ok(ufs(), Instant::now(), 3));
    }

    #[test]
    fn error_limiting_and_cooldown() {
        let t0 = Instant::now();
        let cd = Duration::from_secs(30);
        let mut h = PeerHealth::default();
        h.probe_ok(ufs(), t0, 1);
        h.started();
        h.outcome(PeerOutcome::Timeout, 3, cd, t0);
        h.outcome(PeerOutcome::ServerError(500), 3, cd, t0);
        assert!(h.is_live());
        h.outcome(
            PeerOutcome::Ok {
                latency: Duration::from_millis(10),
            },
            3,
            cd,
            t0,
        );
        assert_eq!(h.consecutive_errors, 0);
        assert!((h.ewma_latency_ms - 2.0).abs() < 1e-9);
        for _ in 0..3 {
            h.outcome(PeerOutcome::ServerError(503), 3, cd, t0);
        }
        assert_eq!(h.state, PeerState::CoolingDown { until: t0 + cd });
        assert_eq!(h.consecutive_errors, 0);
        assert!(
            !h.probe_ok(ufs(), t0 + Duration::from_secs(1), 2),
            "still cooling down"
        );
        assert!(!h.is_live());
        assert!(h.probe_ok(ufs(), t0 + cd, 3));
        assert_eq!(h.in_flight, 0, "never below zero");
    }

    #[test]
    fn connect_is_unreachable_at_once_and_507_asks_for_a_probe() {
        let t0 = Instant::now();
        let mut h = PeerHealth::default();
        h.probe_ok(ufs(), t0, 1);
        assert_eq!(
            h.outcome(PeerOutcome::InsufficientStorage, 3, Duration::ZERO, t0),
            FollowUp::ProbeNow
        );
        assert!(h.is_live());
        assert_eq!(h.consecutive_errors, 0);
        h.outcome(PeerOutcome::Connect, 3, Duration::ZERO, t0);
        assert_eq!(h.state, PeerState::Unreachable);
    }
}

//! Start/outcome bookkeeping of one peer call: the `mictlanx_router_peer_requests_total` counter and, when
//! the client reports somewhere (normally the replica manager), start + outcome.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use metrics::Counter;

use super::error::outcome_label;
use super::PeerClient;
use crate::cluster::{PeerInfo, PeerOutcome, ReplicaManager};
use crate::telemetry::Metrics;

/// Where a reporting client sends each call's start and outcome. The replica manager is one (through
/// [`PeerClient::reporting_to`]); the embedded manager's own background calls use a sink that does not keep
/// the manager alive.
#[async_trait]
pub trait OutcomeSink: Send + Sync + 'static {
    async fn start(&self, peer_id: &str);
    async fn outcome(&self, peer_id: &str, outcome: PeerOutcome);
}

tokio::task_local! {
    /// Inside [`abandoned_after`]: how long a call may run before being cancelled counts as a timeout.
    static SLOW_AFTER: Duration;
}

/// Runs `fut` so that a peer call it starts and then abandons (the future is dropped: a fan-out deadline
/// passed, a continuation stalled) after running for at least `after` is reported as a `Timeout`, which
/// counts toward error limiting. Without it an abandoned call counts as answered, so a stalled peer whose
/// calls are always abandoned at a deadline would never add to its error count. Hedged reads do not use
/// it: a hedge loser only missed the hedge delay (see `replication::hedge`, suspects).
pub async fn abandoned_after<F: Future>(after: Duration, fut: F) -> F::Output {
    SLOW_AFTER.scope(after, fut).await
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
/// lookup builds, allocates and hashes its key on every call. Shared by every clone of one `PeerClient`.
#[derive(Clone)]
pub(super) struct PeerCounters {
    metrics: Metrics,
    handles: Arc<RwLock<HashMap<String, Arc<[Counter; 5]>>>>,
}

impl PeerCounters {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            metrics,
            handles: Default::default(),
        }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn increment(&self, peer_id: &str, outcome: &PeerOutcome) {
        let i = outcome_index(outcome);
        let found = self
            .handles
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(peer_id)
            .cloned();
        let handles = match found {
            Some(h) => h,
            None => {
                let h: Arc<[Counter; 5]> = Arc::new(OUTCOMES.map(|o| {
                    self.metrics.counter_with(
                        "mictlanx_router_peer_requests_total",
                        &[("peer_id", peer_id.to_string()), ("outcome", o.to_string())],
                    )
                }));
                let mut map = self.handles.write().unwrap_or_else(|e| e.into_inner());
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
    /// Set inside [`abandoned_after`].
    slow_after: Option<Duration>,
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
            slow_after: SLOW_AFTER.try_with(|d| *d).ok(),
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
        let latency = self.started.elapsed();
        let outcome = match self.slow_after {
            Some(after) if latency >= after => {
                self.counters
                    .increment(&self.peer_id, &PeerOutcome::Timeout);
                PeerOutcome::Timeout
            }
            _ => PeerOutcome::Ok { latency },
        };
        if let (Some(rm), Ok(handle)) = (self.rm.take(), tokio::runtime::Handle::try_current()) {
            let peer_id = std::mem::take(&mut self.peer_id);
            handle.spawn(async move { rm.outcome(&peer_id, outcome).await });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::config::Config;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<PeerOutcome>>);

    #[async_trait]
    impl OutcomeSink for Recorder {
        async fn start(&self, _: &str) {}
        async fn outcome(&self, _: &str, outcome: PeerOutcome) {
            self.0.lock().unwrap().push(outcome);
        }
    }

    /// A peer that accepts connections and never answers (what a SIGSTOPped process looks like).
    async fn silent_peer() -> (tokio::net::TcpListener, PeerInfo) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = PeerInfo {
            peer_id: "silent".into(),
            ip_addr: "127.0.0.1".into(),
            port: listener.local_addr().unwrap().port(),
            protocol: "http".into(),
            api_version: 4,
        };
        (listener, peer)
    }

    async fn abandon(client: &PeerClient, peer: &PeerInfo, scope: Option<Duration>) {
        let call = client.get_data(peer, "b", "k");
        let bounded = tokio::time::timeout(Duration::from_millis(150), async {
            match scope {
                Some(after) => abandoned_after(after, call).await,
                None => call.await,
            }
        });
        assert!(bounded.await.is_err(), "the silent peer never answers");
    }

    #[tokio::test]
    async fn an_abandoned_call_is_a_timeout_only_inside_abandoned_after() {
        let (_listener, peer) = silent_peer().await;
        let cfg = Config::for_tests(std::env::temp_dir());
        let sink = Arc::new(Recorder::default());
        let client = PeerClient::new(&cfg.peer_io, false)
            .unwrap()
            .reporting_to_sink(sink.clone());
        abandon(&client, &peer, None).await;
        abandon(&client, &peer, Some(Duration::from_millis(50))).await;
        abandon(&client, &peer, Some(Duration::from_secs(5))).await;
        for _ in 0..100 {
            if sink.0.lock().unwrap().len() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let got = sink.0.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "{got:?}");
        assert!(matches!(got[0], PeerOutcome::Ok { .. }), "{got:?}");
        assert_eq!(got[1], PeerOutcome::Timeout);
        assert!(
            matches!(got[2], PeerOutcome::Ok { .. }),
            "abandoned before the bound: {got:?}"
        );
    }
}

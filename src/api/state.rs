//! `AppState`: what every handler shares — configuration, the replica manager, the peer client, the
//! cache, this router's metrics, the OpenAPI document, the admin guard and the hedger. One `Arc` inside,
//! so a clone per request is a reference count; handlers that need one piece take it through `FromRef`.

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use serde_json::Value;

use super::admin::AdminGuard;
use crate::cache::BallCache;
use crate::cluster::ReplicaManager;
use crate::config::Config;
use crate::datapath::{BytesOut, Hedger};
use crate::peer_client::PeerClient;
use crate::telemetry::Metrics;

/// The parts of [`AppState`]; handlers read them through `Deref` (`state.rm`, `state.cache` …).
pub struct Shared {
    pub config: Arc<Config>,
    pub rm: Arc<dyn ReplicaManager>,
    /// Peer calls made on behalf of requests (outcomes reported to `rm`).
    pub peers: PeerClient,
    pub cache: BallCache,
    /// This router's own recorder (`/metrics` renders it).
    pub metrics: Metrics,
    pub openapi: Arc<Value>,
    /// Checks the admin token of the endpoints that change membership or state (`api::admin`).
    pub admin: AdminGuard,
    /// The adaptive hedge delays of reads (tail latency).
    pub hedger: Arc<Hedger>,
    /// Bytes relayed to clients by the data GET and the merge, registered once (not per request).
    pub bytes_out_object: BytesOut,
    pub bytes_out_merge: BytesOut,
}

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for BallCache {
    fn from_ref(state: &AppState) -> BallCache {
        state.cache.clone()
    }
}

impl FromRef<AppState> for AdminGuard {
    fn from_ref(state: &AppState) -> AdminGuard {
        state.admin.clone()
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(state: &AppState) -> Metrics {
        state.metrics.clone()
    }
}

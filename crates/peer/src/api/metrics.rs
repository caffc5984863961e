//! `GET /metrics` of the peer: Prometheus text of this peer's own recorder, never behind the token.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::state::PeerState;

/// Set the gauges to their current values (at start-up and before every scrape).
pub fn refresh_gauges(s: &PeerState) {
    let m = &s.metrics;
    let (objects, used) = {
        let index = s.store.index();
        (index.len(), index.used())
    };
    m.objects.set(objects as f64);
    m.disk_used.set(used as f64);
    m.disk_total.set(s.total_disk() as f64);
    m.pending_tasks.set(s.tasks.len() as f64);
    m.quarantined_objects.set(s.store.quarantined() as f64);
}

pub async fn metrics(State(s): State<Arc<PeerState>>) -> Response {
    refresh_gauges(&s);
    let mut res = s.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res
}

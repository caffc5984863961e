//! The router's own Prometheus recorder: each `App` builds one, so several routers in one process (tests)
//! keep separate `/metrics`. Nothing is installed as the process-global `metrics` recorder; components
//! register their handles here through the `metrics::Recorder` trait, like the peer does.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, IntoLabels, Key, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

const META: metrics::Metadata<'static> =
    metrics::Metadata::new("mictlanx_router", metrics::Level::INFO, None);

/// Buckets of `http_request_duration_highr_seconds`.
const HIGHR_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0,
    7.5, 10.0, 30.0, 60.0,
];
/// Buckets of every `*_size_bytes` histogram.
const SIZE_BUCKETS: &[f64] = &[100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// One router's recorder and the handle that renders it; cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Metrics(Arc<Shared>);

struct Shared {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh recorder with the router's histogram buckets.
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("http_request_duration_seconds".into()),
                &[0.1, 0.5, 1.0],
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full("http_request_duration_highr_seconds".into()),
                    HIGHR_BUCKETS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Suffix("_size_bytes".into()), SIZE_BUCKETS)
            })
            .expect("static histogram buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        Metrics(Arc::new(Shared { recorder, handle }))
    }

    /// Every series of this recorder in the Prometheus text format.
    pub fn render(&self) -> String {
        self.0.handle.render()
    }

    pub fn counter(&self, name: &'static str) -> Counter {
        self.0
            .recorder
            .register_counter(&Key::from_static_name(name), &META)
    }

    /// `labels` as `&[("label", value)]`.
    pub fn counter_with(&self, name: &'static str, labels: impl IntoLabels) -> Counter {
        self.0
            .recorder
            .register_counter(&Key::from_parts(name, labels), &META)
    }

    pub fn gauge(&self, name: &'static str) -> Gauge {
        self.0
            .recorder
            .register_gauge(&Key::from_static_name(name), &META)
    }

    pub fn gauge_with(&self, name: &'static str, labels: impl IntoLabels) -> Gauge {
        self.0
            .recorder
            .register_gauge(&Key::from_parts(name, labels), &META)
    }

    pub fn histogram(&self, name: &'static str) -> Histogram {
        self.0
            .recorder
            .register_histogram(&Key::from_static_name(name), &META)
    }

    pub fn histogram_with(&self, name: &'static str, labels: impl IntoLabels) -> Histogram {
        self.0
            .recorder
            .register_histogram(&Key::from_parts(name, labels), &META)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_recorders_keep_their_own_series() {
        let (a, b) = (Metrics::new(), Metrics::new());
        a.counter_with("t_total", &[("kind", "x")]).increment(3);
        b.counter_with("t_total", &[("kind", "x")]).increment(1);
        assert!(a.render().contains("t_total{kind=\"x\"} 3"));
        assert!(b.render().contains("t_total{kind=\"x\"} 1"));
    }
}

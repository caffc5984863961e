//! The peer's Prometheus metrics (`GET /metrics`, `docs/peer-api.md` §9–§14).
//!
//! Routers and peers share a process in tests, and the `metrics` facade has one global recorder, which the
//! router owns. So each peer builds its own `PrometheusRecorder`, registers every handle on it once at
//! start-up through the `metrics::Recorder` trait (never the global macros), and renders from its handle.
//! Registering at start-up also exports every series at 0 before its first event, and leaves the request
//! path with pre-resolved handles: no label hashing per request.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Buckets of `mictlanx_peer_http_request_duration_seconds` (time until the response head is ready).
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Status classes of `mictlanx_peer_http_requests_total`.
const CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];
/// Method labels of requests that matched no route (anything else is `OTHER`).
const UNMATCHED_METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS", "OTHER",
];
/// Route label of requests that matched no route.
pub const UNMATCHED: &str = "(unmatched)";

const META: metrics::Metadata<'static> =
    metrics::Metadata::new("mictlanx_peer", metrics::Level::INFO, None);

/// Counters and gauges of the data path, the integrity checks and the scrubber.
pub struct PeerMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub objects: Gauge,
    pub disk_total: Gauge,
    pub disk_used: Gauge,
    pub pending_tasks: Gauge,
    pub quarantined_objects: Gauge,
    pub mismatch_upload: Counter,
    pub mismatch_serve: Counter,
    pub mismatch_scrub: Counter,
    pub scrub_ok: Counter,
    pub scrub_quarantined: Counter,
    pub scrub_bytes: Counter,
}

impl PeerMetrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("mictlanx_peer_http_request_duration_seconds".into()),
                DURATION_BUCKETS,
            )
            .expect("static histogram buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        let r = &recorder;
        let counter = |name: &'static str, help: &'static str, unit: Option<Unit>| {
            r.describe_counter(name.into(), unit, help.into());
            r.register_counter(&Key::from_static_name(name), &META)
        };
        let gauge = |name: &'static str, help: &'static str, unit: Option<Unit>| {
            r.describe_gauge(name.into(), unit, help.into());
            r.register_gauge(&Key::from_static_name(name), &META)
        };
        let labelled = |name: &'static str, label: &'static str, value: &'static str| {
            let key = Key::from_parts(name, vec![Label::new(label, value)]);
            let c = r.register_counter(&key, &META);
            c.increment(0);
            c
        };
        let mismatches = "mictlanx_peer_checksum_mismatches_total";
        r.describe_counter(
            mismatches.into(),
            None,
            "Digest mismatches: declared vs received at upload, stored blocks at serve and scrub"
                .into(),
        );
        let scrubbed = "mictlanx_peer_scrub_objects_total";
        r.describe_counter(
            scrubbed.into(),
            None,
            "Objects verified by the scrubber".into(),
        );
        let m = Self {
            bytes_in: counter(
                "mictlanx_peer_bytes_in_total",
                "Object bytes received (uploads and replicate pulls)",
                Some(Unit::Bytes),
            ),
            bytes_out: counter(
                "mictlanx_peer_bytes_out_total",
                "Object bytes served by data GETs",
                Some(Unit::Bytes),
            ),
            objects: gauge("mictlanx_peer_objects", "Committed objects", None),
            disk_total: gauge(
                "mictlanx_peer_disk_total_bytes",
                "Declared capacity (NODE_DISK_CAPACITY)",
                Some(Unit::Bytes),
            ),
            disk_used: gauge(
                "mictlanx_peer_disk_used_bytes",
                "Sum of the sizes of committed objects",
                Some(Unit::Bytes),
            ),
            pending_tasks: gauge("mictlanx_peer_pending_tasks", "Pending phase-1 tasks", None),
            quarantined_objects: gauge(
                "mictlanx_peer_quarantined_objects",
                "Copies moved to quarantine (kept on disk)",
                None,
            ),
            mismatch_upload: labelled(mismatches, "stage", "upload"),
            mismatch_serve: labelled(mismatches, "stage", "serve"),
            mismatch_scrub: labelled(mismatches, "stage", "scrub"),
            scrub_ok: labelled(scrubbed, "result", "ok"),
            scrub_quarantined: labelled(scrubbed, "result", "quarantined"),
            scrub_bytes: counter(
                "mictlanx_peer_scrub_bytes_total",
                "Bytes read by the scrubber",
                Some(Unit::Bytes),
            ),
            recorder,
            handle,
        };
        m.bytes_in.increment(0);
        m.bytes_out.increment(0);
        m.scrub_bytes.increment(0);
        m
    }

    /// Pre-register the HTTP metrics of every route of the table (and of unmatched requests).
    pub fn http<'a>(
        &self,
        routes: impl IntoIterator<Item = (&'a Method, &'static str)>,
    ) -> HttpMetrics {
        let r = &self.recorder;
        r.describe_counter(
            "mictlanx_peer_http_requests_total".into(),
            None,
            "Requests by route template, method and status class".into(),
        );
        r.describe_histogram(
            "mictlanx_peer_http_request_duration_seconds".into(),
            Some(Unit::Seconds),
            "Time until the response head is ready, by route template and method".into(),
        );
        let handles = |route: &'static str, method: &str| RouteMetrics {
            by_class: CLASSES.map(|class| {
                let key = Key::from_parts(
                    "mictlanx_peer_http_requests_total",
                    vec![
                        Label::new("route", route),
                        Label::new("method", method.to_string()),
                        Label::new("status", class),
                    ],
                );
                let c = r.register_counter(&key, &META);
                c.increment(0);
                c
            }),
            duration: r.register_histogram(
                &Key::from_parts(
                    "mictlanx_peer_http_request_duration_seconds",
                    vec![
                        Label::new("route", route),
                        Label::new("method", method.to_string()),
                    ],
                ),
                &META,
            ),
        };
        let routes = routes
            .into_iter()
            .map(|(method, route)| ((method.clone(), route), handles(route, method.as_str())))
            .collect();
        let unmatched = UNMATCHED_METHODS
            .iter()
            .map(|m| (*m, handles(UNMATCHED, m)))
            .collect();
        HttpMetrics { routes, unmatched }
    }

    /// The Prometheus text exposition (the caller sets the gauges first).
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Fold recorded histogram samples into their buckets (run periodically: they are kept until then).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

impl Default for PeerMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The handles of one route: requests per status class and the duration histogram.
pub struct RouteMetrics {
    by_class: [Counter; 4],
    duration: Histogram,
}

impl RouteMetrics {
    pub fn record(&self, status: StatusCode, seconds: f64) {
        let class = match status.as_u16() {
            0..=299 => 0,
            300..=399 => 1,
            400..=499 => 2,
            _ => 3,
        };
        self.by_class[class].increment(1);
        self.duration.record(seconds);
    }
}

/// Per-route HTTP handles, resolved once at start-up.
pub struct HttpMetrics {
    routes: HashMap<(Method, &'static str), RouteMetrics>,
    unmatched: HashMap<&'static str, RouteMetrics>,
}

impl HttpMetrics {
    /// The handles of a matched route template, or of the unmatched requests of this method.
    pub fn route(&self, method: &Method, template: Option<&'static str>) -> Option<&RouteMetrics> {
        if let Some(t) = template {
            if let Some(m) = self.routes.get(&(method.clone(), t)) {
                return Some(m);
            }
        }
        let m = UNMATCHED_METHODS
            .iter()
            .find(|m| **m == method.as_str())
            .copied()
            .unwrap_or("OTHER");
        self.unmatched.get(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_exported_at_zero_and_counts_by_class() {
        let m = PeerMetrics::new();
        let http = m.http([(&Method::GET, "/health")]);
        let text = m.render();
        for line in [
            "mictlanx_peer_bytes_in_total 0",
            "mictlanx_peer_checksum_mismatches_total{stage=\"scrub\"} 0",
            "mictlanx_peer_scrub_objects_total{result=\"quarantined\"} 0",
            "mictlanx_peer_http_requests_total{route=\"/health\",method=\"GET\",status=\"5xx\"} 0",
            "mictlanx_peer_http_requests_total{route=\"(unmatched)\",method=\"OTHER\",status=\"4xx\"} 0",
            "mictlanx_peer_quarantined_objects 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}:\n{text}");
        }
        http.route(&Method::GET, Some("/health"))
            .unwrap()
            .record(StatusCode::OK, 0.002);
        http.route(&Method::from_bytes(b"BREW").unwrap(), None)
            .unwrap()
            .record(StatusCode::NOT_FOUND, 0.001);
        m.upkeep();
        let text = m.render();
        assert!(text.contains(
            "mictlanx_peer_http_requests_total{route=\"/health\",method=\"GET\",status=\"2xx\"} 1"
        ));
        assert!(text.contains(
            "mictlanx_peer_http_requests_total{route=\"(unmatched)\",method=\"OTHER\",status=\"4xx\"} 1"
        ));
        assert!(text.contains(
            "mictlanx_peer_http_request_duration_seconds_bucket{route=\"/health\",method=\"GET\",le=\"0.0025\"} 1"
        ), "{text}");
    }
}

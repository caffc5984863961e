//! `/metrics` (Prometheus text format) and the per-request HTTP metrics recorded by the dispatcher.

use std::collections::HashMap;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::telemetry::Metrics;
use mictlanx_http::RouteTable;

pub fn routes(t: RouteTable, s: &AppState) -> RouteTable {
    t.route(Method::GET, "/metrics", render, s.clone())
}

/// Prometheus metrics
///
/// Every metric the router records, in the Prometheus text format (request counts and durations by
/// route, bytes in and out, peer calls and availability, cache hits and misses …).
#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn render(State(state): State<AppState>) -> Response {
    let mut res = state.metrics.render().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(render))]
pub struct MetricsDoc;

/// The HTTP metric handles of one `(method, route template)`, registered once so a request pays no label
/// hashing; `handler = "none"` (unmatched requests) uses the same type, keyed by method.
pub struct RouteMetrics {
    in_progress: metrics::Gauge,
    duration: metrics::Histogram,
    highr: metrics::Histogram,
    request_size: metrics::Histogram,
    response_size: metrics::Histogram,
    /// `http_requests_total` by status class 1xx..5xx.
    totals: [metrics::Counter; 5],
}

impl RouteMetrics {
    pub fn new(metrics: &Metrics, handler: &'static str, method: &str) -> Self {
        let method = method.to_string();
        let route = [("handler", handler.to_string()), ("method", method)];
        let total = |class: &'static str| {
            let [h, m] = route.clone();
            metrics.counter_with(
                "http_requests_total",
                &[h, m, ("status", class.to_string())],
            )
        };
        Self {
            in_progress: metrics.gauge_with("http_requests_in_progress", &route),
            duration: metrics.histogram_with("http_request_duration_seconds", &route),
            highr: metrics.histogram("http_request_duration_highr_seconds"),
            request_size: metrics
                .histogram_with("http_request_size_bytes", &[("handler", handler)]),
            response_size: metrics
                .histogram_with("http_response_size_bytes", &[("handler", handler)]),
            totals: ["1xx", "2xx", "3xx", "4xx", "5xx"].map(total),
        }
    }
}

/// Pre-registered [`RouteMetrics`] for every route of a table, plus the unmatched ones per method.
pub struct MetricsIndex {
    routes: HashMap<(Method, &'static str), RouteMetrics>,
    unmatched: HashMap<Method, RouteMetrics>,
}

impl MetricsIndex {
    pub fn new(table: &RouteTable, metrics: &Metrics) -> Self {
        let routes = table
            .templates()
            .map(|(m, t)| ((m.clone(), t), RouteMetrics::new(metrics, t, m.as_str())))
            .collect();
        let unmatched = [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::HEAD,
            Method::OPTIONS,
            Method::PATCH,
        ]
        .into_iter()
        .map(|m| (m.clone(), RouteMetrics::new(metrics, "none", m.as_str())))
        .collect();
        Self { routes, unmatched }
    }

    /// Handles of a matched route, or of `none` for this method (methods outside the standard seven share
    /// `OPTIONS`'s series to keep the label set bounded).
    pub fn get(&self, method: &Method, template: Option<&'static str>) -> &RouteMetrics {
        template
            .and_then(|t| self.routes.get(&(method.clone(), t)))
            .or_else(|| self.unmatched.get(method))
            .unwrap_or_else(|| &self.unmatched[&Method::OPTIONS])
    }
}

/// Records the standard HTTP metrics of one request.
pub struct RequestMetrics<'a> {
    route: &'a RouteMetrics,
    start: Instant,
}

impl<'a> RequestMetrics<'a> {
    pub fn start(route: &'a RouteMetrics, request_size: Option<u64>) -> Self {
        route.in_progress.increment(1.0);
        if let Some(size) = request_size {
            route.request_size.record(size as f64);
        }
        Self {
            route,
            start: Instant::now(),
        }
    }

    /// Call when the response head is ready.
    pub fn finish(self, res: &Response) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let class = usize::from(res.status().as_u16() / 100).clamp(1, 5) - 1;
        self.route.totals[class].increment(1);
        self.route.duration.record(elapsed);
        self.route.highr.record(elapsed);
        self.route.in_progress.decrement(1.0);
        let size = res
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok());
        if let Some(size) = size {
            self.route.response_size.record(size);
        }
    }
}

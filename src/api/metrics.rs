//! `/metrics` (Prometheus text format) and the per-request HTTP metrics recorded by the dispatcher.

use std::time::Instant;

use axum::extract::State;
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::http::RouteTable;

pub fn routes(t: RouteTable, s: &AppState) -> RouteTable {
    t.route(Method::GET, "/metrics", render, s.clone())
}

/// Prometheus exposition of every metric the router records.
#[utoipa::path(get, path = "/metrics", tag = "observability",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
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

/// Records the standard HTTP metrics of one request; `handler` is a route template or `none`.
pub struct RequestMetrics {
    handler: &'static str,
    method: String,
    start: Instant,
}

impl RequestMetrics {
    pub fn start(handler: &'static str, method: &Method, request_size: Option<u64>) -> Self {
        let method = method.as_str().to_string();
        metrics::gauge!("http_requests_in_progress", "handler" => handler, "method" => method.clone())
            .increment(1.0);
        if let Some(size) = request_size {
            metrics::histogram!("http_request_size_bytes", "handler" => handler)
                .record(size as f64);
        }
        Self {
            handler,
            method,
            start: Instant::now(),
        }
    }

    /// Call when the response head is ready.
    pub fn finish(self, res: &Response) {
        let elapsed = self.start.elapsed().as_secs_f64();
        let status = format!("{}xx", res.status().as_u16() / 100);
        let (handler, method) = (self.handler, self.method);
        metrics::counter!("http_requests_total", "handler" => handler, "method" => method.clone(), "status" => status)
            .increment(1);
        metrics::histogram!("http_request_duration_seconds", "handler" => handler, "method" => method.clone())
            .record(elapsed);
        metrics::histogram!("http_request_duration_highr_seconds").record(elapsed);
        metrics::gauge!("http_requests_in_progress", "handler" => handler, "method" => method)
            .decrement(1.0);
        let size = res
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<f64>().ok());
        if let Some(size) = size {
            metrics::histogram!("http_response_size_bytes", "handler" => handler).record(size);
        }
    }
}

//! The Zipkin v2 JSON span exporter (`MICTLANX_ZIPKIN_ENDPOINT`): OpenTelemetry spans mapped as the
//! OpenTelemetry-to-Zipkin transformation says (service name from the resource's `service.name`, kind,
//! microsecond times, attributes and status as tags, events as annotations) and posted to the collector.
//!
//! Written here rather than taken from `opentelemetry-zipkin`: that crate is deprecated upstream and its 0.33
//! release sends no `localEndpoint.serviceName`, so Zipkin files every span under an unknown service.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Key, KeyValue};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use serde::Serialize;

/// Posts each batch to the collector with a blocking client. The batch span processor calls `export` on its
/// own thread (never a tokio worker), so a slow or silent collector delays only that thread, never a request.
#[derive(Debug)]
pub(super) struct ZipkinExporter {
    client: reqwest::blocking::Client,
    endpoint: String,
    service_name: String,
}

impl ZipkinExporter {
    /// `endpoint` is the full collector URL (`…/api/v2/spans`); every post gives up after `timeout`.
    pub(super) fn new(endpoint: &str, timeout: Duration) -> anyhow::Result<Self> {
        // reqwest refuses to build a blocking client on a tokio thread (its own runtime lives on a thread of
        // its own), and `telemetry::init` runs inside the runtime.
        let client = std::thread::spawn(move || {
            reqwest::blocking::Client::builder()
                .timeout(timeout)
                .build()
        })
        .join()
        .map_err(|_| anyhow::anyhow!("the thread building the Zipkin HTTP client panicked"))?
        .context("building the Zipkin HTTP client")?;
        Ok(ZipkinExporter {
            client,
            endpoint: endpoint.to_string(),
            service_name: String::new(),
        })
    }
}

impl SpanExporter for ZipkinExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans: Vec<ZipkinSpan> = batch
            .into_iter()
            .map(|span| zipkin_span(span, &self.service_name))
            .collect();
        let body = serde_json::to_vec(&spans)
            .map_err(|e| OTelSdkError::InternalFailure(format!("Zipkin JSON: {e}")))?;
        self.client
            .post(&self.endpoint)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .and_then(reqwest::blocking::Response::error_for_status)
            .map_err(|e| OTelSdkError::InternalFailure(format!("Zipkin export: {e}")))?;
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&Key::from_static_str("service.name")) {
            self.service_name = name.to_string();
        }
    }
}

/// One span of Zipkin's v2 JSON model; absent fields are omitted.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ZipkinSpan {
    trace_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    name: String,
    timestamp: u64,
    duration: u64,
    local_endpoint: LocalEndpoint,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Annotation>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalEndpoint {
    service_name: String,
}

#[derive(Debug, Serialize)]
struct Annotation {
    timestamp: u64,
    value: String,
}

fn micros(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// `"name": {"k": "v", …}` (the transformation's annotation form), or the bare name without attributes.
fn annotation_value(name: &str, attributes: &[KeyValue]) -> String {
    if attributes.is_empty() {
        return name.to_string();
    }
    let attributes: BTreeMap<&str, String> = attributes
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.to_string()))
        .collect();
    let name = serde_json::Value::from(name);
    let attributes = serde_json::to_string(&attributes).unwrap_or_default();
    format!("{name}: {attributes}")
}

pub(super) fn zipkin_span(span: SpanData, service_name: &str) -> ZipkinSpan {
    let mut tags: BTreeMap<String, String> = span
        .attributes
        .iter()
        // only the status below may say "error" (Zipkin marks any span carrying the tag as failed)
        .filter(|kv| kv.key.as_str() != "error")
        .map(|kv| (kv.key.to_string(), kv.value.to_string()))
        .collect();
    tags.insert(
        "otel.scope.name".into(),
        span.instrumentation_scope.name().to_string(),
    );
    if let Some(version) = span.instrumentation_scope.version() {
        tags.insert("otel.scope.version".into(), version.to_string());
    }
    if span.dropped_attributes_count > 0 {
        tags.insert(
            "otel.dropped_attributes_count".into(),
            span.dropped_attributes_count.to_string(),
        );
    }
    if span.events.dropped_count > 0 {
        tags.insert(
            "otel.dropped_events_count".into(),
            span.events.dropped_count.to_string(),
        );
    }
    match &span.status {
        Status::Unset => {}
        Status::Ok => {
            tags.insert("otel.status_code".into(), "OK".into());
        }
        Status::Error { description } => {
            tags.insert("otel.status_code".into(), "ERROR".into());
            tags.insert("error".into(), description.to_string());
        }
    }
    let kind = match span.span_kind {
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Server => Some("SERVER"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
        SpanKind::Internal => None,
    };
    let annotations = span
        .events
        .iter()
        .map(|event| Annotation {
            timestamp: micros(event.timestamp),
            value: annotation_value(&event.name, &event.attributes),
        })
        .collect();
    ZipkinSpan {
        trace_id: span.span_context.trace_id().to_string(),
        parent_id: (span.parent_span_id != SpanId::INVALID)
            .then(|| span.parent_span_id.to_string()),
        id: span.span_context.span_id().to_string(),
        kind,
        name: span.name.into_owned(),
        timestamp: micros(span.start_time),
        duration: span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or_default()
            .as_micros() as u64,
        local_endpoint: LocalEndpoint {
            service_name: service_name.to_string(),
        },
        annotations,
        tags,
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use opentelemetry::trace::{Event, SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry::InstrumentationScope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};

    use super::*;

    fn span(parent: SpanId, kind: SpanKind, status: Status) -> SpanData {
        let start = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_000);
        let mut events = SpanEvents::default();
        events.events.push(Event::new(
            "retry",
            start + Duration::from_micros(5),
            vec![KeyValue::new("peer", "p0")],
            0,
        ));
        SpanData {
            span_context: SpanContext::new(
                TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
                SpanId::from_hex("00f067aa0ba902b7").unwrap(),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: parent,
            parent_span_is_remote: false,
            span_kind: kind,
            name: Cow::Borrowed("GET /health"),
            start_time: start,
            end_time: start + Duration::from_nanos(1_234_567),
            attributes: vec![
                KeyValue::new("http.route", "/health"),
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("error", false),
            ],
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status,
            instrumentation_scope: InstrumentationScope::builder("mictlanx-router").build(),
        }
    }

    #[test]
    fn a_server_span_maps_to_zipkin_v2_json() {
        let s = zipkin_span(
            span(SpanId::INVALID, SpanKind::Server, Status::Unset),
            "svc",
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                "id": "00f067aa0ba902b7",
                "kind": "SERVER",
                "name": "GET /health",
                "timestamp": 1_700_000_000_000_000u64,
                "duration": 1234,
                "localEndpoint": {"serviceName": "svc"},
                "annotations": [{"timestamp": 1_700_000_000_000_005u64, "value": "\"retry\": {\"peer\":\"p0\"}"}],
                "tags": {
                    "http.route": "/health",
                    "http.response.status_code": "200",
                    "otel.scope.name": "mictlanx-router",
                },
            })
        );
    }

    #[test]
    fn parent_internal_kind_and_error_status() {
        let parent = SpanId::from_hex("1111111111111111").unwrap();
        let s = zipkin_span(
            span(
                parent,
                SpanKind::Internal,
                Status::error("peer unreachable"),
            ),
            "svc",
        );
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["parentId"], "1111111111111111");
        assert!(json.get("kind").is_none(), "INTERNAL is omitted");
        assert_eq!(json["tags"]["otel.status_code"], "ERROR");
        assert_eq!(json["tags"]["error"], "peer unreachable");
        let ok = zipkin_span(span(parent, SpanKind::Client, Status::Ok), "svc");
        let json = serde_json::to_value(&ok).unwrap();
        assert_eq!(json["kind"], "CLIENT");
        assert_eq!(json["tags"]["otel.status_code"], "OK");
        assert!(json["tags"].get("error").is_none());
    }

    #[test]
    fn the_service_name_comes_from_the_resource() {
        // as the binary does first thing (reqwest is built with rustls and no provider of its own)
        crate::server::install_crypto_provider();
        let mut exporter =
            ZipkinExporter::new("http://127.0.0.1:9/api/v2/spans", Duration::from_secs(1)).unwrap();
        exporter.set_resource(
            &Resource::builder()
                .with_service_name("from-resource")
                .build(),
        );
        assert_eq!(exporter.service_name, "from-resource");
    }
}

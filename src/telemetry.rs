//! Logs, traces and the Prometheus recorder: the tracing subscriber (stdout text/JSON, optional rotating
//! files), span export in the background (OTLP/HTTP, plus Zipkin and the console when configured), W3C
//! trace-context extraction and injection.

mod recorder;
mod zipkin;

pub use recorder::Metrics;

use anyhow::Context as _;
use axum::http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Span;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{filter::LevelFilter, layer::SubscriberExt, EnvFilter, Layer, Registry};

use crate::config::{LogFormat, Rotation, TelemetryConfig};

/// Keeps the exporters and log writers alive; [`Telemetry::shutdown`] flushes them.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    _guards: Vec<WorkerGuard>,
}

impl Telemetry {
    /// Flush pending spans (bounded by the exporter timeout) and stop the exporter.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        }
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Install the global subscriber. Call once per process (the binary; tests do not call it).
pub fn init(cfg: &TelemetryConfig) -> anyhow::Result<Telemetry> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(&cfg.log_level));
    let mut layers: Vec<BoxedLayer> = Vec::new();
    let mut guards = Vec::new();
    if cfg.log_show {
        // Colours only on a terminal: redirected logs stay plain text.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        layers.push(fmt_layer(cfg.log_format, std::io::stdout, ansi));
    }
    if cfg.log_to_file {
        match file_writers(cfg) {
            Ok((main, error)) => {
                let (writer, guard) = tracing_appender::non_blocking(main);
                guards.push(guard);
                layers.push(fmt_layer(cfg.log_format, writer, false));
                if let Some(error) = error {
                    let (writer, guard) = tracing_appender::non_blocking(error);
                    guards.push(guard);
                    layers.push(
                        fmt_layer(cfg.log_format, writer, false)
                            .with_filter(LevelFilter::ERROR)
                            .boxed(),
                    );
                }
            }
            Err(e) => eprintln!(
                "warning: file logging disabled, cannot write {}: {e:#}",
                cfg.log_path.display()
            ),
        }
    }
    let provider = if cfg.otel_enabled {
        Some(tracer_provider(cfg)?)
    } else {
        None
    };
    // Spans are exported at INFO and above whatever the log level, so a quiet log keeps its traces.
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("mictlanx-router"))
            .with_filter(LevelFilter::INFO)
    });
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let subscriber = Registry::default()
        .with(layers.with_filter(filter))
        .with(otel);
    tracing::subscriber::set_global_default(subscriber)
        .context("installing the tracing subscriber")?;
    Ok(Telemetry {
        provider,
        _guards: guards,
    })
}

fn fmt_layer<W>(format: LogFormat, writer: W, ansi: bool) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(true);
    match format {
        LogFormat::Text => base.boxed(),
        LogFormat::Json => base.json().with_current_span(true).boxed(),
    }
}

type Appenders = (
    tracing_appender::rolling::RollingFileAppender,
    Option<tracing_appender::rolling::RollingFileAppender>,
);

fn file_writers(cfg: &TelemetryConfig) -> anyhow::Result<Appenders> {
    std::fs::create_dir_all(&cfg.log_path)?;
    let rotation = match cfg.rotation {
        Rotation::Minutely => tracing_appender::rolling::Rotation::MINUTELY,
        Rotation::Hourly => tracing_appender::rolling::Rotation::HOURLY,
        Rotation::Daily => tracing_appender::rolling::Rotation::DAILY,
    };
    let build = |suffix: &str| {
        tracing_appender::rolling::Builder::new()
            .rotation(rotation.clone())
            .filename_prefix(&cfg.log_name)
            .filename_suffix(suffix)
            .build(&cfg.log_path)
    };
    let main = build("log")?;
    let error = if cfg.log_error_file {
        Some(build("error")?)
    } else {
        None
    };
    Ok((main, error))
}

/// How long one export may take (each exporter's HTTP timeout): what a silent collector can add to the flush
/// at shutdown.
const EXPORT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Every exporter gets its own batch span processor: spans are queued when they end and exported by that
/// processor's thread (`OTEL_BSP_SCHEDULE_DELAY`, default 5 s), so no exporter ever runs on a request's path
/// and a slow collector never holds up another exporter. `Telemetry::shutdown` flushes them all.
fn tracer_provider(cfg: &TelemetryConfig) -> anyhow::Result<SdkTracerProvider> {
    let resource = Resource::builder()
        .with_service_name(cfg.service_name.clone())
        .build();
    let mut builder = SdkTracerProvider::builder()
        .with_batch_exporter(otlp_exporter(cfg)?)
        .with_resource(resource);
    if let Some(endpoint) = &cfg.zipkin_endpoint {
        let exporter = zipkin::ZipkinExporter::new(endpoint, EXPORT_TIMEOUT)?;
        builder = builder.with_batch_exporter(exporter);
    }
    if cfg.debug {
        // The console exporter of the original's debug mode: every span, as exported, on stdout.
        builder = builder.with_batch_exporter(opentelemetry_stdout::SpanExporter::default());
    }
    Ok(builder.build())
}

fn otlp_exporter(cfg: &TelemetryConfig) -> anyhow::Result<opentelemetry_otlp::SpanExporter> {
    let endpoint = format!("{}/v1/traces", cfg.otlp_endpoint.trim_end_matches('/'));
    opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .with_timeout(EXPORT_TIMEOUT)
        .with_headers(Default::default())
        .build()
        .context("building the OTLP span exporter")
}

/// Make the incoming W3C `traceparent` (if any) the parent of `span`.
pub fn set_parent_from_headers(span: &Span, headers: &HeaderMap) {
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let _ = span.set_parent(cx);
}

/// Add the current span's W3C `traceparent` to an outgoing peer request.
pub fn inject_trace_context(headers: &mut HeaderMap) {
    let cx = Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

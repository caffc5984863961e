//! `App::build(Config)`: binds the listener (port 0 allowed), assembles the state (replica manager, peer
//! client, cache), the ordered route table and the HTTP layers (CORS, request span, metrics, panic → JSON
//! 500), and serves HTTP/1.1 (+ HTTP/2 over TLS) until a shutdown signal, draining in-flight requests.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::api::admin::AdminGuard;
use crate::api::metrics::{MetricsIndex, RequestMetrics};
pub use crate::api::state::AppState;
use crate::api::state::Shared;
use crate::cache::BallCache;
use crate::cluster::{Manager, ReplicaManager};
use crate::config::Config;
use crate::datapath::{BytesOut, Hedger};
use crate::peer_client::PeerClient;
use crate::telemetry::{self, Metrics};
use crate::{api, server};
use mictlanx_http::error::ApiError;
use mictlanx_http::{normalize_path, Resolved, RouteTable};

#[cfg(test)]
mod tests;

/// A bound, not yet serving router.
pub struct App {
    listener: TcpListener,
    state: AppState,
    manager: Arc<Manager>,
    table: RouteTable,
    /// The S3 listener, when S3 is configured (`MICTLANX_S3_*`).
    s3: Option<crate::s3::S3Listener>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        crate::server::install_crypto_provider();
        // The recorder first, so components register their metrics at start-up. It is this App's own: two
        // Apps in one process keep separate series.
        let metrics = Metrics::new();
        let config = Arc::new(config);
        let addr = format!("{}:{}", config.server.host, config.server.port);
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let probe_client = PeerClient::new(&config.peer_io, config.test_mode)
            .context("building the peer client")?
            .recording_into(&metrics);
        let admin = AdminGuard::new(config.security.admin_token.as_ref(), &metrics);
        admin.log_startup();
        let manager = Manager::start(&config, probe_client.clone(), metrics.clone()).await?;
        let rm: Arc<dyn ReplicaManager> = manager.clone();
        let state = AppState::new(Shared {
            config: config.clone(),
            rm: rm.clone(),
            peers: probe_client.reporting_to(rm),
            cache: BallCache::new(&config.cache, &metrics),
            metrics: metrics.clone(),
            openapi: Arc::new(api::docs::build_openapi(&config, api::openapi_parts())),
            admin,
            hedger: Arc::new(Hedger::new(&config.tail, &metrics)),
            bytes_out_object: BytesOut::new(&metrics, api::buckets::OBJECT),
            bytes_out_merge: BytesOut::new(&metrics, api::buckets::MERGE),
        });
        crate::datapath::tail_metrics::register(&metrics);
        flush_cache_on_resets(&manager, state.cache.clone());
        api::buckets::data_meta::register_metrics(&metrics);
        let table = api::table(&state);
        let s3 = if config.s3.enabled() {
            // the S3 facade calls the same API in process (its own table, no prefix)
            let api = http_service(api::table(&state), None, &config.cors, &metrics);
            Some(crate::s3::S3Listener::bind(&state, manager.clone(), api).await?)
        } else {
            None
        };
        Ok(App {
            listener,
            state,
            manager,
            table,
            s3,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The S3 listener's address, when S3 is on.
    pub fn s3_addr(&self) -> Option<SocketAddr> {
        self.s3.as_ref().map(|l| l.local_addr())
    }

    /// Serve until `shutdown` resolves, then drain in-flight requests for up to the configured deadline,
    /// and stop the replica manager's background work (persisting the registry).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let config = self.state.config.clone();
        let router = http_service(
            self.table,
            config.server.prefix.clone(),
            &config.cors,
            &self.state.metrics,
        );
        let tls = match &config.server.tls {
            Some(files) => Some(server::tls_acceptor(files)?),
            None => None,
        };
        tracing::info!(addr = %self.listener.local_addr()?, tls = tls.is_some(), "mictlanx-router listening");
        // one shutdown for both listeners
        let stop = tokio_util::sync::CancellationToken::new();
        let s3 = self.s3.map(|l| {
            let stopped = stop.clone();
            tokio::spawn(l.run_until(self.state.clone(), async move { stopped.cancelled().await }))
        });
        let shutdown = {
            let stop = stop.clone();
            async move {
                shutdown.await;
                stop.cancel();
            }
        };
        server::serve(
            self.listener,
            router,
            tls,
            shutdown,
            config.server.shutdown_timeout,
            server::ListenerLimits::from_config(&config.security),
            &self.state.metrics,
        )
        .await;
        stop.cancel();
        if let Some(s3) = s3 {
            if let Ok(Err(e)) = s3.await {
                tracing::error!(error = %e, "the S3 listener failed");
            }
        }
        self.manager.shutdown().await;
        Ok(())
    }

    /// Serve in the background (tests): returns the address and a handle that stops the server.
    pub async fn spawn(config: Config) -> anyhow::Result<TestApp> {
        let app = App::build(config).await?;
        let addr = app.local_addr();
        let s3_addr = app.s3_addr();
        let state = app.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async move {
            let _ = rx.await;
        }));
        Ok(TestApp {
            addr,
            s3_addr,
            state,
            stop: Some(tx),
            handle,
        })
    }
}

/// The cache holds bytes checked against the shared state's versions; when that state was unreachable or
/// came back empty, nothing cached can be trusted any more.
fn flush_cache_on_resets(manager: &Manager, cache: BallCache) {
    let mut resets = manager.resets();
    tokio::spawn(async move {
        while resets.changed().await.is_ok() {
            tracing::info!("cache flushed: the cluster state was reset");
            cache.reset();
        }
    });
}

/// A router running in the background of a test.
pub struct TestApp {
    pub addr: SocketAddr,
    /// The S3 listener, when S3 is on.
    pub s3_addr: Option<SocketAddr>,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl TestApp {
    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Graceful stop; waits until the server and its background work ended.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(60), &mut self.handle).await;
    }
}

/// The whole HTTP stack around a route table: CORS, then the dispatcher (span, metrics, panic → 500).
pub fn http_service(
    table: RouteTable,
    prefix: Option<String>,
    cors: &crate::config::CorsConfig,
    metrics: &Metrics,
) -> axum::Router {
    let dispatcher = Dispatcher {
        metrics: MetricsIndex::new(&table, metrics),
        table,
        prefix: prefix.map(Arc::from),
    };
    axum::Router::new()
        .fallback(dispatch)
        .with_state(Arc::new(dispatcher))
        .layer(crate::api::cors::layer(cors))
}

struct Dispatcher {
    table: RouteTable,
    metrics: MetricsIndex,
    prefix: Option<Arc<str>>,
}

/// Route one request through the ordered table inside a request span, recording the HTTP metrics and
/// turning a handler panic into a logged JSON 500.
async fn dispatch(State(d): State<Arc<Dispatcher>>, req: Request) -> Response {
    let path = normalize_path(req.uri().path(), d.prefix.as_deref());
    let method = req.method().clone();
    let request_size = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let span = tracing::info_span!("request",
        otel.name = tracing::field::Empty, otel.kind = "server",
        http.request.method = %method, url.path = %path,
        http.route = tracing::field::Empty, http.response.status_code = tracing::field::Empty);
    telemetry::set_parent_from_headers(&span, req.headers());
    let (template, res) = match d.table.resolve(req, &path) {
        Resolved::Route { template, call } => {
            if !span.is_disabled() {
                span.record("http.route", template);
                span.record("otel.name", format!("{method} {template}"));
            }
            let metrics =
                RequestMetrics::start(d.metrics.get(&method, Some(template)), request_size);
            let res = match std::panic::AssertUnwindSafe(call)
                .catch_unwind()
                .instrument(span.clone())
                .await
            {
                Ok(res) => res,
                Err(panic) => {
                    let id = nanoid::nanoid!(10);
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    span.in_scope(
                        || tracing::error!(request_id = %id, panic = %msg, "handler panicked"),
                    );
                    ApiError::internal("Internal Server Error").into_response()
                }
            };
            metrics.finish(&res);
            (template, res)
        }
        Resolved::Reject(err) => {
            let metrics = RequestMetrics::start(d.metrics.get(&method, None), request_size);
            let res = err.into_response();
            metrics.finish(&res);
            ("none", res)
        }
    };
    span.record("http.response.status_code", res.status().as_u16());
    span.in_scope(|| {
        tracing::debug!(
            route = template,
            status = res.status().as_u16(),
            "request handled"
        )
    });
    res
}

//! `serve(PeerConfig)`: recover the store, bind, and serve the peer API in the background on the shared
//! accept loop (`mictlanx_http::listener`: HTTP/1.1 keep-alive + chunked bodies, h2c too, a request-head
//! deadline, graceful shutdown), with bearer-token access control in the dispatcher.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::api;
use super::auth::{requires_token, unauthorized};
use super::config::PeerConfig;
use super::metrics::{HttpMetrics, PeerMetrics, UNMATCHED};
use super::scrub;
use super::state::PeerState;
use super::store::Store;
use super::tasks::Tasks;
use mictlanx_http::{normalize_path, HeadClock, Resolved, RouteTable, ServeOptions};

/// How long in-flight requests may run after `shutdown()` before connections are dropped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Period of the metrics upkeep (histogram samples are buffered until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// A running peer. Dropping it without [`PeerServer::shutdown`] leaves it serving until the runtime ends.
pub struct PeerServer {
    addr: SocketAddr,
    state: Arc<PeerState>,
    stop: Option<oneshot::Sender<()>>,
    kill: CancellationToken,
    join: JoinHandle<()>,
    sweeper: JoinHandle<()>,
    scrubber: Option<JoinHandle<()>>,
    upkeep: JoinHandle<()>,
}

impl PeerServer {
    /// The bound address (the real port when the config said 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://{addr}`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn node_id(&self) -> &str {
        &self.state.config.node_id
    }

    /// Pending tasks currently held (pending or uploading).
    pub fn pending_tasks(&self) -> usize {
        self.state.tasks.len()
    }

    /// Stop accepting, let in-flight requests finish (bounded by a drain timeout, after which remaining
    /// connections are dropped), stop background work.
    pub async fn shutdown(mut self) {
        self.stop_with(false).await;
    }

    /// Crash-like stop for failure injection: every connection is dropped at once (uploads in progress are
    /// discarded exactly as on a client disconnect). Committed data stays; a restart on the same dirs works.
    pub async fn kill(mut self) {
        self.stop_with(true).await;
    }

    async fn stop_with(&mut self, now: bool) {
        if now {
            self.kill.cancel();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.join).await;
        self.sweeper.abort();
        self.upkeep.abort();
        if let Some(scrubber) = &self.scrubber {
            scrubber.abort();
        }
    }
}

/// Recover the store under the configured directories, bind and serve in the background.
pub async fn serve(mut config: PeerConfig) -> anyhow::Result<PeerServer> {
    let store = Store::open(
        config.data_path.clone(),
        config.local_path.clone(),
        config.traverse_and_clean,
    )
    .await
    .with_context(|| {
        format!(
            "opening the store (DATA_PATH={}, LOCAL_PATH={})",
            config.data_path.display(),
            config.local_path.display()
        )
    })?;
    let listener = TcpListener::bind(config.bind_target())
        .await
        .with_context(|| format!("binding {}", config.bind_target()))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    config.port = addr.port(); // advertise the real port when 0 was asked for
    let tasks = Tasks::new(config.task_ttl);
    let sweeper = tasks.spawn_sweeper(config.task_sweep_interval);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(config.client_request_timeout)
        .no_proxy()
        .build()
        .context("building the replication client")?;
    let state = Arc::new(PeerState {
        config,
        http,
        store,
        tasks,
        nodes: Mutex::new(Vec::new()),
        metrics: PeerMetrics::new(),
    });
    api::metrics::refresh_gauges(&state);
    let table = api::table(&state);
    let http_metrics = Arc::new(state.metrics.http(table.templates()));
    let table = Arc::new(table);
    let upkeep = {
        let state = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(UPKEEP_EVERY);
            loop {
                tick.tick().await;
                state.metrics.upkeep();
            }
        })
    };
    let scrubber = scrub::spawn(state.clone());
    let (stop, stopped) = oneshot::channel();
    let kill = CancellationToken::new();
    let join = tokio::spawn(accept_loop(
        listener,
        (table, http_metrics),
        state.clone(),
        stopped,
        kill.clone(),
    ));
    tracing::info!(%addr, node_id = %state.config.node_id, "mictlanx-peer listening");
    Ok(PeerServer {
        addr,
        state,
        stop: Some(stop),
        kill,
        join,
        sweeper,
        scrubber,
        upkeep,
    })
}

/// The peer API over the shared accept loop: the head clock runs only while a head arrives, so the routers'
/// pooled connections may idle for `CLIENT_REQUEST_TIMEOUT`.
async fn accept_loop(
    listener: TcpListener,
    (table, http_metrics): (Arc<RouteTable>, Arc<HttpMetrics>),
    state: Arc<PeerState>,
    stopped: oneshot::Receiver<()>,
    kill: CancellationToken,
) {
    let idle = state.config.client_request_timeout;
    let mut opts = ServeOptions::new(
        state.config.header_timeout,
        HeadClock::WhileReceiving { idle },
        DRAIN_TIMEOUT,
    );
    opts.kill = kill;
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let (table, state, metrics) = (table.clone(), state.clone(), http_metrics.clone());
        async move { Ok::<_, Infallible>(dispatch(&table, &state, &metrics, req.map(Body::new)).await) }
    });
    let stopped = async {
        let _ = stopped.await;
    };
    mictlanx_http::serve(listener, service, opts, stopped).await;
}

async fn dispatch(
    table: &RouteTable,
    state: &PeerState,
    metrics: &HttpMetrics,
    req: Request,
) -> Response {
    let started = Instant::now();
    let path = normalize_path(req.uri().path(), None);
    let method = req.method().clone();
    // decided before the table consumes the request; handlers only run when polled
    let admitted = state.config.token.as_ref().map(|t| {
        (
            t.admits(req.headers()),
            req.headers().contains_key(header::AUTHORIZATION),
        )
    });
    let traceparent = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (template, res) = match table.resolve(req, &path) {
        Resolved::Route { template, call } => match admitted {
            Some((false, presented))
                if requires_token(&method, template, state.config.token_reads) =>
            {
                drop(call);
                tracing::debug!(http.request.method = %method, http.route = template, "unauthorized");
                (template, unauthorized(presented))
            }
            _ => {
                let span = tracing::debug_span!(
                    "peer_request",
                    http.request.method = %method,
                    http.route = template,
                    traceparent = %traceparent
                );
                (template, call.instrument(span).await)
            }
        },
        Resolved::Reject(e) => (UNMATCHED, e.into_response()),
    };
    let route = (template != UNMATCHED).then_some(template);
    if let Some(m) = metrics.route(&method, route) {
        m.record(res.status(), started.elapsed().as_secs_f64());
    }
    tracing::debug!(
        http.request.method = %method,
        url.path = %path,
        http.route = template,
        http.response.status_code = res.status().as_u16(),
        "request handled"
    );
    res
}

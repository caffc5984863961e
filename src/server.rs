//! The accept loop: plain HTTP/1.1 (+ h2c) or HTTPS (rustls, ALPN h2 and http/1.1), with graceful shutdown:
//! on the signal stop accepting, let in-flight connections finish up to the deadline, then return.
//!
//! Hardening ([`ListenerLimits`]): at most `max_connections` connections are served at once (the loop stops
//! accepting while the cap is reached, so further connections wait in the kernel's listen backlog); a new
//! connection must finish its TLS handshake and deliver its first request head within `header_timeout`,
//! and every later request head on it must arrive within `header_timeout` too (hyper's
//! `header_read_timeout`, which also closes idle keep-alive connections); a request head larger than
//! [`MAX_HEADER_BYTES`] or with more than [`MAX_HEADERS`] fields is answered 431. Bodies are not concerned:
//! they keep the handlers' idle timeouts.

use std::{future::Future, io::BufReader, sync::Arc, time::Duration};

use anyhow::Context as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::config::{SecurityConfig, TlsFiles};
use crate::telemetry::Metrics;

/// Largest request head (request line and header fields) on HTTP/1, and the HTTP/2 header list limit.
/// hyper's read buffer is capped at this size, so a larger head is answered 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Most header fields of one HTTP/1 request (hyper's default, stated here; more is 431).
pub const MAX_HEADERS: usize = 100;

const OPEN_CONNECTIONS: &str = "mictlanx_router_open_connections";
const SLOW_CONNECTIONS: &str = "mictlanx_router_slow_connections_closed_total";

/// The listener's limits (`MICTLANX_ROUTER_HEADER_TIMEOUT`, `MICTLANX_ROUTER_MAX_CONNECTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl ListenerLimits {
    pub fn from_config(security: &SecurityConfig) -> ListenerLimits {
        ListenerLimits {
            header_timeout: security.header_timeout,
            max_connections: security.max_connections.max(1),
        }
    }
}

/// Install rustls' ring crypto provider as the process default (idempotent). reqwest is built without a
/// bundled provider, so this must run before the first HTTP client is built: `main`, `App::build`,
/// `PeerClient::new` and the peer server call it.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A TLS acceptor from PEM files (certificate chain; PKCS#8, PKCS#1 or SEC1 key).
pub fn tls_acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    install_crypto_provider();
    let cert_file = std::fs::File::open(&files.cert)
        .with_context(|| format!("opening MICTLANX_ROUTER_TLS_CERT {}", files.cert.display()))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(cert_file))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading certificates from {}", files.cert.display()))?;
    let key_file = std::fs::File::open(&files.key)
        .with_context(|| format!("opening MICTLANX_ROUTER_TLS_KEY {}", files.key.display()))?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(key_file))
        .with_context(|| format!("reading the private key from {}", files.key.display()))?
        .with_context(|| format!("no private key in {}", files.key.display()))?;
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("building the TLS configuration")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serve `router` on `listener` until `shutdown` resolves; then drain for at most `deadline`.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
    limits: ListenerLimits,
    metrics: &Metrics,
) {
    let open = metrics.gauge(OPEN_CONNECTIONS);
    let slow = metrics.counter(SLOW_CONNECTIONS);
    open.set(0.0);
    slow.increment(0);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let graceful = GracefulShutdown::new();
    let service = TowerToHyperService::new(router);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        // Take a connection slot before accepting: at the cap, new connections queue in the backlog.
        // `biased`: the shutdown future is polled first, so the signal handlers it installs exist before the
        // first connection is served.
        let permit = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let head_deadline = Instant::now() + limits.header_timeout;
        let arrived = Arc::new(Notify::new());
        let service = Arrivals {
            inner: service.clone(),
            arrived: arrived.clone(),
        };
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let acceptor = tls.clone();
        let (open, slow) = (open.clone(), slow.clone());
        tokio::spawn(async move {
            let _open = OpenConnection::new(permit, open);
            let conn = Connection {
                builder,
                service,
                watcher,
                head_deadline,
                arrived,
            };
            match conn.run(stream, acceptor).await {
                Ok(()) => {}
                Err(Closed::Slow) => {
                    slow.increment(1);
                    tracing::debug!(%peer, "connection closed: no request head within the header timeout");
                }
                Err(Closed::Error(e)) => {
                    tracing::debug!(%peer, error = %e, "connection ended with an error")
                }
            }
        });
    }
    drop(listener);
    tracing::info!(
        deadline_s = deadline.as_secs_f64(),
        "shutting down: draining in-flight requests"
    );
    if tokio::time::timeout(deadline, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown deadline reached with requests still in flight");
    }
}

type ConnError = Box<dyn std::error::Error + Send + Sync>;

/// One accepted connection and what serving it needs.
struct Connection {
    builder: Builder<TokioExecutor>,
    service: Arrivals<TowerToHyperService<axum::Router>>,
    watcher: hyper_util::server::graceful::Watcher,
    head_deadline: Instant,
    arrived: Arc<Notify>,
}

impl Connection {
    /// TLS handshake (when configured), then HTTP until the client or the server ends the connection.
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) -> Result<(), Closed> {
        let Some(acceptor) = tls else {
            let conn = self
                .builder
                .serve_connection_with_upgrades(TokioIo::new(stream), self.service)
                .into_owned();
            return until_first_head(self.watcher.watch(conn), self.head_deadline, &self.arrived)
                .await;
        };
        let stream = match tokio::time::timeout_at(self.head_deadline, acceptor.accept(stream))
            .await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Closed::Error(format!("tls handshake failed: {e}").into())),
            Err(_) => return Err(Closed::Slow),
        };
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(stream), self.service)
            .into_owned();
        until_first_head(self.watcher.watch(conn), self.head_deadline, &self.arrived).await
    }
}

/// How a connection ended badly.
enum Closed {
    /// No (complete) request head in time: dropped by the first-head deadline or hyper's header timeout.
    Slow,
    Error(ConnError),
}

/// Drives `conn`; drops it (closing the socket) if no request head has arrived by `deadline`. Covers what
/// hyper's own header timeout cannot: a client that sends nothing, or a partial HTTP/2 preface, while the
/// protocol is still being detected, and HTTP/2 connections that never open a stream.
async fn until_first_head(
    conn: impl Future<Output = Result<(), ConnError>>,
    deadline: Instant,
    arrived: &Notify,
) -> Result<(), Closed> {
    let guard = async {
        if tokio::time::timeout_at(deadline, arrived.notified())
            .await
            .is_ok()
        {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = conn => result.map_err(|e| {
            let timed_out = e
                .downcast_ref::<hyper::Error>()
                .is_some_and(hyper::Error::is_timeout);
            if timed_out { Closed::Slow } else { Closed::Error(e) }
        }),
        () = guard => Err(Closed::Slow),
    }
}

/// The connection's service, telling [`until_first_head`] that a request head arrived.
#[derive(Clone)]
struct Arrivals<S> {
    inner: S,
    arrived: Arc<Notify>,
}

impl<S, R> hyper::service::Service<R> for Arrivals<S>
where
    S: hyper::service::Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, req: R) -> Self::Future {
        self.arrived.notify_one();
        self.inner.call(req)
    }
}

/// Holds a connection slot and counts the connection in `mictlanx_router_open_connections`.
struct OpenConnection {
    _permit: tokio::sync::OwnedSemaphorePermit,
    open: metrics::Gauge,
}

impl OpenConnection {
    fn new(permit: tokio::sync::OwnedSemaphorePermit, open: metrics::Gauge) -> Self {
        open.increment(1.0);
        OpenConnection {
            _permit: permit,
            open,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.open.decrement(1.0);
    }
}

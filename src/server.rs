//! The router's listener on the shared accept loop (`mictlanx_http::listener`): plain HTTP/1.1 (+ h2c) or
//! HTTPS (the rustls configuration from `TlsFiles`, ALPN h2 and http/1.1), graceful shutdown, and the
//! connection metrics.
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
use hyper_util::service::TowerToHyperService;
use mictlanx_http::{ConnectionEvents, HeadClock, ServeOptions};

use crate::telemetry::Metrics;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::{SecurityConfig, TlsFiles};

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
    let events = ConnectionMetrics {
        open: metrics.gauge(OPEN_CONNECTIONS),
        slow: metrics.counter(SLOW_CONNECTIONS),
    };
    events.open.set(0.0);
    events.slow.increment(0);
    let mut opts = ServeOptions::new(limits.header_timeout, HeadClock::FromAccept, deadline);
    opts.tls = tls;
    opts.max_connections = Some(limits.max_connections);
    opts.max_header_bytes = Some(MAX_HEADER_BYTES);
    opts.max_headers = Some(MAX_HEADERS);
    opts.events = Arc::new(events);
    mictlanx_http::serve(listener, TowerToHyperService::new(router), opts, shutdown).await;
}

/// `mictlanx_router_open_connections` and `mictlanx_router_slow_connections_closed_total`.
/// Handles registered once on the App's own recorder.
struct ConnectionMetrics {
    open: metrics::Gauge,
    slow: metrics::Counter,
}

impl ConnectionEvents for ConnectionMetrics {
    fn opened(&self) {
        self.open.increment(1.0);
    }

    fn closed(&self) {
        self.open.decrement(1.0);
    }

    fn slow(&self) {
        self.slow.increment(1);
    }
}

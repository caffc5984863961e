//! The accept loop: plain HTTP/1.1 (+ h2c) or HTTPS (rustls, ALPN h2 and http/1.1), with graceful shutdown:
//! on the signal stop accepting, let in-flight connections finish up to the deadline, then return.

use std::{future::Future, io::BufReader, sync::Arc, time::Duration};

use anyhow::Context as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::config::TlsFiles;

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
) {
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let service = TowerToHyperService::new(router);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let builder = builder.clone();
        match &tls {
            None => {
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(
                        Duration::from_secs(10),
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            return tracing::debug!(%peer, error = %e, "tls handshake failed")
                        }
                        Err(_) => return tracing::debug!(%peer, "tls handshake timed out"),
                    };
                    let conn = builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .into_owned();
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
        }
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

//! `mictlanx-router --healthcheck`: the shared probe (`mictlanx_http::healthcheck`) on the configured port,
//! over HTTPS when TLS is on.

use crate::config::ServerConfig;

/// True when `/health` answered 200.
pub async fn check(server: &ServerConfig) -> bool {
    crate::server::install_crypto_provider();
    mictlanx_http::healthcheck::healthcheck(&server.host, server.port, server.tls.is_some()).await
}

//! `--healthcheck` for container healthchecks without curl: GET `/health` on the configured port
//! (loopback when bound to a wildcard address; HTTPS accepting the router's own certificate when TLS is on).

use std::time::Duration;

use crate::config::ServerConfig;

/// True when `/health` answered 200.
pub async fn check(server: &ServerConfig) -> bool {
    crate::server::install_crypto_provider();
    let host = match server.host.as_str() {
        "0.0.0.0" | "::" | "[::]" | "" => "127.0.0.1".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    };
    let scheme = if server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let url = format!("{scheme}://{host}:{}/health", server.port);
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .tls_danger_accept_invalid_certs(true)
        .build()
    {
        Ok(c) => c,
        Err(_) => return false,
    };
    matches!(client.get(url).send().await, Ok(res) if res.status().as_u16() == 200)
}

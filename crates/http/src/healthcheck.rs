//! The `--healthcheck` probe of both binaries (container healthchecks without curl): `GET /health` on the
//! local port, over HTTPS accepting any certificate when the server terminates TLS (it is its own).

use std::time::Duration;

/// The path both the router and the peer answer 200 on while they serve.
pub const HEALTH_PATH: &str = "/health";

/// How long the probe waits for the answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The address to probe for a bind address: loopback for a wildcard, brackets around a bare IPv6.
pub fn probe_host(bind: &str) -> String {
    match bind {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" | "[::]" => "[::1]".to_string(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    }
}

/// True when `GET /health` on the server bound to `bind:port` answered 200 within [`PROBE_TIMEOUT`].
pub async fn healthcheck(bind: &str, port: u16, tls: bool) -> bool {
    // reqwest is built without a bundled crypto provider
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let scheme = if tls { "https" } else { "http" };
    let url = format!("{scheme}://{}:{port}{HEALTH_PATH}", probe_host(bind));
    let client = match reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .tls_danger_accept_invalid_certs(true)
        .no_proxy()
        .build()
    {
        Ok(c) => c,
        Err(_) => return false,
    };
    matches!(client.get(url).send().await, Ok(res) if res.status().as_u16() == 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_probe_loopback() {
        assert_eq!(probe_host("0.0.0.0"), "127.0.0.1");
        assert_eq!(probe_host(""), "127.0.0.1");
        assert_eq!(probe_host("::"), "[::1]");
        assert_eq!(probe_host("[::]"), "[::1]");
        assert_eq!(probe_host("fe80::1"), "[fe80::1]");
        assert_eq!(probe_host("10.0.0.2"), "10.0.0.2");
        assert_eq!(probe_host("localhost"), "localhost");
    }

    #[tokio::test]
    async fn nothing_listening_is_unhealthy() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        assert!(!healthcheck("127.0.0.1", port, false).await);
    }
}

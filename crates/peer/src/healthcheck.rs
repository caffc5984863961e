//! `mictlanx-peer --healthcheck`: the shared probe (`mictlanx_http::healthcheck`) on the configured port.

use super::config::PeerConfig;

/// `true` when the local peer answers `/health` with 200 within a few seconds.
pub async fn healthcheck(cfg: &PeerConfig) -> bool {
    mictlanx_http::healthcheck::healthcheck(&cfg.host, cfg.port, false).await
}

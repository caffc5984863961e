//! Construction of the two pooled reqwest clients of [`super::PeerClient`] from `PeerIoConfig`.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};

use super::PeerError;
use crate::config::PeerIoConfig;

/// `(calls, uploads)`: connect timeout, extra CA bundle for https peers, no redirects, the peer token as a
/// default header (built once, marked sensitive so it never shows in debug output); the first client also
/// has the idle (read) timeout, which reqwest cannot reset while a request body is still being sent.
pub(super) fn clients(io: &PeerIoConfig) -> Result<(reqwest::Client, reqwest::Client), PeerError> {
    crate::server::install_crypto_provider();
    let mut defaults = HeaderMap::new();
    if let Some(value) = auth_header(io)? {
        defaults.insert(AUTHORIZATION, value);
    }
    let base = || {
        reqwest::Client::builder()
            .connect_timeout(io.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .no_proxy()
            // A peer that redirects could point the router (and its token) anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(defaults.clone())
    };
    let mut builder = base().read_timeout(io.idle_timeout);
    let mut upload_builder = base();
    if let Some(path) = &io.peer_tls_ca {
        let pem = std::fs::read(path).map_err(|e| {
            PeerError::Connect(format!("cannot read peer CA {}: {e}", path.display()))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| PeerError::Connect(format!("invalid peer CA {}: {e}", path.display())))?;
        builder = builder.tls_certs_merge(certs.clone());
        upload_builder = upload_builder.tls_certs_merge(certs);
    }
    let build = |b: reqwest::ClientBuilder| {
        b.build()
            .map_err(|e| PeerError::Connect(format!("cannot build the peer client: {e}")))
    };
    Ok((build(builder)?, build(upload_builder)?))
}

/// `Authorization: Bearer <MICTLANX_ROUTER_PEER_TOKEN>`, marked sensitive; `None` without a token.
pub(super) fn auth_header(io: &PeerIoConfig) -> Result<Option<HeaderValue>, PeerError> {
    let Some(token) = &io.peer_token else {
        return Ok(None);
    };
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        .map_err(|_| PeerError::Connect("the peer token is not a valid header".into()))?;
    value.set_sensitive(true);
    Ok(Some(value))
}

//! Bearer-token access control of the peer (`MICTLANX_PEER_TOKEN`, `docs/peer-api.md` §9–§14): which
//! routes need the token, the constant-time check, and the 401 answer.

use std::fmt;

use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use mictlanx_http::error::ApiError;
use mictlanx_proto::peer::paths;

/// The peer's shared secret. `Debug` never shows it.
#[derive(Clone)]
pub struct PeerToken {
    secret: String,
    /// SHA-256 of the secret: comparing digests takes the same time whatever the presented length.
    digest: [u8; 32],
}

impl PeerToken {
    /// `None` unless `secret` is a usable bearer token (visible ASCII, no spaces, not empty).
    pub fn new(secret: &str) -> Option<Self> {
        let ok = !secret.is_empty() && secret.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| PeerToken {
            secret: secret.to_string(),
            digest: Sha256::digest(secret.as_bytes()).into(),
        })
    }

    /// The secret, for the peer's own outgoing calls.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>` (scheme case-insensitive).
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(presented) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer)
        else {
            return false;
        };
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // fold over every byte: no early exit on the first difference
        presented
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl fmt::Debug for PeerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerToken(..)")
    }
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Whether a matched route needs the token: every non-GET route (writes, deletes, disable, replicate,
/// task clearing, node announcements); with `reads` every GET too, except `/health` and `/metrics`.
pub fn requires_token(method: &Method, template: &str, reads: bool) -> bool {
    if method != Method::GET {
        return true;
    }
    reads && template != paths::HEALTH && template != paths::METRICS
}

/// `401 {"detail": ...}` with `WWW-Authenticate: Bearer realm="mictlanx-peer"`.
pub fn unauthorized(presented: bool) -> Response {
    let detail = if presented {
        "Invalid bearer token"
    } else {
        "Missing bearer token: send Authorization: Bearer <MICTLANX_PEER_TOKEN>"
    };
    let mut res = ApiError::new(StatusCode::UNAUTHORIZED, detail).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"mictlanx-peer\""),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn only_the_exact_bearer_token_is_admitted() {
        let t = PeerToken::new("s3cr.et-_~+/=").unwrap();
        assert!(t.admits(&with_auth("Bearer s3cr.et-_~+/=")));
        assert!(t.admits(&with_auth("bearer  s3cr.et-_~+/= ")));
        for bad in [
            "Bearer s3cr",
            "Bearer s3cr.et-_~+/==",
            "Basic s3cr.et-_~+/=",
            "Bearer",
            "s3cr.et-_~+/=",
        ] {
            assert!(!t.admits(&with_auth(bad)), "{bad}");
        }
        assert!(!t.admits(&HeaderMap::new()));
        assert_eq!(format!("{t:?}"), "PeerToken(..)");
        assert!(PeerToken::new("").is_none());
        assert!(PeerToken::new("with space").is_none());
    }

    #[test]
    fn writes_always_need_the_token_reads_only_when_asked() {
        let route = "/api/v4/buckets/{bucket_id}/{key}";
        assert!(requires_token(&Method::DELETE, route, false));
        assert!(requires_token(&Method::POST, "/api/v4/nodes", false));
        assert!(!requires_token(&Method::GET, route, false));
        assert!(requires_token(&Method::GET, route, true));
        assert!(!requires_token(&Method::GET, "/health", true));
        assert!(!requires_token(&Method::GET, "/metrics", true));
    }
}

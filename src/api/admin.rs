//! The admin guard (`MICTLANX_ROUTER_ADMIN_TOKEN`): endpoints that change the space's membership or state
//! call [`require_admin`] (or take the [`Admin`] extractor first, so the token is checked before the body is
//! read). With a token configured, a request without `Authorization: Bearer <token>`, or with another token,
//! is `401 {"detail": ...}` with `WWW-Authenticate: Bearer realm="mictlanx-router"`. Without one, every
//! request passes and the router warns once at start-up. Tokens are compared in constant time.
//!
//! Protected today: `POST /api/v4/peers`, `POST /api/v4/xpeers`, `DELETE /api/v4/peers/{peer_id}`,
//! `DELETE /api/v4/xpeers`, `DELETE /api/v4/cache/reset`. A new admin endpoint adds the one-line call and
//! `security(("bearer" = []))` to its `#[utoipa::path]`; [`document`] does the rest of the OpenAPI.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::{header, request::Parts, HeaderMap};
use serde_json::{json, Value};

use metrics::Counter;

use crate::security::{matches_digest, Secret};
use crate::telemetry::Metrics;
use mictlanx_http::error::{ApiError, ApiResult};

/// Name of the OpenAPI security scheme of the admin endpoints.
pub const SCHEME: &str = "bearer";

const DENIED: &str = "mictlanx_router_admin_denied_total";

/// The configured admin token (its SHA-256 only); cheap to clone. `Default` = no token, everything passes
/// (and nothing is counted).
#[derive(Clone, Default)]
pub struct AdminGuard {
    expected: Option<Arc<[u8; 32]>>,
    denied: Option<Arc<Denied>>,
}

/// `mictlanx_router_admin_denied_total` by reason.
struct Denied {
    missing: Counter,
    invalid: Counter,
}

impl std::fmt::Debug for AdminGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminGuard")
            .field("enabled", &self.is_enabled())
            .finish()
    }
}

impl AdminGuard {
    /// Registers the denial counters on `metrics` at zero.
    pub fn new(token: Option<&Secret>, metrics: &Metrics) -> AdminGuard {
        let denied = Denied {
            missing: metrics.counter_with(DENIED, &[("reason", "missing")]),
            invalid: metrics.counter_with(DENIED, &[("reason", "invalid")]),
        };
        denied.missing.increment(0);
        denied.invalid.increment(0);
        AdminGuard {
            expected: token.map(|t| Arc::new(t.digest())),
            denied: Some(Arc::new(denied)),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.expected.is_some()
    }

    /// Logs how the admin endpoints are protected; once, at start-up.
    pub fn log_startup(&self) {
        if self.is_enabled() {
            tracing::info!(
                "admin endpoints require the bearer token of MICTLANX_ROUTER_ADMIN_TOKEN"
            );
        } else {
            tracing::warn!(
                "MICTLANX_ROUTER_ADMIN_TOKEN is not set: anyone who reaches the router can add or remove peers and reset the cache"
            );
        }
    }

    /// `Ok` when no token is configured or `headers` carry it as a bearer token.
    pub fn check(&self, headers: &HeaderMap) -> ApiResult<()> {
        let Some(expected) = &self.expected else {
            return Ok(());
        };
        match bearer_token(headers) {
            None => {
                if let Some(d) = &self.denied {
                    d.missing.increment(1);
                }
                tracing::info!(reason = "missing", "admin request refused");
                Err(ApiError::unauthorized(
                    "Not authenticated: this endpoint needs Authorization: Bearer <admin token>",
                ))
            }
            Some(token) if matches_digest(token, expected) => Ok(()),
            Some(_) => {
                if let Some(d) = &self.denied {
                    d.invalid.increment(1);
                }
                tracing::warn!(reason = "invalid", "admin request refused");
                Err(ApiError::unauthorized("Invalid admin token"))
            }
        }
    }
}

/// The one-line guard of an admin handler: `require_admin(&state, &headers)?`.
pub fn require_admin<S>(state: &S, headers: &HeaderMap) -> ApiResult<()>
where
    AdminGuard: FromRef<S>,
{
    AdminGuard::from_ref(state).check(headers)
}

/// Extractor form of [`require_admin`]: put `_: Admin` before a body extractor so an unauthenticated
/// request is refused before its body is read or validated.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl<S> FromRequestParts<S> for Admin
where
    AdminGuard: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        require_admin(state, &parts.headers).map(|()| Admin)
    }
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive, RFC 6750 §2.1).
fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let value = value.trim_ascii();
    let split = value.iter().position(|b| *b == b' ')?;
    let (scheme, token) = value.split_at(split);
    let token = token.trim_ascii();
    (scheme.eq_ignore_ascii_case(b"bearer") && !token.is_empty()).then_some(token)
}

/// Completes the OpenAPI document: the `bearer` security scheme, and on every operation whose `security`
/// names it a 401 response. Without a configured token the requirement is made optional (`{}` first), which
/// is what the router then enforces.
pub fn document(doc: &mut Value, enabled: bool) {
    doc["components"]["securitySchemes"][SCHEME] = json!({
        "type": "http",
        "scheme": "bearer",
        "description": "The router's MICTLANX_ROUTER_ADMIN_TOKEN; required only when it is set",
    });
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in operation.values_mut().filter_map(Value::as_object_mut) {
            let protected = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|reqs| reqs.iter().any(|r| r.get(SCHEME).is_some()));
            if !protected {
                continue;
            }
            if !enabled {
                if let Some(reqs) = op.get_mut("security").and_then(Value::as_array_mut) {
                    reqs.insert(0, json!({}));
                }
            }
            let responses = op.entry("responses").or_insert_with(|| json!({}));
            if responses.get("401").is_none() {
                responses["401"] = json!({"description": "Admin token missing or wrong"});
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn bearer_tokens_are_parsed() {
        assert_eq!(
            bearer_token(&headers(Some("Bearer abc"))),
            Some(&b"abc"[..])
        );
        assert_eq!(
            bearer_token(&headers(Some("bearer   abc  "))),
            Some(&b"abc"[..])
        );
        assert_eq!(bearer_token(&headers(Some("Basic abc"))), None);
        assert_eq!(bearer_token(&headers(Some("Bearer"))), None);
        assert_eq!(bearer_token(&headers(Some("Bearer "))), None);
        assert_eq!(bearer_token(&headers(Some("abc"))), None);
        assert_eq!(bearer_token(&headers(None)), None);
    }

    #[test]
    fn guard_with_and_without_a_token() {
        let open = AdminGuard::default();
        assert!(open.check(&headers(None)).is_ok());
        assert!(open.check(&headers(Some("Bearer anything"))).is_ok());

        let secret = Secret::parse("s3cret").unwrap();
        let guard = AdminGuard::new(Some(&secret), &Metrics::new());
        assert!(guard.check(&headers(Some("Bearer s3cret"))).is_ok());
        for bad in [
            None,
            Some("Bearer s3cre"),
            Some("Bearer s3cret2"),
            Some("Basic s3cret"),
        ] {
            let err = guard.check(&headers(bad)).unwrap_err();
            assert_eq!(err.status().as_u16(), 401, "{bad:?}");
        }
        assert_eq!(
            guard
                .check(&headers(Some("Bearer nope")))
                .unwrap_err()
                .detail(),
            "Invalid admin token"
        );
        assert!(!format!("{guard:?}").contains("s3cret"));
    }

    #[test]
    fn document_marks_protected_operations() {
        let doc = json!({"paths": {
            "/a": {"post": {"security": [{"bearer": []}], "responses": {"204": {}}}},
            "/b": {"get": {"responses": {"200": {}}}},
        }});
        let mut on = doc.clone();
        document(&mut on, true);
        assert_eq!(
            on["paths"]["/a"]["post"]["security"],
            json!([{"bearer": []}])
        );
        assert!(on["paths"]["/a"]["post"]["responses"]["401"].is_object());
        assert!(on["paths"]["/b"]["get"]["responses"].get("401").is_none());
        assert_eq!(
            on["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let mut off = doc;
        document(&mut off, false);
        assert_eq!(
            off["paths"]["/a"]["post"]["security"],
            json!([{}, {"bearer": []}])
        );
    }
}

//! `ApiError`: the only place that knows HTTP statuses. Every error body is JSON `{"detail": ...}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// An HTTP error answer: a status and the JSON `detail` (a string, the 422 list or the code-666 object).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    detail: Value,
    allow: Option<String>,
    /// `Retry-After` in seconds (503 while the cluster state is unreachable).
    retry_after: Option<u32>,
    /// `WWW-Authenticate` challenge of a 401.
    challenge: Option<&'static str>,
}

/// The challenge sent with every 401 (RFC 6750).
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"mictlanx-router\"";

impl ApiError {
    /// Any status with a string detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: Value::String(detail.into()),
            allow: None,
            retry_after: None,
            challenge: None,
        }
    }

    /// Any status with a structured detail (the 422 list, the code-666 object).
    pub fn with_detail(status: StatusCode, detail: Value) -> Self {
        Self {
            status,
            detail,
            allow: None,
            retry_after: None,
            challenge: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401 with `WWW-Authenticate: Bearer realm="mictlanx-router"`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            challenge: Some(BEARER_CHALLENGE),
            ..Self::new(StatusCode::UNAUTHORIZED, detail)
        }
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, detail)
    }

    /// 422 with the FastAPI-like list of `{"type","loc","msg","input"}` errors.
    pub fn unprocessable(errors: Vec<Value>) -> Self {
        Self::with_detail(StatusCode::UNPROCESSABLE_ENTITY, Value::Array(errors))
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    pub fn bad_gateway(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, detail)
    }

    pub fn insufficient_storage(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INSUFFICIENT_STORAGE, detail)
    }

    /// 405 `"Method Not Allowed"` with an `Allow` header (comma-separated methods).
    pub fn method_not_allowed(allow: impl Into<String>) -> Self {
        Self {
            status: StatusCode::METHOD_NOT_ALLOWED,
            detail: Value::String("Method Not Allowed".into()),
            allow: Some(allow.into()),
            retry_after: None,
            challenge: None,
        }
    }

    /// 503 with `Retry-After: 1`: the shared cluster state (Redis) cannot be reached right now.
    pub fn state_unavailable(detail: impl Into<String>) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, detail)
        }
    }

    /// 503 with `Retry-After: 1`: the object exists, but none of its current holders can serve it now.
    pub fn retry_later(detail: impl Into<String>) -> Self {
        Self::state_unavailable(detail)
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn detail(&self) -> &Value {
        &self.detail
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.detail {
            Value::String(s) => write!(f, "{} {}", self.status.as_u16(), s),
            other => write!(f, "{} {}", self.status.as_u16(), other),
        }
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "detail": self.detail }).to_string();
        let mut res = (self.status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(allow) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            headers.insert(header::ALLOW, allow);
        }
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        res
    }
}

/// Result alias for handlers.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn error_body_is_json_detail() {
        let res = ApiError::not_found("Not Found").into_response();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"detail":"Not Found"}"#);
    }

    #[tokio::test]
    async fn method_not_allowed_carries_allow() {
        let res = ApiError::method_not_allowed("GET, DELETE").into_response();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[header::ALLOW], "GET, DELETE");
    }

    #[tokio::test]
    async fn unauthorized_carries_the_bearer_challenge() {
        let res = ApiError::unauthorized("Not authenticated").into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            res.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="mictlanx-router""#
        );
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], br#"{"detail":"Not authenticated"}"#);
        let res = ApiError::forbidden("no").into_response();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}

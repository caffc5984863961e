//! CORS from `MICTLANX_CORS_*` (docs/router-api.md §3.9): preflights are answered before routing; with
//! credentials allowed, origins are echoed, never `*`.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};

use crate::config::CorsConfig;

const ALL_METHODS: [Method; 7] = [
    Method::DELETE,
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PATCH,
    Method::POST,
    Method::PUT,
];

fn is_any(list: &[String]) -> bool {
    list.iter().any(|v| v == "*")
}

pub fn layer(cfg: &CorsConfig) -> CorsLayer {
    let origins = if is_any(&cfg.allow_origins) {
        if cfg.allow_credentials {
            AllowOrigin::mirror_request()
        } else {
            AllowOrigin::any()
        }
    } else {
        AllowOrigin::list(
            cfg.allow_origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok()),
        )
    };
    let methods = if is_any(&cfg.allow_methods) {
        AllowMethods::list(ALL_METHODS)
    } else {
        AllowMethods::list(
            cfg.allow_methods
                .iter()
                .filter_map(|m| m.to_uppercase().parse::<Method>().ok()),
        )
    };
    let headers = if is_any(&cfg.allow_headers) {
        AllowHeaders::mirror_request()
    } else {
        AllowHeaders::list(
            cfg.allow_headers
                .iter()
                .filter_map(|h| h.parse::<HeaderName>().ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods(methods)
        .allow_headers(headers)
        .allow_credentials(cfg.allow_credentials)
        .max_age(Duration::from_secs(600))
}

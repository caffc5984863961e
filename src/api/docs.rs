//! API documentation: `/openapi.json` (utoipa, with the configured title, version, summary, description and
//! `x-logo`), Swagger UI at `/docs` and ReDoc at `/redoc`, both from assets vendored into the binary (they
//! work offline).

mod constraints;
mod redoc;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::api::state::AppState;
use crate::config::Config;
use mictlanx_http::error::ApiError;
use mictlanx_http::{PathParams, RouteTable};

pub fn routes(t: RouteTable, s: &AppState) -> RouteTable {
    t.route(Method::GET, "/docs", swagger_page, s.clone())
        .route(
            Method::GET,
            "/docs/oauth2-redirect",
            oauth2_redirect,
            s.clone(),
        )
        .route(Method::GET, "/docs/{*file}", swagger_asset, s.clone())
        .route(Method::GET, "/redoc", redoc::page, s.clone())
        .route(
            Method::GET,
            "/redoc/redoc.standalone.js",
            redoc::bundle,
            s.clone(),
        )
        .route(
            Method::GET,
            "/redoc/redoc.standalone.js.LICENSE.txt",
            redoc::bundle_notices,
            s.clone(),
        )
        .route(Method::GET, "/redoc/LICENSE", redoc::license, s.clone())
        .route(Method::GET, "/openapi.json", openapi_json, s.clone())
}

/// The OpenAPI document served at `/openapi.json`, built once at start-up from every module's paths.
pub fn build_openapi(config: &Config, docs: Vec<utoipa::openapi::OpenApi>) -> Value {
    let mut doc = RootDoc::openapi();
    for part in docs {
        doc.merge(part);
    }
    let mut value = serde_json::to_value(&doc).unwrap_or_else(|_| json!({}));
    constraints::apply(&mut value);
    let info = &config.openapi;
    value["openapi"] = json!("3.1.0");
    value["info"] = json!({
        "title": info.title,
        "version": info.version,
        "summary": info.summary,
        "description": info.description,
        "x-logo": {"url": info.logo},
    });
    crate::api::admin::document(&mut value, config.security.admin_token.is_some());
    value
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(openapi_json))]
struct RootDoc;

/// This API description
///
/// The OpenAPI 3.1 document that Swagger UI (`/docs`) and ReDoc (`/redoc`) render.
#[utoipa::path(get, path = "/openapi.json", tag = "docs",
    responses((status = 200, description = "OpenAPI document", body = Value)))]
pub async fn openapi_json(State(state): State<AppState>) -> Response {
    let mut res = state.openapi.to_string().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn prefix(state: &AppState) -> &str {
    state.config.server.prefix.as_deref().unwrap_or("")
}

async fn swagger_page(State(state): State<AppState>) -> Html<String> {
    let p = prefix(&state);
    let title = html_escape(&state.config.openapi.title);
    Html(format!(
        r##"<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8"><title>{title} - Swagger UI</title>
<link rel="stylesheet" type="text/css" href="{p}/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{p}/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
<script src="{p}/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{p}/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  oauth2RedirectUrl: window.location.origin + "{p}/docs/oauth2-redirect",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"
}});
</script></body></html>"##
    ))
}

async fn oauth2_redirect(State(state): State<AppState>) -> Response {
    asset(&state, "oauth2-redirect.html")
}

async fn swagger_asset(State(state): State<AppState>, params: PathParams) -> Response {
    match params.required("file") {
        Ok(file) => asset(&state, file),
        Err(e) => e.into_response(),
    }
}

fn asset(state: &AppState, file: &str) -> Response {
    let config = Arc::new(utoipa_swagger_ui::Config::from(format!(
        "{}/openapi.json",
        prefix(state)
    )));
    match utoipa_swagger_ui::serve(file, config) {
        Ok(Some(f)) => {
            let mut res = (StatusCode::OK, f.bytes.into_owned()).into_response();
            if let Ok(v) = HeaderValue::from_str(&f.content_type) {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            res
        }
        Ok(None) => ApiError::not_found("Not Found").into_response(),
        Err(e) => ApiError::internal(e.to_string()).into_response(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

//! ReDoc at `/redoc`, from a bundle vendored into the binary (works offline, like Swagger UI at `/docs`).
//!
//! `redoc.standalone.js` is the unmodified `bundles/redoc.standalone.js` of the npm package `redoc` 2.5.4
//! (MIT, Rebilly, Inc.; `redoc.LICENSE` beside it); its first line points at the bundled third-party
//! notices, which are served next to it. The page sets no web fonts: ReDoc's default font stacks fall back
//! to the system fonts, so nothing is fetched from outside the router.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};

use crate::api::state::AppState;

const BUNDLE: &[u8] = include_bytes!("redoc.standalone.js");
const BUNDLE_NOTICES: &str = include_str!("redoc.standalone.js.LICENSE.txt");
const LICENSE: &str = include_str!("redoc.LICENSE");

/// What the page may load: only this router (styles inline, ReDoc's search worker from a `blob:`). The
/// bundle's side menu shows a "Redocly" logo from the vendor's CDN; the policy stops that request before
/// it is made (the image then hides itself), so the page never reaches outside the router.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:";

/// `GET /redoc`: the page; the script and the spec are loaded from this router, under the prefix.
pub async fn page(State(state): State<AppState>) -> Response {
    let p = super::prefix(&state);
    let title = super::html_escape(&state.config.openapi.title);
    let mut res = Html(format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><title>{title} - ReDoc</title><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body {{ margin: 0; padding: 0; }}</style></head>
<body><redoc spec-url="{p}/openapi.json"></redoc>
<script src="{p}/redoc/redoc.standalone.js"></script></body></html>"#
    ))
    .into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    res
}

/// `GET /redoc/redoc.standalone.js`.
pub async fn bundle() -> Response {
    // The bytes never change within one binary, so browsers may keep them for a day.
    with_type(BUNDLE, "application/javascript; charset=utf-8")
}

/// `GET /redoc/redoc.standalone.js.LICENSE.txt`: the notices the bundle's first line refers to.
pub async fn bundle_notices() -> Response {
    with_type(BUNDLE_NOTICES.as_bytes(), "text/plain; charset=utf-8")
}

/// `GET /redoc/LICENSE`: ReDoc's own licence.
pub async fn license() -> Response {
    with_type(LICENSE.as_bytes(), "text/plain; charset=utf-8")
}

fn with_type(body: &'static [u8], content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    res
}

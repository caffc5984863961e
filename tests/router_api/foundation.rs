//! Server-level behaviour shared by every route (docs/router-api.md §3): prefix, 404/405/422 JSON errors,
//! docs, OpenAPI, metrics, health/readiness, CORS, and a handler panic turned into a JSON 500.

use axum::http::Method;
use mictlanx_http::RouteTable;
use mictlanx_router::app::{http_service, App};
use mictlanx_router::config::Config;
use serde_json::Value;
use tower::ServiceExt;

async fn spawn() -> (mictlanx_router::app::TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path().join("state"));
    config.openapi.title = "Foundation Test Router".into();
    (App::spawn(config).await.unwrap(), dir)
}

async fn json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let body = res.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or_else(|_| panic!("not JSON: {body:?}")),
    )
}

#[tokio::test]
async fn routes_answer_with_and_without_the_prefix() {
    let (app, _dir) = spawn().await;
    let c = reqwest::Client::new();
    for path in [
        "/health",
        "/mictlanx/health",
        "/health/",
        "/api/v4/cache/stats",
        "/mictlanx/api/v4/cache/stats",
    ] {
        let (status, body) = json(c.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (_, body) = json(c.get(app.url("/health")).send().await.unwrap()).await;
    assert_eq!(
        body,
        serde_json::json!({"status": "ok", "service": "mictlanx-router"})
    );
    let (status, body) = json(c.get(app.url("/mictlanxfoo/health")).send().await.unwrap()).await;
    assert_eq!(
        (status, body),
        (404, serde_json::json!({"detail": "Not Found"}))
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_path_wrong_method_and_malformed_json_are_json_errors() {
    let (app, _dir) = spawn().await;
    let c = reqwest::Client::new();
    let res = c.get(app.url("/nope/at/all")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(
        json(res).await,
        (404, serde_json::json!({"detail": "Not Found"}))
    );

    let res = c.put(app.url("/api/v4/buckets/b/k")).send().await.unwrap();
    assert_eq!(res.headers()["allow"], "GET, DELETE");
    assert_eq!(
        json(res).await,
        (405, serde_json::json!({"detail": "Method Not Allowed"}))
    );

    let res = c.head(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 405);

    let res = c
        .post(app.url("/api/v4/peers"))
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["type"], "json_invalid");
    assert_eq!(body["detail"][0]["loc"][0], "body");
    app.stop().await;
}

#[tokio::test]
async fn docs_are_served_offline_and_openapi_carries_the_title() {
    let (app, _dir) = spawn().await;
    let c = reqwest::Client::new();
    let res = c.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = res.text().await.unwrap();
    assert!(
        html.contains("/mictlanx/docs/swagger-ui-bundle.js"),
        "{html}"
    );
    assert!(html.contains("/mictlanx/openapi.json"));

    for asset in [
        "/mictlanx/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui-bundle.js",
    ] {
        let res = c.get(app.url(asset)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200, "{asset}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript"));
        assert!(
            res.bytes().await.unwrap().len() > 100_000,
            "the vendored bundle is the real one"
        );
    }
    assert_eq!(
        c.get(app.url("/docs/oauth2-redirect"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    let (status, doc) = json(
        c.get(app.url("/mictlanx/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["info"]["title"], "Foundation Test Router");
    assert_eq!(doc["info"]["version"], "0.1.0a0");
    assert_eq!(doc["info"]["x-logo"]["url"], "");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(
        doc["paths"]["/health"]["get"].is_object(),
        "{}",
        doc["paths"]
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_use_route_templates_never_raw_paths() {
    let (app, _dir) = spawn().await;
    let c = reqwest::Client::new();
    c.get(app.url("/health")).send().await.unwrap();
    c.get(app.url("/mictlanx/health")).send().await.unwrap();
    c.get(app.url("/api/v4/buckets/secretbucket/secretkey/size"))
        .send()
        .await
        .unwrap();
    c.get(app.url("/no/such/route")).send().await.unwrap();
    let res = c.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = res.text().await.unwrap();
    let has = |needle: &str| {
        text.lines()
            .any(|l| l.starts_with("http_requests_total") && l.contains(needle))
    };
    assert!(has(r#"handler="/health""#), "{text}");
    assert!(has(r#"handler="none""#), "{text}");
    assert!(
        has(r#"handler="/api/v4/buckets/{bucket_id}/{key}/size""#),
        "{text}"
    );
    assert!(!text.contains("secretbucket"));
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("http_requests_in_progress"));
    app.stop().await;
}

#[tokio::test]
async fn ready_is_503_without_available_peers() {
    let (app, _dir) = spawn().await;
    let res = reqwest::get(app.url("/ready")).await.unwrap();
    let (status, body) = json(res).await;
    assert_eq!(status, 503);
    assert_eq!(
        body["detail"],
        "Not ready: no storage peer is available (0 of 0 registered)"
    );
    app.stop().await;
}

#[tokio::test]
async fn cors_preflight_echoes_the_origin() {
    let (app, _dir) = spawn().await;
    let res = reqwest::Client::new()
        .request(Method::OPTIONS, app.url("/api/v4/peers"))
        .header("origin", "http://example.test")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-custom")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let h = res.headers();
    assert_eq!(h["access-control-allow-origin"], "http://example.test");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert_eq!(h["access-control-max-age"], "600");
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-custom"));
    app.stop().await;
}

async fn boom() -> &'static str {
    panic!("deliberate test panic")
}

#[tokio::test]
async fn a_panicking_handler_becomes_a_json_500() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(dir.path().to_path_buf());
    let table = RouteTable::new().route(Method::GET, "/boom", boom, ());
    let svc = http_service(
        table,
        Some("/mictlanx".into()),
        &config.cors,
        &mictlanx_router::telemetry::Metrics::new(),
    );
    let req = axum::http::Request::get("/mictlanx/boom")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], br#"{"detail":"Internal Server Error"}"#);
}

//! The documentation a user reads: `/redoc` and `/docs` need nothing from outside the router, and
//! `/openapi.json` speaks plain words (no internal numbering) with examples and documented headers.

use mictlanx_router::app::App;
use mictlanx_router::config::Config;
use serde_json::Value;

async fn spawn() -> (mictlanx_router::app::TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(dir.path().join("state"));
    (App::spawn(config).await.unwrap(), dir)
}

async fn openapi(app: &mictlanx_router::app::TestApp) -> Value {
    reqwest::get(app.url("/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every `(method, path, operation)` of the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[tokio::test]
async fn redoc_is_vendored_and_served_with_and_without_the_prefix() {
    let (app, _dir) = spawn().await;
    let c = reqwest::Client::new();
    for (page, script) in [
        ("/redoc", "/mictlanx/redoc/redoc.standalone.js"),
        ("/mictlanx/redoc", "/mictlanx/redoc/redoc.standalone.js"),
    ] {
        let res = c.get(app.url(page)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{page}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!("src=\"{script}\"")), "{html}");
        assert!(
            html.contains("spec-url=\"/mictlanx/openapi.json\""),
            "{html}"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "the page names no outside address: {html}"
        );
    }
    for path in [
        "/redoc/redoc.standalone.js",
        "/mictlanx/redoc/redoc.standalone.js",
    ] {
        let res = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/javascript"));
        let body = res.bytes().await.unwrap();
        assert!(
            body.len() > 1_000_000,
            "the real bundle: {} bytes",
            body.len()
        );
        assert!(body.starts_with(b"/*! For license information please see"));
    }
    for path in ["/redoc/LICENSE", "/redoc/redoc.standalone.js.LICENSE.txt"] {
        let res = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let text = res.text().await.unwrap();
        assert!(
            text.contains("MIT") || text.contains("license"),
            "{path}: {text}"
        );
    }
    assert!(c
        .get(app.url("/redoc/LICENSE"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains("Rebilly"));
    app.stop().await;
}

#[tokio::test]
async fn no_summary_carries_internal_numbering_and_every_operation_is_described() {
    let (app, _dir) = spawn().await;
    let doc = openapi(&app).await;
    let ops = operations(&doc);
    assert!(ops.len() >= 25, "{} operations", ops.len());
    for (method, path, op) in &ops {
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(!summary.is_empty(), "{method} {path} has a summary");
        let numbered = summary
            .as_bytes()
            .windows(2)
            .any(|w| w[0] == b'#' && w[1].is_ascii_digit());
        assert!(
            !numbered,
            "{method} {path}: summary {summary:?} has #<digit>"
        );
        assert!(
            !summary.contains(path.as_str()),
            "{method} {path}: summary {summary:?} repeats the path"
        );
        let description = op["description"].as_str().unwrap_or_default();
        assert!(
            !description
                .as_bytes()
                .windows(2)
                .any(|w| w[0] == b'#' && w[1].is_ascii_digit()),
            "{method} {path}: description has #<digit>: {description}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn headers_are_parameters_where_they_apply() {
    let (app, _dir) = spawn().await;
    let doc = openapi(&app).await;
    let header_names = |method: &str, path: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has parameters"))
            .iter()
            .filter(|p| p["in"] == "header")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "get",
            "/api/v4/buckets/{bucket_id}/{key}",
            &["Force-Get", "Chunk-Size", "Peer-Id", "Local-Peer-Id"],
        ),
        (
            "get",
            "/api/v4/buckets/{bucket_id}/{ball_id}/merge",
            &["Force-Get", "Chunk-Size", "Peer-Id"],
        ),
        (
            "get",
            "/api/v4/buckets/{bucket_id}/metadata/{key}",
            &["Consistency-Model", "Peer-Id", "Force-Get", "Chunk-Size"],
        ),
        ("post", "/api/v4/buckets/{bucket_id}/metadata", &["Update"]),
        (
            "post",
            "/api/v4/buckets/data/{task_id}/chunked",
            &["Chunk-Size"],
        ),
        ("delete", "/api/v4/buckets/{bucket_id}/{key}", &["Force"]),
        (
            "delete",
            "/api/v4/buckets/{bucket_id}/bid/{ball_id}",
            &["Force"],
        ),
    ];
    for (method, path, expected) in cases {
        let names = header_names(method, path);
        for h in *expected {
            assert!(
                names.iter().any(|n| n == h),
                "{method} {path}: header {h} in {names:?}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn bucket_endpoints_carry_request_and_response_examples() {
    let (app, _dir) = spawn().await;
    let doc = openapi(&app).await;
    let has_example = |v: &Value| -> bool {
        let media = |m: &Value| {
            m.get("example").is_some()
                || m.get("examples").is_some()
                || m["schema"].get("example").is_some()
                || m["schema"].get("examples").is_some()
        };
        v["content"]
            .as_object()
            .is_some_and(|c| c.values().any(media))
    };
    // A response example can come from the referenced schema.
    let schema_has_example = |v: &Value| -> bool {
        v["content"].as_object().is_some_and(|c| {
            c.values().any(|m| {
                let r = m["schema"]["$ref"].as_str().unwrap_or_default();
                let name = r.rsplit('/').next().unwrap_or_default();
                let s = &doc["components"]["schemas"][name];
                s.get("example").is_some() || s.get("examples").is_some()
            })
        })
    };
    for (method, path, op) in operations(&doc) {
        if !path.starts_with("/api/v4/buckets") && !path.starts_with("/api/v4/u/") {
            continue;
        }
        if op.get("requestBody").is_some() {
            let body = &op["requestBody"];
            let binary = body["content"].get("application/octet-stream").is_some()
                || body["content"].get("multipart/form-data").is_some();
            assert!(
                binary || has_example(body) || schema_has_example(body),
                "{method} {path}: request example"
            );
        }
        let ok = op["responses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(s, _)| s.starts_with('2'))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{method} {path}: a 2xx response"));
        let binary = ok["content"].get("application/octet-stream").is_some()
            || ok["content"].get("*/*").is_some();
        if ok.get("content").is_some() && !binary {
            assert!(
                has_example(&ok) || schema_has_example(&ok),
                "{method} {path}: response example in {ok}"
            );
        }
    }
    app.stop().await;
}

//! Black-box tests of the cache endpoints (#25 keys, #26 stats, #27 reset) on a real router: empty and
//! populated answers, reset, the disabled cache, the prefix, wrong methods and the cache metrics.

use bytes::Bytes;
use mictlanx_proto::model::Metadata;
use mictlanx_router::app::{App, TestApp};
use mictlanx_router::cache::BallCache;
use mictlanx_router::config::Config;
use serde_json::{json, Value};

async fn spawn(configure: impl FnOnce(&mut Config)) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_tests(dir.path().join("state"));
    configure(&mut config);
    (App::spawn(config).await.expect("router starts"), dir)
}

/// Puts `len` bytes under `combined` the way a GET tee does.
fn fill(cache: &BallCache, combined: &str, len: usize) {
    let (bucket, key) = combined.split_once('@').expect("combined key");
    let mut ticket = cache.begin_fill(combined, len as u64).expect("cacheable");
    ticket.push(&Bytes::from(vec![b'x'; len]));
    let metadata: Metadata = serde_json::from_value(
        json!({"key": key, "bucket_id": bucket, "size": len, "checksum": ""}),
    )
    .expect("metadata");
    assert!(cache.finish_fill(ticket, metadata, "application/octet-stream", "peer-0"));
}

async fn get_json(c: &reqwest::Client, url: String) -> (u16, Value) {
    let res = c.get(url).send().await.expect("request");
    let status = res.status().as_u16();
    let body = res.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&body).unwrap_or_else(|_| panic!("not JSON: {body:?}")),
    )
}

fn sorted_keys(body: &Value) -> Vec<String> {
    let mut keys: Vec<String> = serde_json::from_value(body["keys"].clone()).expect("keys array");
    keys.sort();
    keys
}

#[tokio::test]
async fn keys_stats_and_reset_over_http() {
    let (app, _dir) = spawn(|c| {
        c.cache.capacity_bytes = 10_000;
        c.cache.capacity_entries = 10;
        c.cache.max_object_size = 2_000;
    })
    .await;
    let c = reqwest::Client::new();

    assert_eq!(
        get_json(&c, app.url("/api/v4/cache")).await,
        (200, json!({"keys": []}))
    );
    let (status, body) = get_json(&c, app.url("/api/v4/cache/stats")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"total": 10_000, "used": 0, "available": 10_000, "uf": 0.0})
        )
    );

    fill(&app.state.cache, "b1@k1", 1_000);
    fill(&app.state.cache, "b2@k2", 1_500);
    let (status, body) = get_json(&c, app.url("/api/v4/cache")).await;
    assert_eq!(status, 200);
    assert_eq!(sorted_keys(&body), vec!["b1@k1", "b2@k2"]);
    let (_, body) = get_json(&c, app.url("/mictlanx/api/v4/cache/stats")).await;
    assert_eq!(
        body,
        json!({"total": 10_000, "used": 2_500, "available": 7_500, "uf": 0.25})
    );

    let res = c
        .delete(app.url("/api/v4/cache/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(res.status().as_u16(), 204);
    assert!(res.bytes().await.expect("body").is_empty());
    assert_eq!(
        get_json(&c, app.url("/api/v4/cache")).await,
        (200, json!({"keys": []}))
    );
    let (_, body) = get_json(&c, app.url("/api/v4/cache/stats")).await;
    assert_eq!(body["used"], 0);
    assert!(app.state.cache.get("b1@k1").is_none());
    app.stop().await;
}

#[tokio::test]
async fn disabled_cache_lists_nothing_and_reports_zeros() {
    let (app, _dir) = spawn(|c| c.cache.enabled = false).await;
    let c = reqwest::Client::new();
    assert!(app.state.cache.begin_fill("b@k", 1).is_none());
    assert_eq!(
        get_json(&c, app.url("/api/v4/cache")).await,
        (200, json!({"keys": []}))
    );
    let res = c
        .get(app.url("/api/v4/cache/stats"))
        .send()
        .await
        .expect("stats");
    assert_eq!(res.status().as_u16(), 200);
    // `uf` must be the float 0.0, not the integer 0.
    assert_eq!(
        res.text().await.expect("text"),
        r#"{"total":0,"used":0,"available":0,"uf":0.0}"#
    );
    let res = c
        .delete(app.url("/api/v4/cache/reset"))
        .send()
        .await
        .expect("reset");
    assert_eq!(res.status().as_u16(), 204);
    app.stop().await;
}

#[tokio::test]
async fn wrong_methods_are_405_with_allow() {
    let (app, _dir) = spawn(|_| {}).await;
    let c = reqwest::Client::new();
    let res = c
        .get(app.url("/api/v4/cache/reset"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(res.headers()["allow"], "DELETE");
    let res = c
        .delete(app.url("/api/v4/cache"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status().as_u16(), 405);
    assert_eq!(res.headers()["allow"], "GET");
    app.stop().await;
}

/// The value of an unlabelled series in Prometheus text.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn cache_metrics_are_exported() {
    // Two entry slots: the third fill evicts one entry (a size eviction).
    let (app, _dir) = spawn(|c| {
        c.cache.capacity_entries = 2;
        c.cache.capacity_bytes = 1_000;
        c.cache.max_object_size = 500;
    })
    .await;
    let c = reqwest::Client::new();
    for key in ["b@m1", "b@m2", "b@m3"] {
        fill(&app.state.cache, key, 10);
    }
    let resident = app.state.cache.keys().len();
    assert_eq!(resident, 2);
    assert!(app.state.cache.get("b@m3").is_some());
    assert!(app.state.cache.get("b@absent").is_none());
    let text = c
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    // Lower bounds: the three fills above are what this router counted, whatever else it records.
    for name in [
        "mictlanx_router_cache_hits_total",
        "mictlanx_router_cache_misses_total",
        "mictlanx_router_cache_evictions_total",
    ] {
        let value = series(&text, name).unwrap_or_else(|| panic!("{name} missing from /metrics"));
        assert!(value >= 1.0, "{name} = {value}");
    }
    for name in [
        "mictlanx_router_cache_used_bytes",
        "mictlanx_router_cache_entries",
    ] {
        assert!(
            series(&text, name).is_some(),
            "{name} missing from /metrics"
        );
    }
    app.stop().await;
}

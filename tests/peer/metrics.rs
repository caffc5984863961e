//! The peer's `GET /metrics` (`docs/peer-api.md` §9–§14): every fixed series exported at 0 from the
//! start, counters that follow the traffic (requests by route template and status class, object bytes in
//! and out, checksum mismatches by stage, quarantines), gauges at scrape time, never behind the token, and
//! a recorder of its own (the process-global one stays the router's).

use mictlanx_peer::auth::PeerToken;
use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::*;
use serde_json::json;

async fn scrape(c: &reqwest::Client, peer: &PeerServer) -> String {
    let res = c
        .get(format!("{}/metrics", peer.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain; version=0.0.4");
    res.text().await.unwrap()
}

/// The value of the sample `series` (name with its labels, as rendered).
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample {series} in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

fn requests(route: &str, method: &str, class: &str) -> String {
    format!("mictlanx_peer_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{class}\"}}")
}

#[tokio::test]
async fn every_series_is_exported_before_its_first_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = peer_config("p-m0", dir.path());
    cfg.disk_capacity = 123_456;
    cfg.token = PeerToken::new("t0k");
    cfg.token_reads = true;
    let peer = spawn_peer_with(cfg).await;
    // never behind the token, even with reads protected
    let text = scrape(&http_client(), &peer).await;
    for series in [
        "mictlanx_peer_bytes_in_total",
        "mictlanx_peer_bytes_out_total",
        "mictlanx_peer_objects",
        "mictlanx_peer_disk_used_bytes",
        "mictlanx_peer_pending_tasks",
        "mictlanx_peer_quarantined_objects",
        "mictlanx_peer_scrub_bytes_total",
        "mictlanx_peer_checksum_mismatches_total{stage=\"upload\"}",
        "mictlanx_peer_checksum_mismatches_total{stage=\"serve\"}",
        "mictlanx_peer_checksum_mismatches_total{stage=\"scrub\"}",
        "mictlanx_peer_scrub_objects_total{result=\"ok\"}",
        "mictlanx_peer_scrub_objects_total{result=\"quarantined\"}",
    ] {
        assert_eq!(value(&text, series), 0.0, "{series}");
    }
    assert_eq!(value(&text, "mictlanx_peer_disk_total_bytes"), 123_456.0);
    for (route, method) in [
        ("/api/v4/buckets/{bucket_id}/{key}", "GET"),
        ("/api/v4/buckets/{bucket_id}/{key}", "DELETE"),
        ("/api/v4/buckets/data/{task_id}/chunked", "POST"),
        ("/api/v4/buckets/{bucket_id}/metadata", "POST"),
        ("(unmatched)", "GET"),
    ] {
        for class in ["2xx", "3xx", "4xx", "5xx"] {
            assert_eq!(value(&text, &requests(route, method, class)), 0.0);
        }
        let count = format!(
            "mictlanx_peer_http_request_duration_seconds_count{{route=\"{route}\",method=\"{method}\"}}"
        );
        assert!(text.contains(&count), "{count}");
    }
    assert!(text.contains("# TYPE mictlanx_peer_http_request_duration_seconds histogram"));
    peer.shutdown().await;
}

#[tokio::test]
async fn counters_follow_the_traffic_and_gauges_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-m1", dir.path()).await;
    let c = http_client();
    let size = 300_000u64;
    let task = put_metadata(&c, &peer, "b", "k", size).await;
    let body = reqwest::Body::wrap_stream(object_stream(1, size));
    assert_eq!(upload_chunked(&c, &peer, &task, body).await.status(), 201);
    assert_eq!(get_object_sha(&c, &peer, "b", "k").await.2, size);
    let res = c
        .get(format!("{}/api/v4/buckets/b/k", peer.base_url()))
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().len(), 100);
    assert_eq!(get_object_sha(&c, &peer, "b", "nope").await.0, 404);
    assert_eq!(get_json(&c, &peer, "/no/such/route").await.0, 404);
    // a declared digest that does not match
    let bad = json!({"key": "x", "size": 3, "checksum": "0".repeat(64), "producer_id": "p"});
    let res = put_metadata_raw(&c, &peer, "b", bad, &[]).await;
    let t = res.json::<serde_json::Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(upload_chunked(&c, &peer, &t, "abc").await.status(), 400);
    let _pending = put_metadata(&c, &peer, "b", "later", 1).await;

    let text = scrape(&c, &peer).await;
    assert_eq!(
        value(&text, "mictlanx_peer_bytes_in_total"),
        (size + 3) as f64
    );
    assert_eq!(
        value(&text, "mictlanx_peer_bytes_out_total"),
        (size + 100) as f64
    );
    let data = "/api/v4/buckets/{bucket_id}/{key}";
    assert_eq!(value(&text, &requests(data, "GET", "2xx")), 2.0);
    assert_eq!(value(&text, &requests(data, "GET", "4xx")), 1.0);
    assert_eq!(
        value(
            &text,
            &requests("/api/v4/buckets/data/{task_id}/chunked", "POST", "2xx")
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            &requests("/api/v4/buckets/data/{task_id}/chunked", "POST", "4xx")
        ),
        1.0
    );
    assert_eq!(value(&text, &requests("(unmatched)", "GET", "4xx")), 1.0);
    assert_eq!(
        value(
            &text,
            "mictlanx_peer_checksum_mismatches_total{stage=\"upload\"}"
        ),
        1.0
    );
    assert_eq!(value(&text, "mictlanx_peer_objects"), 1.0);
    assert_eq!(value(&text, "mictlanx_peer_disk_used_bytes"), size as f64);
    assert_eq!(
        value(&text, "mictlanx_peer_pending_tasks"),
        2.0,
        "the refused task and `later`"
    );
    let count = format!(
        "mictlanx_peer_http_request_duration_seconds_count{{route=\"{data}\",method=\"GET\"}}"
    );
    assert_eq!(value(&text, &count), 3.0);
    peer.shutdown().await;
}

#[tokio::test]
async fn the_peer_never_records_into_the_global_recorder() {
    // a process-global recorder (none is installed by the router or the peer) must stay empty of peer series
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let global = recorder.handle();
    let _ = metrics::set_global_recorder(recorder);
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-m2", dir.path()).await;
    let c = http_client();
    let task = put_metadata(&c, &peer, "b", "k", 2).await;
    assert_eq!(upload_chunked(&c, &peer, &task, "hi").await.status(), 201);
    assert_eq!(get_object_sha(&c, &peer, "b", "k").await.2, 2);
    assert!(scrape(&c, &peer)
        .await
        .contains("mictlanx_peer_bytes_in_total 2"));
    assert!(
        !global.render().contains("mictlanx_peer_"),
        "peer series leaked into the global recorder"
    );
    peer.shutdown().await;
}

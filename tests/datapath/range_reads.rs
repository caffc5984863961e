//! Client `Range` GETs on the router (RFC 9110, single range): from the cache on a hit, else a ranged peer
//! request; 206 with `Content-Range`, 416 with `bytes */size`, a multi-range or malformed header ignored
//! (200 with everything), `Accept-Ranges: bytes` on 200s; a ranged read never fills the cache. Also: the
//! tail-latency metrics exist before their first event.

use mictlanx_testkit::datapath::{detail, object, start, Cluster};

async fn ranged(c: &Cluster, key: &str, range: &str, forced: bool) -> reqwest::Response {
    let mut req = c
        .http
        .get(c.url(&format!("/api/v4/buckets/rr/{key}")))
        .header("Range", range);
    if forced {
        req = req.header("Force-Get", "1");
    }
    req.send().await.expect("get")
}

async fn cache_hits(c: &Cluster) -> f64 {
    let text = c.metrics().await;
    text.lines()
        .filter(|l| l.starts_with("mictlanx_router_cache_hits_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// One GET per case, on a cache hit (`forced = false` after a fill) or a peer read.
async fn check_ranges(c: &Cluster, key: &str, bytes: &[u8], forced: bool) {
    let size = bytes.len();
    for (range, first, last) in [
        ("bytes=0-0", 0, 0),
        ("bytes=10-99", 10, 99),
        ("bytes=1000-", 1000, size - 1),
        ("bytes=-77", size - 77, size - 1),
        ("bytes=5000-99999999", 5000, size - 1),
    ] {
        let res = ranged(c, key, range, forced).await;
        assert_eq!(res.status(), 206, "{range} forced={forced}");
        let h = res.headers().clone();
        assert_eq!(
            h["content-range"],
            format!("bytes {first}-{last}/{size}").as_str(),
            "{range}"
        );
        assert_eq!(h["accept-ranges"], "bytes");
        assert_eq!(h["content-length"], (last - first + 1).to_string().as_str());
        let body = res.bytes().await.expect("body");
        assert_eq!(&body[..], &bytes[first..=last], "{range} forced={forced}");
    }
    for range in [format!("bytes={size}-"), "bytes=-0".to_string()] {
        let res = ranged(c, key, &range, forced).await;
        assert_eq!(res.status(), 416, "{range}");
        assert_eq!(
            res.headers()["content-range"],
            format!("bytes */{size}").as_str()
        );
        assert_eq!(
            detail(res).await,
            format!("Range not satisfiable: rr@{key} has {size} bytes").as_str()
        );
    }
    for ignored in ["bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=x-"] {
        let res = ranged(c, key, ignored, forced).await;
        assert_eq!(res.status(), 200, "{ignored} is ignored");
        assert_eq!(res.headers()["accept-ranges"], "bytes");
        assert_eq!(&res.bytes().await.expect("body")[..], bytes);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_ranges_from_peers_and_from_the_cache() {
    let c = start(3, |_| {}).await;
    let bytes = object(3, 200_000);
    c.put("rr", "obj", &bytes, 2).await;
    // Forced: every range is a ranged peer request, and none of them fills the cache.
    check_ranges(&c, "obj", &bytes, true).await;
    let keys: serde_json::Value = c.get("/api/v4/cache").await.json().await.expect("keys");
    assert!(
        !keys.to_string().contains("rr@obj"),
        "a ranged read filled the cache: {keys}"
    );
    // A whole read fills it; then ranges are cut from the entry.
    let res = c.get("/api/v4/buckets/rr/obj").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["accept-ranges"], "bytes");
    assert_eq!(&res.bytes().await.expect("body")[..], &bytes[..]);
    let keys: serde_json::Value = c.get("/api/v4/cache").await.json().await.expect("keys");
    assert!(keys.to_string().contains("rr@obj"), "{keys}");
    let hits_before = cache_hits(&c).await;
    check_ranges(&c, "obj", &bytes, false).await;
    assert!(
        cache_hits(&c).await - hits_before >= 11.0,
        "every ranged GET was a hit"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_with_the_cache_off_and_an_attachment_name() {
    let c = start(2, |cfg| cfg.cache.enabled = false).await;
    let bytes = object(4, 70_000);
    c.put("rr", "plain", &bytes, 1).await;
    check_ranges(&c, "plain", &bytes, false).await;
    let res = c
        .http
        .get(c.url("/api/v4/buckets/rr/plain?attachment=true&filename=x.bin"))
        .header("Range", "bytes=100-199")
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"x.bin\""
    );
    assert_eq!(&res.bytes().await.expect("body")[..], &bytes[100..200]);
    // An empty object has no satisfiable range.
    c.put("rr", "empty", b"", 1).await;
    let res = ranged(&c, "empty", "bytes=0-", false).await;
    assert_eq!(res.status(), 416);
    assert_eq!(res.headers()["content-range"], "bytes */0");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_latency_metrics_are_exported_before_their_first_event() {
    let c = start(1, |_| {}).await;
    let text = c.metrics().await;
    for series in [
        "mictlanx_router_hedges_total{kind=\"get\"}",
        "mictlanx_router_hedges_total{kind=\"merge\"}",
        "mictlanx_router_hedges_total{kind=\"metadata\"}",
        "mictlanx_router_hedges_won_total{kind=\"get\"}",
        "mictlanx_router_hedges_won_total{kind=\"merge\"}",
        "mictlanx_router_hedges_won_total{kind=\"metadata\"}",
        "mictlanx_router_read_failovers_total{stage=\"before_first_byte\"}",
        "mictlanx_router_read_failovers_total{stage=\"mid_stream\"}",
        "mictlanx_router_straggler_drops_total",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(series)),
            "{series} missing from /metrics"
        );
    }
    c.stop().await;
}

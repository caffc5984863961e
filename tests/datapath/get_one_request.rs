//! A cache-on GET miss makes one peer request: the peer's data answer carries the metadata the
//! fill needs (`Mictlanx-Metadata`). A peer answer without it (metadata over the header's 16 KiB cap) falls
//! back to the metadata route and the GET is still whole and correct. The counts are the router's own (each
//! `App` owns its metrics recorder), so other tests of the binary do not add to them.

use mictlanx_testkit::datapath::{object, start, Cluster};
use serde_json::json;

const B: &str = "one";

/// The sum of every sample of `name` whose labels contain `labels` (all of `name` when empty).
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

struct Counts {
    peer_calls: f64,
    from_header: f64,
    from_route: f64,
}

async fn counts(c: &Cluster) -> Counts {
    let text = c.metrics().await;
    Counts {
        peer_calls: metric(&text, "mictlanx_router_peer_requests_total", ""),
        from_header: metric(
            &text,
            "mictlanx_router_data_metadata_reads_total",
            "metadata=\"header\"",
        ),
        from_route: metric(
            &text,
            "mictlanx_router_data_metadata_reads_total",
            "metadata=\"route\"",
        ),
    }
}

async fn put_with_tags(c: &Cluster, key: &str, bytes: &[u8], tags: serde_json::Value) {
    let meta = c.put_metadata(B, key, bytes, 1, tags).await;
    let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
    let res = c.put_chunked_raw(&task, bytes.to_vec()).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_on_miss_is_one_peer_request_with_a_fallback_for_answers_without_metadata() {
    // One peer and slow probes: no background call lands between two readings of the counters.
    let c = start(1, |cfg| {
        cfg.replica.health_interval = std::time::Duration::from_secs(600);
    })
    .await;
    let bytes = object(7, 5000);
    put_with_tags(&c, "small", &bytes, json!({"fullname": "small.bin"})).await;

    let before = counts(&c).await;
    let res = c
        .http
        .get(c.url(&format!("/api/v4/buckets/{B}/small?attachment=true")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"small.bin\"",
        "the name came from the header's metadata"
    );
    assert!(res.bytes().await.unwrap() == bytes);
    let after = counts(&c).await;
    assert_eq!(
        after.peer_calls - before.peer_calls,
        1.0,
        "one peer request"
    );
    assert_eq!(after.from_header - before.from_header, 1.0);
    assert_eq!(after.from_route - before.from_route, 0.0);
    // The fill landed: the bytes and the metadata now come from the cache, no peer request at all.
    let before = counts(&c).await;
    let res = c.get(&format!("/api/v4/buckets/{B}/small")).await;
    assert!(res.bytes().await.unwrap() == bytes);
    let res = c.get(&format!("/api/v4/buckets/{B}/metadata/small")).await;
    assert_eq!(res.status(), 200);
    let after = counts(&c).await;
    assert_eq!(
        after.peer_calls - before.peer_calls,
        0.0,
        "both from the cache"
    );

    // Tags past the header's 16 KiB cap: the peer omits the header, the router asks the route too.
    let big_tag = "x".repeat(20 * 1024);
    put_with_tags(
        &c,
        "big-tags",
        &bytes,
        json!({"fullname": "big.bin", "pad": big_tag}),
    )
    .await;
    let before = counts(&c).await;
    let res = c
        .http
        .get(c.url(&format!("/api/v4/buckets/{B}/big-tags?attachment=true")))
        .header("Force-Get", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"big.bin\""
    );
    assert!(res.bytes().await.unwrap() == bytes);
    let after = counts(&c).await;
    assert_eq!(
        after.peer_calls - before.peer_calls,
        2.0,
        "data, then the metadata route"
    );
    assert_eq!(after.from_route - before.from_route, 1.0);
    c.stop().await;
}

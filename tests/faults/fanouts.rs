//! Fan-outs to every peer while one stalls or dies, with real `mictlanx-peer` processes. Invariants:
//! bounded time with an honest status (a stalled peer costs the fan-out deadline, 2 s, never the 30 s
//! peer timeout), a delete holds (the stalled holder's copy is never served once it runs again), and the
//! health loop marks a stalled peer unavailable within two probe intervals.

use std::time::{Duration, Instant};

use mictlanx_testkit::faults::{self, serial};
use mictlanx_testkit::Cluster;
use serde_json::Value;

const BOUND: Duration = Duration::from_secs(3);

async fn timed_get(c: &Cluster, path: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let res = c.http.get(c.url(path)).send().await.expect("get");
    let status = res.status().as_u16();
    let v = res.json().await.unwrap_or(Value::Null);
    (status, v, started.elapsed())
}

/// Chunk `i` of the ball `ball` (key `ball_{i}`, 1000 bytes, rf 2).
async fn put_chunk(c: &Cluster, i: u64) {
    let body = serde_json::json!({
        "bucket_id": "ff", "key": format!("ball_{i}"), "ball_id": "ball", "checksum": "-", "size": 1000,
        "producer_id": "test", "content_type": "application/octet-stream",
        "tags": {"index": i.to_string(), "num_chunks": "2"}, "replication_factor": 2,
    });
    let res = c
        .http
        .post(c.url("/api/v4/buckets/ff/metadata"))
        .json(&body)
        .send()
        .await
        .expect("phase 1");
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.expect("json");
    let group = v["tasks_ids"][0].as_str().expect("group").to_string();
    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/data/{group}/chunked")))
        .body(vec![i as u8; 1000])
        .send()
        .await
        .expect("phase 2");
    assert_eq!(res.status().as_u16(), 200);
}

fn keys(listing: &Value) -> Vec<String> {
    let mut keys: Vec<String> = listing["balls"]
        .as_array()
        .expect("balls")
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_string())
        .collect();
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_size_and_stats_answer_within_the_deadline_with_one_peer_stalled() {
    let _serial = serial().await;
    let c = faults::start(3, |_| {}).await;
    for (i, key) in ["a", "b", "c"].iter().enumerate() {
        c.put_seeded("ff", key, 4096, 2, i as u64).await;
    }
    for i in 0..2u64 {
        put_chunk(&c, i).await;
    }
    let stalled = c.ids[0].clone();
    c.signal(&stalled, "STOP");

    let (status, listing, took) = timed_get(&c, "/api/v4/buckets/ff/metadata").await;
    println!("bucket listing with {stalled} stopped: {took:?}");
    assert_eq!(status, 200);
    assert!(took < BOUND, "listing took {took:?}");
    // rf 2 on three peers: every object has a copy on a live peer.
    assert_eq!(keys(&listing), ["a", "b", "ball_0", "ball_1", "c"]);
    let pid = c.peers[c.index(&stalled)].pid();
    assert!(
        !listing["peer_ids"].to_string().contains(&stalled),
        "{listing}; {stalled} (port {}, pid {pid}) stat: {:?}",
        c.ports[c.index(&stalled)],
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
    );

    let (status, chunks, took) = timed_get(&c, "/api/v4/buckets/ff/metadata/ball/chunks").await;
    assert_eq!(status, 200, "{chunks}");
    assert!(took < BOUND, "chunks took {took:?}");
    assert_eq!(chunks["chunks"].as_array().unwrap().len(), 2);

    for key in ["a", "b", "c"] {
        let (status, sizes, took) = timed_get(&c, &format!("/api/v4/buckets/ff/{key}/size")).await;
        assert_eq!(status, 200);
        assert!(took < BOUND, "size took {took:?}");
        for s in sizes.as_array().expect("sizes") {
            assert_eq!(s["size"], 4096);
            assert_ne!(s["peer_id"], stalled.as_str());
        }
    }

    let (status, stats, took) = timed_get(&c, "/api/v4/peers/stats").await;
    assert_eq!(status, 200);
    assert!(took < BOUND, "stats took {took:?}");
    assert!(stats.get(&stalled).is_none(), "{stats}");
    assert_eq!(stats.as_object().unwrap().len(), 2, "{stats}");
    c.signal(&stalled, "CONT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_with_a_stalled_holder_answers_in_time_and_holds() {
    let _serial = serial().await;
    let c = faults::start(3, |_| {}).await;
    c.put_seeded("ff", "doomed", 64 * 1024, 3, 20).await;
    let stalled = c.ids[1].clone();
    c.signal(&stalled, "STOP");
    let started = Instant::now();
    let res = c
        .http
        .delete(c.url("/api/v4/buckets/ff/doomed"))
        .send()
        .await
        .expect("delete");
    let took = started.elapsed();
    println!("DELETE with {stalled} stopped: {took:?}");
    assert_eq!(res.status().as_u16(), 200);
    assert!(took < BOUND, "delete took {took:?}");
    let v: Value = res.json().await.expect("json");
    assert_eq!(v["n_deletes"], 2, "the two live holders deleted: {v}");

    // The stalled holder kept its copy (and a tombstone); running again, its copy is never served.
    c.signal(&stalled, "CONT");
    for _ in 0..5 {
        assert_eq!(
            c.get_object("ff", "doomed", &[]).await.status().as_u16(),
            404
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_killed_during_a_listing_costs_nothing() {
    let _serial = serial().await;
    let mut c = faults::start(3, |_| {}).await;
    c.put_seeded("ff", "k", 1024, 3, 30).await;
    c.peers[2].signal("KILL");
    let _ = c.peers[2].wait_exit(Duration::from_secs(10)).await;
    let (status, listing, took) = timed_get(&c, "/api/v4/buckets/ff/metadata").await;
    assert_eq!(status, 200);
    assert!(took < BOUND, "listing took {took:?}");
    assert_eq!(keys(&listing), ["k"]);
    let started = Instant::now();
    let res = c
        .http
        .delete(c.url("/api/v4/buckets/ff/k"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status().as_u16(), 200);
    assert!(started.elapsed() < BOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_loop_marks_a_stalled_peer_unavailable_within_two_intervals() {
    let _serial = serial().await;
    let interval = Duration::from_secs(1);
    // As with the defaults (5 s, 3 s), the probe timeout is below the interval.
    let c = faults::start(3, |cfg| {
        cfg.replica.health_interval = interval;
        cfg.replica.health_timeout = Duration::from_millis(600);
    })
    .await;
    let stalled = c.ids[2].clone();
    c.signal(&stalled, "STOP");
    let started = Instant::now();
    while c.available().await.contains(&stalled) {
        assert!(
            started.elapsed() < 4 * interval,
            "{stalled} still available after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    println!("stalled peer unavailable after {took:?} (probe interval {interval:?})");
    assert!(took <= 2 * interval, "took {took:?}");
    c.signal(&stalled, "CONT");
    let started = Instant::now();
    while !c.available().await.contains(&stalled) {
        assert!(started.elapsed() < Duration::from_secs(10), "never back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

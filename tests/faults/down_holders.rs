//! Answers that must stay honest while peers are down, with real `mictlanx-peer` processes (SIGSTOP /
//! SIGKILL). Invariants: an object whose current holders are all down is "unavailable" (503 with
//! `Retry-After`), never "not found"; phase 1 of a PUT costs at most the fan-out deadline when a chosen peer
//! stalled a moment ago; whether an overwrite is accepted never depends on a peer that holds nothing.

use std::time::{Duration, Instant};

use mictlanx_testkit::client::{detail, dto};
use mictlanx_testkit::faults::{self, serial};
use mictlanx_testkit::Cluster;
use serde_json::{json, Value};

/// Wait until the in-process router counts `n` available peers (a short health interval notices a stop).
async fn wait_live(c: &Cluster, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.available().await.len() != n {
        assert!(Instant::now() < deadline, "never {n} available peers");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The peer ids listed under `field`, sorted.
fn replicas_of(v: &Value, field: &str) -> Vec<String> {
    let mut ids: Vec<String> = v[field]
        .as_array()
        .expect("replicas")
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_current_holders_are_all_stopped_is_unavailable_never_404() {
    let _serial = serial().await;
    let c = faults::start(4, |cfg| {
        cfg.replica.health_interval = Duration::from_millis(200);
        cfg.replica.health_timeout = Duration::from_millis(500);
    })
    .await;
    // rf 1 on X; with X stopped, an rf-1 overwrite goes to another peer Y: X keeps a stale copy (until its
    // cleanup runs), and the record names Y as the only holder of the current version. rf 1 throughout,
    // so repair makes no other copy.
    let v = c.put("fu", "k", &[1u8; 1000], 1).await;
    let first = replicas_of(&v, "peer_ids");
    assert_eq!(first.len(), 1);
    c.signal(&first[0], "STOP");
    wait_live(&c, 3).await;
    let v = c.put("fu", "k", &[2u8; 1000], 1).await;
    let second = replicas_of(&v, "peer_ids");
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    c.signal(&first[0], "CONT");
    wait_live(&c, 4).await;
    let current = second[0].clone();
    assert_eq!(
        c.read_order("fu", "k").await,
        std::slice::from_ref(&current)
    );
    c.signal(&current, "STOP");
    wait_live(&c, 3).await;

    for forced in ["0", "1"] {
        let res = c.get_object("fu", "k", &[("Force-Get", forced)]).await;
        let status = res.status();
        let retry = res.headers().get("retry-after").is_some();
        let text = res.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice::<Value>(&text)
            .map(|v| v["detail"].clone())
            .unwrap_or_else(|_| json!(format!("{} bytes, first {:?}", text.len(), text.first())));
        assert_eq!(status, 503, "Force-Get {forced}: {body}");
        assert!(retry, "503 carries Retry-After");
        assert!(
            body.as_str().unwrap_or("").contains("unavailable"),
            "{body}"
        );
    }
    let (status, body) = c.get_metadata("fu", "k").await;
    assert_eq!(status, 503, "metadata: {body}");
    // A read pinned to the stopped holder is unavailable too.
    let res = c
        .get_object("fu", "k", &[("Peer-Id", current.as_str())])
        .await;
    assert_eq!(res.status(), 503);
    // The stale copies were never served, and the object is back once its holder is.
    c.signal(&current, "CONT");
    wait_live(&c, 4).await;
    assert_eq!(c.get_bytes("fu", "k").await, vec![2u8; 1000]);
    // An object nobody ever wrote is still "not found".
    let res = c.get_object("fu", "never-written", &[]).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phase_1_on_a_peer_stopped_a_moment_earlier_answers_within_the_fanout_deadline() {
    let _serial = serial().await;
    // A long health interval: the stopped peer stays "available", so placement picks it.
    let c = faults::start(3, |cfg| {
        cfg.peer_io.fanout_deadline = Duration::from_secs(1);
    })
    .await;
    let stopped = c.ids[0].clone();
    c.signal(&stopped, "STOP");
    let started = Instant::now();
    let res = c
        .put_metadata_raw("fp", dto("fp", "k", "k", 1000, 3, json!({})))
        .await;
    let took = started.elapsed();
    c.signal(&stopped, "CONT");
    println!("phase 1 with a stopped peer in the write set: {took:?}");
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    let mut others: Vec<String> = c.ids[1..].to_vec();
    others.sort();
    assert_eq!(
        replicas_of(&v, "replicas"),
        others,
        "the stopped peer is a failed replica"
    );
    // The fan-out deadline is 1 s; the peer timeout (10 s) must not be what bounds it.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    let failures = c
        .metric(
            "mictlanx_router_replica_write_failures_total",
            "phase=\"metadata\"",
        )
        .await;
    assert!(failures >= 1.0, "the stalled peer counted as a failure");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_does_not_depend_on_a_down_peer_that_holds_nothing() {
    let _serial = serial().await;
    let mut c = faults::start(4, |cfg| {
        cfg.replica.health_interval = Duration::from_millis(200);
        cfg.replica.health_timeout = Duration::from_millis(500);
    })
    .await;
    let v = c.put("fo", "k", &[1u8; 1000], 3).await;
    let holders = replicas_of(&v, "peer_ids");
    assert_eq!(holders.len(), 3);
    let spare = c
        .ids
        .iter()
        .find(|id| !holders.contains(id))
        .unwrap()
        .clone();
    let i = c.index(&spare);
    c.kill(i).await;
    wait_live(&c, 3).await;
    // With the fourth peer down, the overwrite goes to the three live holders, as it would with it up.
    let res = c
        .put_metadata_raw("fo", dto("fo", "k", "k", 1000, 3, json!({})))
        .await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let v: Value = res.json().await.unwrap();
    assert_eq!(replicas_of(&v, "replicas"), holders);
    c.restart(i).await;
    wait_live(&c, 4).await;
    let res = c
        .put_metadata_raw("fo", dto("fo", "k", "k", 1000, 3, json!({})))
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(
        replicas_of(&v, "replicas"),
        holders,
        "the same write set with the peer up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_registered_peer_holds_the_key_the_answer_stays_code_666() {
    let _serial = serial().await;
    let mut c = faults::start(3, |cfg| {
        cfg.replica.health_interval = Duration::from_millis(200);
        cfg.replica.health_timeout = Duration::from_millis(500);
    })
    .await;
    c.put("f6", "k", &[1u8; 100], 3).await;
    // One holder down: every registered peer still holds the key, so the answer is the client's 666.
    c.kill(0).await;
    wait_live(&c, 2).await;
    let res = c
        .put_metadata_raw("f6", dto("f6", "k", "k", 100, 3, json!({})))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await["code"], 666);
}

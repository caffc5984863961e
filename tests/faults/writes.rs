//! Uploads while replicas stall or die, with real `mictlanx-peer` processes (SIGSTOP / SIGKILL).
//! Invariants: a stalled replica costs the straggler timeout once, not the idle timeout; the 200 lists only
//! the replicas that stored the bytes, and each of them serves exactly those bytes (no acknowledged write
//! lost); a dropped replica keeps no partial object; below the write quorum the answer is a 502 that
//! records nothing and leaves the group for a retry.

use std::time::{Duration, Instant};

use mictlanx_router::config::WriteQuorum;
use mictlanx_testkit::faults::{self, expected_sha, object_stream_with_hook, serial, MIB};
use mictlanx_testkit::peer::object_stream;
use mictlanx_testkit::Cluster;
use serde_json::Value;

fn listed(v: &Value) -> Vec<String> {
    let mut ids: Vec<String> = v["peer_ids"]
        .as_array()
        .expect("peer_ids")
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The write set phase 1 would pick for an rf-3 object among three peers: all of them.
fn all_but(c: &Cluster, peer_id: &str) -> Vec<String> {
    let mut ids: Vec<String> = c.ids.iter().filter(|p| *p != peer_id).cloned().collect();
    ids.sort();
    ids
}

/// Every replica in `holders` serves exactly the object (`Peer-Id` pins the read to it).
async fn each_holder_serves(c: &Cluster, key: &str, holders: &[String], sha: &str, size: u64) {
    for h in holders {
        let (status, got, n) = c.get_sha("fw", key, &[("Peer-Id", h)]).await;
        assert_eq!(
            (status, got.as_str(), n),
            (200, sha, size),
            "read back from {h}"
        );
    }
}

/// `GET` directly on a peer: its own copy's status.
async fn direct_status(c: &Cluster, peer_id: &str, key: &str) -> u16 {
    let port = c.ports[c.index(peer_id)];
    c.http
        .get(format!("http://127.0.0.1:{port}/api/v4/buckets/fw/{key}"))
        .send()
        .await
        .expect("direct get")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_stalled_at_100_mib_of_300_is_dropped_and_the_upload_finishes_on_two() {
    let _serial = serial().await;
    let size = 300 * MIB;
    let c = faults::start(3, |cfg| cfg.cache.enabled = false).await;
    let started = Instant::now();
    c.put_seeded("fw", "normal", size, 3, 10).await;
    let normal = started.elapsed();
    let drops = c.metric("mictlanx_router_straggler_drops_total", "").await;

    let stalled = c.ids[1].clone();
    let pid = c.peers[1].pid();
    let body = object_stream_with_hook(11, size, 100 * MIB, move || {
        let ok = std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status();
        assert!(ok.expect("kill runs").success());
    });
    let started = Instant::now();
    let (status, v) = c.put_stream("fw", "straggled", size, 3, body).await;
    let took = started.elapsed();
    println!("300 MiB rf 3: {normal:?} normally, {took:?} with one replica stopped at 100 MiB");
    assert_eq!(status, 200, "{v}");
    assert_eq!(listed(&v), all_but(&c, &stalled), "{v}");
    assert_eq!(v["size"], size);
    let straggler = Duration::from_secs(2);
    assert!(
        took < normal + straggler + Duration::from_secs(5),
        "took {took:?}, normally {normal:?}"
    );
    let counted = c.metric("mictlanx_router_straggler_drops_total", "").await;
    assert!(counted - drops >= 1.0, "the drop is counted");

    let sha = expected_sha(11, size).await;
    each_holder_serves(&c, "straggled", &all_but(&c, &stalled), &sha, size).await;
    let holders = c.app().state.rm.get_replicas("fw", "straggled").await;
    assert_eq!(holders.expect("replicas").replicas.len(), 2);
    // Once it runs again, the dropped replica holds no partial object.
    c.signal(&stalled, "CONT");
    let mut status = 0;
    for _ in 0..100 {
        status = direct_status(&c, &stalled, "straggled").await;
        if status == 404 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status, 404,
        "the stalled replica discarded its partial upload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_upload_leaves_the_others_storing() {
    let _serial = serial().await;
    let size = 64 * MIB;
    let mut c = faults::start(3, |_| {}).await;
    let killed = c.ids[2].clone();
    let pid = c.peers[2].pid();
    let body = object_stream_with_hook(12, size, 16 * MIB, move || {
        let ok = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        assert!(ok.expect("kill runs").success());
    });
    let started = Instant::now();
    let (status, v) = c.put_stream("fw", "killed", size, 3, body).await;
    assert_eq!(status, 200, "{v}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(listed(&v), all_but(&c, &killed), "{v}");
    let _ = c.peers[2].wait_exit(Duration::from_secs(10)).await;
    let sha = expected_sha(12, size).await;
    each_holder_serves(&c, "killed", &all_but(&c, &killed), &sha, size).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn below_the_write_quorum_the_answer_is_502_and_nothing_is_recorded() {
    let _serial = serial().await;
    let size = 2 * MIB;
    let c = faults::start(3, |cfg| cfg.tail.write_quorum = WriteQuorum::All).await;
    let stalled = c.ids[0].clone();
    let group = mictlanx_testkit::process::router_put_metadata(
        &c.http,
        &c.url(""),
        "fw",
        "quorum",
        size,
        3,
    )
    .await;
    c.signal(&stalled, "STOP");
    let started = Instant::now();
    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/data/{group}/chunked")))
        .body(reqwest::Body::wrap_stream(object_stream(13, size)))
        .send()
        .await
        .expect("phase 2");
    let took = started.elapsed();
    assert_eq!(res.status().as_u16(), 502);
    let detail = res.json::<Value>().await.expect("json")["detail"]
        .as_str()
        .expect("detail")
        .to_string();
    assert!(detail.contains("Write quorum not reached"), "{detail}");
    assert!(
        detail.contains(&stalled),
        "names the stalled replica: {detail}"
    );
    assert!(
        took < Duration::from_secs(20),
        "took {took:?} (idle timeout 60 s)"
    );
    // Nothing recorded: no holder, no readable object.
    let view = c.app().state.rm.get_replicas("fw", "quorum").await;
    assert!(view.expect("replicas").replicas.is_empty());
    assert_eq!(
        c.get_object("fw", "quorum", &[]).await.status().as_u16(),
        404
    );

    // The group stayed: once the replica runs again, a retry stores all three copies.
    c.signal(&stalled, "CONT");
    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/data/{group}/chunked")))
        .body(reqwest::Body::wrap_stream(object_stream(13, size)))
        .send()
        .await
        .expect("retry");
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.expect("json");
    assert_eq!(listed(&v).len(), 3, "{v}");
    let sha = expected_sha(13, size).await;
    each_holder_serves(&c, "quorum", &c.ids.clone(), &sha, size).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_majority_quorum_answers_200_without_the_stalled_replica() {
    let _serial = serial().await;
    let size = 2 * MIB;
    let c = faults::start(3, |cfg| cfg.tail.write_quorum = WriteQuorum::Majority).await;
    let stalled = c.ids[2].clone();
    let group =
        mictlanx_testkit::process::router_put_metadata(&c.http, &c.url(""), "fw", "major", size, 3)
            .await;
    c.signal(&stalled, "STOP");
    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/data/{group}/chunked")))
        .body(reqwest::Body::wrap_stream(object_stream(14, size)))
        .send()
        .await
        .expect("phase 2");
    c.signal(&stalled, "CONT");
    assert_eq!(res.status().as_u16(), 200);
    let v: Value = res.json().await.expect("json");
    assert_eq!(listed(&v), all_but(&c, &stalled), "{v}");
    let sha = expected_sha(14, size).await;
    each_holder_serves(&c, "major", &all_but(&c, &stalled), &sha, size).await;
}

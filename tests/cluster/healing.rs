//! Healing with real `mictlanx-peer` processes and real SIGKILL / SIGSTOP. Invariants: redundancy comes
//! back (every object returns to its replication factor on live peers, with identical bytes); a delete
//! holds (a stalled holder gets a tombstone, and the object never comes back — not after the holder
//! returns, not after a router restart — while a later PUT wins); a stale copy is never served.

use std::time::Duration;

use mictlanx_testkit::datapath::object;
use mictlanx_testkit::healing::{
    busiest, get, healing_config, live_holders, put, router, wait_available,
};
use mictlanx_testkit::wait::eventually;
use mictlanx_testkit::Peer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_holder_is_repaired_around_and_every_object_gets_its_factor_back() {
    let root = tempfile::tempdir().unwrap();
    let http = mictlanx_testkit::peer::http_client();
    let mut peers = Vec::new();
    for i in 0..4 {
        peers.push(Peer::process(&format!("hp-{i}"), root.path()).await);
    }
    let cfg = healing_config(
        &root.path().join("router"),
        peers.iter().map(Peer::info).collect(),
    );
    let r = router(cfg).await;
    wait_available(&r, 4).await;
    let mut objects = Vec::new();
    for i in 0..8u8 {
        let rf = if i % 2 == 0 { 2 } else { 3 };
        let bytes = object(i, 20_000 + i as usize * 1000);
        let key = format!("o{i}");
        let stored = put(&http, &r, "heal", &key, &bytes, rf).await;
        assert_eq!(stored.len(), rf as usize);
        objects.push((key, bytes, rf, stored));
    }
    // The peer holding the most objects goes away for good.
    let victim = busiest("hp-", 4, objects.iter().map(|o| o.3.as_slice()));
    peers[victim].kill().await;
    let victim_id = format!("hp-{victim}");
    for (key, bytes, rf, _) in &objects {
        eventually("the object is back at its factor on live peers", || async {
            let live = live_holders(&r, "heal", key).await;
            live.len() == *rf as usize && !live.contains(&victim_id)
        })
        .await;
        for holder in live_holders(&r, "heal", key).await {
            let peer = peers.iter().find(|p| p.id == holder).unwrap();
            assert_eq!(
                peer.get_direct("heal", key).await,
                (200, bytes.clone()),
                "identical bytes on {holder}"
            );
        }
        assert_eq!(get(&http, &r, "heal", key).await, (200, bytes.clone()));
    }
    let status: serde_json::Value = http
        .get(r.url("/api/v4/repair"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["leader"], true);
    assert!(
        status["done"]["repaired"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert!(status["done"]["bytes_copied"].as_u64().unwrap() >= 20_000);
    let metrics = http
        .get(r.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("mictlanx_router_repairs_total"));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_with_a_stalled_holder_holds_across_its_return_and_a_router_restart() {
    let root = tempfile::tempdir().unwrap();
    let http = mictlanx_testkit::peer::http_client();
    let mut peers = Vec::new();
    for i in 0..3 {
        peers.push(Peer::process(&format!("dp-{i}"), root.path()).await);
    }
    let state = root.path().join("router");
    let cfg = healing_config(&state, peers.iter().map(Peer::info).collect());
    let r = router(cfg.clone()).await;
    wait_available(&r, 3).await;
    let bytes = object(50, 30_000);
    assert_eq!(put(&http, &r, "del", "k", &bytes, 3).await.len(), 3);
    peers[1].pause();
    let started = std::time::Instant::now();
    let res = http
        .delete(r.url("/api/v4/buckets/del/k"))
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(res.status(), 200);
    assert!(
        took < Duration::from_secs(5),
        "a stalled holder costs the deadline: {took:?}"
    );
    assert_eq!(get(&http, &r, "del", "k").await.0, 404);

    // The router restarts while the holder is still stalled: the tombstone is on disk.
    r.stop().await;
    let r = router(cfg.clone()).await;
    peers[1].resume();
    wait_available(&r, 3).await;
    for _ in 0..10 {
        assert_eq!(get(&http, &r, "del", "k").await.0, 404, "never comes back");
        let listing: serde_json::Value = http
            .get(r.url("/api/v4/buckets/del/metadata"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            listing["balls"].as_array().unwrap().is_empty(),
            "not listed either: {listing}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let p1 = &peers[1];
    eventually(
        "the tombstone was applied on the returned holder",
        || async { p1.get_direct("del", "k").await.0 == 404 },
    )
    .await;
    for p in &peers {
        assert_eq!(p.get_direct("del", "k").await.0, 404, "{}", p.id);
    }
    // and once more after another restart and its rebuild
    r.stop().await;
    let r = router(cfg).await;
    wait_available(&r, 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&http, &r, "del", "k").await.0, 404);
    // a PUT after the delete wins
    let again = object(51, 12_000);
    put(&http, &r, "del", "k", &again, 2).await;
    assert_eq!(get(&http, &r, "del", "k").await, (200, again));
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_missed_an_overwrite_is_never_served_and_its_copy_is_replaced() {
    let root = tempfile::tempdir().unwrap();
    let http = mictlanx_testkit::peer::http_client();
    let mut peers = Vec::new();
    for i in 0..4 {
        peers.push(Peer::process(&format!("vp-{i}"), root.path()).await);
    }
    let cfg = healing_config(
        &root.path().join("router"),
        peers.iter().map(Peer::info).collect(),
    );
    let r = router(cfg).await;
    wait_available(&r, 4).await;
    let old = object(60, 25_000);
    let new = object(61, 25_000);
    let holders = put(&http, &r, "ow", "k", &old, 3).await;
    // One holder is down during the overwrite (a placement that keeps every live peer a holder would be
    // refused with the code-666 answer, so the space has a fourth peer).
    let down = peers.iter().position(|p| p.id == holders[0]).unwrap();
    peers[down].kill().await;
    wait_available(&r, 3).await;
    let stored = put(&http, &r, "ow", "k", &new, 3).await;
    assert!(!stored.contains(&holders[0]));
    peers[down].restart().await;
    // The restarted peer holds the stale copy on its disk, unless the router's first probe of it already
    // removed or replaced it (the router races this check; either way nothing else may be there).
    let (status, body) = peers[down].get_direct("ow", "k").await;
    assert!(
        (status == 200 && (body == old || body == new)) || status == 404,
        "the restarted holder has the old copy, the new one or none, got {status}"
    );
    wait_available(&r, 4).await;
    for i in 0..50 {
        assert_eq!(
            get(&http, &r, "ow", "k").await,
            (200, new.clone()),
            "read {i}"
        );
    }
    let stale = &peers[down];
    eventually("the stale copy is replaced or removed", || async {
        let (status, body) = stale.get_direct("ow", "k").await;
        status == 404 || body == new
    })
    .await;
    assert!(
        !live_holders(&r, "ow", "k").await.contains(&stale.id) || {
            stale.get_direct("ow", "k").await == (200, new.clone())
        }
    );
    for holder in live_holders(&r, "ow", "k").await {
        let p = peers.iter().find(|p| p.id == holder).unwrap();
        assert_eq!(
            p.get_direct("ow", "k").await,
            (200, new.clone()),
            "{holder}"
        );
    }
    r.stop().await;
}

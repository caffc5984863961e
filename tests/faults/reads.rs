//! Reads while holders stall or die, with real `mictlanx-peer` processes (SIGSTOP / SIGKILL). Invariants:
//! bounded time with an honest status (a stalled holder costs the hedge delay or the stall timeout, never
//! the 60 s idle timeout) and no silent corruption (every 200 carries exactly the stored bytes, also when
//! the read switched holders mid-stream).

use std::time::{Duration, Instant};

use mictlanx_testkit::faults::{self, expected_sha, read_with_hook, serial, MIB};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stalled_preferred_holders_cost_a_hedge_delay_not_the_idle_timeout() {
    let _serial = serial().await;
    let c = faults::start(3, |_| {}).await;
    c.put_seeded("fr", "hedged", MIB, 3, 1).await;
    let order = c.read_order("fr", "hedged").await;
    assert_eq!(order.len(), 3, "{order:?}");
    let (hedges, won) = (
        c.metric("mictlanx_router_hedges_total", "kind=\"get\"")
            .await,
        c.metric("mictlanx_router_hedges_won_total", "kind=\"get\"")
            .await,
    );
    c.signal(&order[0], "STOP");
    c.signal(&order[1], "STOP");

    let started = Instant::now();
    let (status, sha, n) = c.get_sha("fr", "hedged", &[]).await;
    let took = started.elapsed();
    println!("GET with the two preferred holders stopped: {took:?}");
    assert_eq!(status, 200);
    assert_eq!((sha, n), (expected_sha(1, MIB).await, MIB));
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let sent = c
        .metric("mictlanx_router_hedges_total", "kind=\"get\"")
        .await
        - hedges;
    let wins = c
        .metric("mictlanx_router_hedges_won_total", "kind=\"get\"")
        .await
        - won;
    assert!(sent >= 2.0, "two hedges were needed, {sent} counted");
    assert!(wins >= 1.0, "the third holder's answer was a hedge's");
    c.signal(&order[0], "CONT");
    c.signal(&order[1], "CONT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_preferred_holder_fails_over_before_the_first_byte() {
    let _serial = serial().await;
    let mut c = faults::start(3, |_| {}).await;
    c.put_seeded("fr", "killed", 3 * MIB, 2, 2).await;
    let order = c.read_order("fr", "killed").await;
    let i = c.index(&order[0]);
    c.peers[i].signal("KILL");
    let _ = c.peers[i].wait_exit(Duration::from_secs(10)).await;
    let started = Instant::now();
    let (status, sha, n) = c.get_sha("fr", "killed", &[]).await;
    assert_eq!(status, 200);
    assert_eq!((sha, n), (expected_sha(2, 3 * MIB).await, 3 * MIB));
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_killed_half_way_through_200_mib_is_continued_by_another() {
    let _serial = serial().await;
    let size = 200 * MIB;
    let mut c = faults::start(3, |cfg| cfg.cache.enabled = false).await;
    c.put_seeded("fr", "big", size, 2, 3).await;
    let order = c.read_order("fr", "big").await;
    assert_eq!(order.len(), 2);
    let before = c
        .metric("mictlanx_router_read_failovers_total", "mid_stream")
        .await;
    let started = Instant::now();
    let res = c.get_object("fr", "big", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.content_length(), Some(size));
    // With no other traffic the first holder in the read order is the one streaming.
    let serving = c.index(&order[0]);
    let pid = c.peers[serving].pid();
    let read = read_with_hook(res, size / 2, || {
        let ok = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        assert!(ok.expect("kill runs").success());
    })
    .await;
    let _ = c.peers[serving].wait_exit(Duration::from_secs(10)).await;
    let (sha, n) = read.expect("the read completes through the other holder");
    println!(
        "200 MiB GET with its holder SIGKILLed at 100 MiB: {:?}",
        started.elapsed()
    );
    assert_eq!((sha, n), (expected_sha(3, size).await, size));
    let after = c
        .metric("mictlanx_router_read_failovers_total", "mid_stream")
        .await;
    assert!(after - before >= 1.0, "one mid-stream continuation counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_stalled_mid_stream_costs_the_stall_timeout() {
    let _serial = serial().await;
    let size = 64 * MIB;
    let c = faults::start(3, |cfg| cfg.cache.enabled = false).await;
    c.put_seeded("fr", "stall", size, 2, 4).await;
    let order = c.read_order("fr", "stall").await;
    let before = c
        .metric("mictlanx_router_read_failovers_total", "mid_stream")
        .await;
    let res = c.get_object("fr", "stall", &[]).await;
    assert_eq!(res.status(), 200);
    let pid = c.peers[c.index(&order[0])].pid();
    let started = Instant::now();
    let read = read_with_hook(res, 8 * MIB, || {
        let ok = std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status();
        assert!(ok.expect("kill runs").success());
    })
    .await;
    let took = started.elapsed();
    c.signal(&order[0], "CONT");
    let (sha, n) = read.expect("the read completes through the other holder");
    assert_eq!((sha, n), (expected_sha(4, size).await, size));
    println!("64 MiB GET with its holder stopped at 8 MiB: {took:?}");
    assert!(
        took < Duration::from_secs(15),
        "took {took:?} (idle timeout 60 s)"
    );
    let after = c
        .metric("mictlanx_router_read_failovers_total", "mid_stream")
        .await;
    assert!(
        after - before >= 1.0,
        "the stalled read was continued elsewhere"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ranged_read_continues_on_another_holder_with_the_same_range() {
    let _serial = serial().await;
    let size = 48 * MIB;
    let c = faults::start(3, |_| {}).await;
    c.put_seeded("fr", "ranged", size, 2, 5).await;
    let order = c.read_order("fr", "ranged").await;
    let (first, last) = (5 * MIB + 3, 40 * MIB + 11);
    let res = c
        .get_object(
            "fr",
            "ranged",
            &[("Range", &format!("bytes={first}-{last}"))],
        )
        .await;
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.headers()["content-range"],
        format!("bytes {first}-{last}/{size}").as_str()
    );
    let pid = c.peers[c.index(&order[0])].pid();
    let read = read_with_hook(res, 4 * MIB, || {
        let ok = std::process::Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status();
        assert!(ok.expect("kill runs").success());
    })
    .await;
    c.signal(&order[0], "CONT");
    let (sha, n) = read.expect("the ranged read completes");
    let want = {
        use sha2::Digest;
        let all = mictlanx_testkit::peer::object_bytes(5, size);
        hex::encode(sha2::Sha256::digest(&all[first as usize..=last as usize]))
    };
    assert_eq!((sha, n), (want, last - first + 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_holder_is_tried_last_before_the_health_loop_notices() {
    let _serial = serial().await;
    // Probes every 30 s: the health loop does not notice the stalled peer during this test.
    let c = faults::start(3, |_| {}).await;
    c.put_seeded("fr", "suspect", 64 * 1024, 3, 6).await;
    let order = c.read_order("fr", "suspect").await;
    let stalled = order[0].clone();
    let sha = expected_sha(6, 64 * 1024).await;
    c.signal(&stalled, "STOP");
    let hedges = || c.metric("mictlanx_router_hedges_total", "kind=\"get\"");
    let before = hedges().await;
    let (status, got, _) = c.get_sha("fr", "suspect", &[]).await;
    assert_eq!((status, got.as_str()), (200, sha.as_str()));
    assert!(hedges().await - before >= 1.0, "the first read hedged");
    // The holder that missed the hedge delay is tried last: the next reads need no hedge.
    let before = hedges().await;
    let started = Instant::now();
    for _ in 0..10 {
        let (status, got, _) = c.get_sha("fr", "suspect", &[]).await;
        assert_eq!((status, got.as_str()), (200, sha.as_str()));
    }
    let took = started.elapsed();
    println!("10 reads with {stalled} stopped and suspected: {took:?}");
    assert_eq!(hedges().await - before, 0.0, "no read waited for {stalled}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        c.available().await.contains(&stalled),
        "still registered as available: the reads skipped it on their own"
    );
    c.signal(&stalled, "CONT");
}

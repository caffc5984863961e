//! `mictlanx-bench` against real components: a peer directly, and a router in front of real peers. Checks
//! the counts, the cleanup and the `--rate` pacing (a lower bound on the elapsed time, which a slow machine
//! cannot break).

use clap::Parser;
use mictlanx_bench::{run, BenchArgs};

use mictlanx_testkit::peer::spawn_peer;

/// The bench's flags: `--url URL` then `extra` split on whitespace.
fn args(url: &str, extra: &str) -> BenchArgs {
    let mut argv = vec!["mictlanx-bench", "--url", url];
    argv.extend(extra.split_whitespace());
    BenchArgs::try_parse_from(argv).expect("valid flags")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_run_against_a_peer_takes_at_least_ops_over_rate() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("bench-p0", dir.path()).await;
    let url = peer.base_url();
    let a = args(
        &url,
        "--target peer --op get --size 2KiB --keys 5 --ops 60 --rate 100 --concurrency 4 --bucket paced --cleanup",
    );
    let report = run(&a).await.expect("run");
    assert_eq!(report.ops, 60);
    assert_eq!(report.errors, 0, "{:?}", report.first_error);
    assert_eq!(report.bytes, 60 * 2048);
    assert_eq!(report.rate, Some(100.0));
    // Operation 59 may not start before 0.59 s.
    assert!(report.elapsed_s >= 0.58, "elapsed {}", report.elapsed_s);
    assert!(report.ops_per_s <= 104.0, "paced: {}", report.ops_per_s);
    // --cleanup deleted the preloaded objects.
    let listing: serde_json::Value = mictlanx_testkit::datapath::client()
        .get(format!("{url}/api/v4/buckets/paced/metadata"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listing["balls"].as_array().map(Vec::len),
        Some(0),
        "{listing}"
    );
    peer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_puts_with_rf_2_land_on_two_peers_and_cleanup_removes_them() {
    let c = mictlanx_testkit::datapath::start(3, |_| {}).await;
    let url = c.url("");
    let a = args(
        &url,
        "--op put --size 100KiB --rf 2 --ops 6 --concurrency 3 --bucket bput",
    );
    let report = run(&a).await.expect("run");
    assert_eq!(
        (report.ops, report.errors),
        (6, 0),
        "{:?}",
        report.first_error
    );
    assert_eq!(report.rate, None);
    let balls = c.listing("bput").await;
    assert_eq!(balls.len(), 6, "{balls:?}");
    for ball in &balls {
        let key = ball["key"].as_str().unwrap();
        let view = c.app().state.rm.get_replicas("bput", key).await.unwrap();
        assert_eq!(view.replicas.len(), 2, "{key} is held by two peers");
    }

    let a = args(
        &url,
        "--op get --size 100KiB --rf 2 --ops 10 --keys 3 --bucket bget --cleanup",
    );
    let report = run(&a).await.expect("run");
    assert_eq!(
        (report.ops, report.errors),
        (10, 0),
        "{:?}",
        report.first_error
    );
    assert_eq!(c.listing("bget").await, Vec::<serde_json::Value>::new());
    c.stop().await;
}

/// The bucket listing of one peer, as keys.
async fn peer_keys(url: &str, bucket: &str) -> Vec<String> {
    let listing: serde_json::Value = mictlanx_testkit::datapath::client()
        .get(format!("{url}/api/v4/buckets/{bucket}/metadata"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
async fn a_direct_put_with_mirrors_writes_every_copy_and_cleanup_removes_them_all() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut peers = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        peers.push(spawn_peer(&format!("mirror-p{i}"), d.path()).await);
    }
    let urls: Vec<String> = peers.iter().map(|p| p.base_url()).collect();
    let extra = format!(
        "--target peer --op put --size 64KiB --ops 5 --concurrency 2 --bucket mput --mirror {} --mirror {}",
        urls[1], urls[2]
    );
    let report = run(&args(&urls[0], &extra)).await.expect("run");
    assert_eq!(
        (report.ops, report.errors),
        (5, 0),
        "{:?}",
        report.first_error
    );
    assert_eq!(report.bytes, 5 * 64 * 1024, "object bytes, counted once");
    let first = peer_keys(&urls[0], "mput").await;
    assert_eq!(first.len(), 5, "{first:?}");
    for url in &urls[1..] {
        assert_eq!(
            peer_keys(url, "mput").await,
            first,
            "every mirror has every copy"
        );
    }

    // A GET run with mirrors preloads everywhere, reads --url only, and its cleanup deletes every copy.
    let extra = format!(
        "--target peer --op get --size 1KiB --keys 3 --ops 6 --bucket mget --cleanup --mirror {} --mirror {}",
        urls[1], urls[2]
    );
    let report = run(&args(&urls[0], &extra)).await.expect("run");
    assert_eq!(
        (report.ops, report.errors),
        (6, 0),
        "{:?}",
        report.first_error
    );
    for url in &urls {
        assert_eq!(peer_keys(url, "mget").await, Vec::<String>::new(), "{url}");
    }
    for p in peers {
        p.shutdown().await;
    }
}

#[test]
fn mirrors_need_the_peer_target() {
    let a = args("http://127.0.0.1:1", "--mirror http://127.0.0.1:2");
    assert!(a.check().is_err(), "a router replicates by itself");
    let a = args(
        "http://127.0.0.1:1",
        "--target peer --mirror http://127.0.0.1:2",
    );
    assert_eq!(a.check(), Ok(()));
    assert_eq!(a.mirrors, vec!["http://127.0.0.1:2".to_string()]);
}

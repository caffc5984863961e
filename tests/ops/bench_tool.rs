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

/// The `Object-Version` and `Replication-Factor` a peer answers for its copy of `bucket@key`.
async fn copy_version(url: &str, bucket: &str, key: &str) -> (String, String) {
    let resp = mictlanx_testkit::datapath::client()
        .get(format!("{url}/api/v4/buckets/{bucket}/metadata/{key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{url} {key}");
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    (header("object-version"), header("replication-factor"))
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
        "--target peer --op put --size 64KiB --ops 5 --concurrency 2 --bucket mput --key-len 40 --mirror {} --mirror {}",
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
    // --key-len pads every key; the three copies of a key carry one version and factor 3, as a router's
    // fan-out writes them (so a router that finds them adopts one object with three holders).
    for key in &first {
        assert_eq!(key.len(), 40, "{key}");
        let copies: Vec<(String, String)> =
            futures::future::join_all(urls.iter().map(|url| copy_version(url, "mput", key))).await;
        assert_eq!(copies[0].1, "3", "replication factor of {key}");
        assert!(copies.iter().all(|c| c == &copies[0]), "{key}: {copies:?}");
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

const S3_ACCESS: &str = "bench-access";
const S3_SECRET: &str = "bench-secret-key";

/// The bench's flags for `--target s3` against `url` with the test keys, then `extra`.
fn s3_args(url: &str, extra: &str) -> BenchArgs {
    args(
        url,
        &format!("--target s3 --access-key {S3_ACCESS} --secret-key {S3_SECRET} {extra}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_s3_target_writes_reads_back_and_lists_through_the_router() {
    use mictlanx_bench::ops::Payload;
    use mictlanx_bench::s3::{S3Auth, S3Endpoint};

    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = mictlanx_testkit::cluster::Cluster::builder()
        .config(|cfg| {
            cfg.s3.port = 0;
            cfg.s3.credentials = vec![mictlanx_router::config::S3Credential {
                access_key: S3_ACCESS.into(),
                secret_key: mictlanx_router::security::Secret::parse(S3_SECRET).unwrap(),
            }];
            cfg.s3.replication_factor = 3;
        })
        .start()
        .await;
    let s3_url = format!("http://{}", c.app().s3_addr.expect("S3 is on"));

    // Timed PUTs: signed requests the router accepts, each object on all three peers.
    let report = run(&s3_args(
        &s3_url,
        "--op put --size 100KiB --ops 5 --concurrency 2 --bucket s3put",
    ))
    .await
    .expect("run");
    assert_eq!(
        (report.ops, report.errors),
        (5, 0),
        "{:?}",
        report.first_error
    );
    assert_eq!(report.bytes, 5 * 100 * 1024);
    let balls = c.listing("s3put").await;
    assert_eq!(balls.len(), 5, "{balls:?}");
    for ball in &balls {
        let key = ball["key"].as_str().unwrap();
        let view = c.app().state.rm.get_replicas("s3put", key).await.unwrap();
        assert_eq!(view.replicas.len(), 3, "{key} is held by three peers");
    }

    // The bench's S3 client reads back exactly the bytes it wrote, and so does the MictlanX API.
    let auth = S3Auth {
        access_key: S3_ACCESS.into(),
        secret_key: S3_SECRET.into(),
        region: "us-east-1".into(),
    };
    let s3 = S3Endpoint::new(
        mictlanx_testkit::datapath::client(),
        &s3_url,
        "s3put",
        &auth,
    );
    let payload = Payload::generate(300 * 1024 + 7);
    assert_eq!(s3.put("check-1", &payload).await.unwrap(), payload.len());
    let back = s3.get_bytes("check-1").await.unwrap();
    assert!(back == payload.bytes(), "S3 read-back differs");
    let via_api = mictlanx_testkit::datapath::client()
        .get(c.url("/api/v4/buckets/s3put/check-1"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(via_api == payload.bytes(), "MictlanX read-back differs");
    let (page, _) = s3.list_page("", None).await.unwrap();
    assert_eq!(page.keys, 6, "five timed PUTs and the check object");

    // Timed GETs (length checked per read) and HEADs, then cleanup through S3.
    for op in ["get", "get-metadata"] {
        let report = run(&s3_args(
            &s3_url,
            &format!("--op {op} --size 10KiB --keys 4 --ops 12 --bucket s3get --cleanup"),
        ))
        .await
        .expect("run");
        assert_eq!(
            (report.ops, report.errors),
            (12, 0),
            "{op}: {:?}",
            report.first_error
        );
    }
    assert_eq!(c.listing("s3get").await, Vec::<serde_json::Value>::new());

    // Listing pages: ListObjectsV2 on S3 and the paged listing on the MictlanX API both see every key.
    let report = run(&s3_args(
        &s3_url,
        "--op list --size 1KiB --keys 25 --ops 4 --bucket s3list",
    ))
    .await
    .expect("run");
    assert_eq!(
        (report.ops, report.errors),
        (4, 0),
        "{:?}",
        report.first_error
    );
    assert!(report.bytes > 0);
    let report = run(&args(
        &c.url(""),
        "--op list --size 1KiB --keys 25 --ops 4 --bucket s3list",
    ))
    .await
    .expect("run");
    assert_eq!(
        (report.ops, report.errors),
        (4, 0),
        "{:?}",
        report.first_error
    );
    // A wrong secret is refused before anything is timed: the run cannot start.
    let bad = args(
        &s3_url,
        &format!("--target s3 --access-key {S3_ACCESS} --secret-key wrong --op put --ops 2 --bucket s3put"),
    );
    assert!(
        run(&bad).await.is_err(),
        "CreateBucket with a bad key fails"
    );
    c.stop().await;
}

#[test]
fn the_s3_target_needs_keys_and_list_needs_a_router_or_s3() {
    let a = args("http://127.0.0.1:1", "--target s3");
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        assert!(a.check().is_err(), "no keys");
    }
    assert_eq!(s3_args("http://127.0.0.1:1", "--op list").check(), Ok(()));
    let a = args("http://127.0.0.1:1", "--target peer --op list");
    assert!(a.check().is_err());
}

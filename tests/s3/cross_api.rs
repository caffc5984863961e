//! One space, two APIs: an object written through S3 is read unchanged through the MictlanX API and the
//! reverse; with two routers on one Redis, an object written through one router's S3 is read through the
//! other's.

use std::time::Duration;

use mictlanx_router::app::App;
use mictlanx_router::config::StateBackend;
use mictlanx_testkit::cluster::Cluster;

use crate::support::{clients, enable_s3, endpoint, s3_cluster, s3cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_writes_are_mictlanx_objects_and_back() {
    let Some(tools) = clients() else { return };
    let (c, s3) = s3_cluster().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("in");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &data).expect("write");
    let f = file.to_str().expect("utf-8");

    // S3 → MictlanX: bucket `data`, key `file1` are the same names in both APIs
    assert!(s3cli(&tools.python, &s3, &["mb", "data"]).await.0);
    assert!(
        s3cli(&tools.python, &s3, &["put", "data", "file1", f])
            .await
            .0
    );
    assert_eq!(c.client.get_bytes("data", "file1").await, data);
    // a key that is no MictlanX id is stored under its documented encoding
    assert!(
        s3cli(&tools.python, &s3, &["put", "data", "dir/a b.txt", f])
            .await
            .0
    );
    let encoded = mictlanx_router::s3::names::to_mictlanx("dir/a b.txt");
    assert_eq!(encoded, "s3x-6469722f6120622e747874");
    assert_eq!(c.client.get_bytes("data", &encoded).await, data);

    // MictlanX → S3, in a bucket S3 never created
    let other: Vec<u8> = b"written by the MictlanX API".to_vec();
    c.client.put("mxonly", "report-1", &other, 1).await;
    let out = dir.path().join("out");
    let o = out.to_str().expect("utf-8");
    assert!(
        s3cli(&tools.python, &s3, &["get", "mxonly", "report-1", o])
            .await
            .0
    );
    assert_eq!(std::fs::read(&out).expect("read"), other);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_routers_on_redis_share_s3_objects() {
    let Some(tools) = clients() else { return };
    let Some(c) = Cluster::builder()
        .redis()
        .config(enable_s3)
        .try_start()
        .await
    else {
        return;
    };
    let redis_url = c.redis.as_ref().expect("redis").url();
    let mut cfg = mictlanx_router::config::Config::for_tests(c.dir.path().join("router-b"));
    cfg.seed_peers = c.peers.iter().map(|p| p.info()).collect();
    cfg.replica.health_interval = Duration::from_millis(200);
    cfg.replica.backend = StateBackend::Redis {
        url: redis_url,
        prefix: "kit".into(),
    };
    enable_s3(&mut cfg);
    let b = App::spawn(cfg).await.expect("second router");
    let (s3_a, s3_b) = (
        endpoint(c.app().s3_addr.expect("S3 on a")),
        endpoint(b.s3_addr.expect("S3 on b")),
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("in");
    std::fs::write(&file, b"through router a").expect("write");
    let out = dir.path().join("out");
    let (f, o) = (file.to_str().expect("utf-8"), out.to_str().expect("utf-8"));

    assert!(s3cli(&tools.python, &s3_a, &["mb", "shared"]).await.0);
    assert!(
        s3cli(&tools.python, &s3_a, &["put", "shared", "k/1", f])
            .await
            .0
    );
    // the bucket registry and the object are visible through the other router
    let (ok, text) = s3cli(&tools.python, &s3_b, &["mb", "shared"]).await;
    assert!(!ok && text.contains("BucketAlreadyOwnedByYou"), "{text}");
    let mut read = false;
    for _ in 0..50 {
        if s3cli(&tools.python, &s3_b, &["get", "shared", "k/1", o])
            .await
            .0
        {
            read = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(read, "router b never served the object");
    assert_eq!(std::fs::read(&out).expect("read"), b"through router a");
    b.stop().await;
    c.stop().await;
}

//! Storage classes as replication factors: `STANDARD` objects get `MICTLANX_S3_REPLICATION_FACTOR` copies,
//! `REDUCED_REDUNDANCY` ones `MICTLANX_S3_REDUCED_REPLICATION_FACTOR`, counted on the peers' disks; the class
//! reads back in HeadObject and the listing, a multipart upload's class holds for its object, and a class
//! the space does not offer is `InvalidStorageClass`.

use mictlanx_testkit::cluster::Cluster;

use crate::support::{clients, enable_s3, endpoint, s3cli};

/// How many of the cluster's peers hold MictlanX object `b`/`k`.
async fn copies(c: &Cluster, b: &str, k: &str) -> usize {
    let mut n = 0;
    for p in &c.peers {
        if p.get_direct(b, k).await.0 == 200 {
            n += 1;
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storage_class_is_a_replication_factor() {
    let Some(tools) = clients() else { return };
    // three peers: STANDARD at rf 2 (the test default), REDUCED_REDUNDANCY at rf 1
    let c = Cluster::builder()
        .peers(3)
        .config(|cfg| {
            enable_s3(cfg);
            cfg.s3.reduced_replication_factor = 1;
        })
        .start()
        .await;
    let s3 = endpoint(c.app().s3_addr.expect("S3 is on"));
    let py = &tools.python;
    assert!(s3cli(py, &s3, &["mb", "classes"]).await.0);

    for (key, class, want, shown) in [
        ("std", "STANDARD", 2, "head=STANDARD list=STANDARD"),
        (
            "rrs",
            "REDUCED_REDUNDANCY",
            1,
            "head=REDUCED_REDUNDANCY list=REDUCED_REDUNDANCY",
        ),
    ] {
        let (ok, out) = s3cli(py, &s3, &["put-class", "classes", key, class]).await;
        assert!(ok, "{key}: {out}");
        assert_eq!(copies(&c, "classes", key).await, want, "{key}: copies");
        let (ok, out) = s3cli(py, &s3, &["class", "classes", key]).await;
        assert!(ok && out.contains(shown), "{key}: {out}");
    }

    let (ok, out) = s3cli(
        py,
        &s3,
        &["mpu-class", "classes", "big", "REDUCED_REDUNDANCY"],
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(
        copies(&c, "classes", "big").await,
        1,
        "the multipart object"
    );
    let (ok, out) = s3cli(py, &s3, &["class", "classes", "big"]).await;
    assert!(ok && out.contains("head=REDUCED_REDUNDANCY"), "{out}");

    let (ok, out) = s3cli(py, &s3, &["put-class", "classes", "cold", "GLACIER"]).await;
    assert!(!ok && out.contains("InvalidStorageClass"), "{out}");
    assert_eq!(copies(&c, "classes", "cold").await, 0);
    c.stop().await;
}

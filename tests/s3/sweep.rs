//! Abandoned multipart uploads expire: with a three-second expiry the sweep aborts an open upload, its parts
//! are deleted from the peers' listing and it leaves ListMultipartUploads.

use std::time::{Duration, Instant};

use mictlanx_testkit::cluster::Cluster;

use crate::support::{clients, enable_s3, endpoint, s3cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweep_aborts_abandoned_uploads() {
    let Some(tools) = clients() else { return };
    let c = Cluster::builder()
        .config(|cfg| {
            enable_s3(cfg);
            cfg.s3.upload_expiry = Duration::from_secs(3);
        })
        .start()
        .await;
    let s3 = endpoint(c.app().s3_addr.expect("S3 on"));
    assert!(s3cli(&tools.python, &s3, &["mb", "sweep"]).await.0);
    let (ok, id) = s3cli(&tools.python, &s3, &["mpu-start", "sweep", "left/open"]).await;
    assert!(ok, "{id}");
    let id = id.trim().to_string();
    assert_eq!(id.len(), 32, "an upload id: {id}");
    // before the expiry: the part is stored, the upload is listed
    assert_eq!(c.client.listing("s3x-uploads").await.len(), 1);

    let started = Instant::now();
    loop {
        let (ok, open) = s3cli(&tools.python, &s3, &["mpu-list", "sweep"]).await;
        assert!(ok, "{open}");
        let parts = c.client.listing("s3x-uploads").await;
        if !open.contains(&id) && parts.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the upload was not swept: {open} / {} parts left",
            parts.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    c.stop().await;
}

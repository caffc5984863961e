//! Bounded memory on the data path: a 1 GiB chunked upload with rf 3 and a 1 GiB download through the router
//! (cache off) keep the router process's peak RSS under 128 MiB. Router and peers are real processes.

use std::time::Duration;

use mictlanx_testkit::peer::{object_stream, sha256_stream};
use mictlanx_testkit::process::{
    free_port, peer_process, router_process, router_put_metadata, wait_ok,
};

const GIB: u64 = 1 << 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_upload_rf3_and_download_keep_router_rss_under_128_mib() {
    let dir = tempfile::tempdir().unwrap();
    let client = mictlanx_testkit::peer::http_client();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let _peers: Vec<_> = ports
        .iter()
        .enumerate()
        .map(|(i, p)| peer_process(&format!("p{i}"), *p, &dir.path().join(format!("p{i}"))))
        .collect();
    let uri = format!(
        "mictlanx://p0@127.0.0.1:{},p1@127.0.0.1:{},p2@127.0.0.1:{}/?protocol=http&api_version=4",
        ports[0], ports[1], ports[2]
    );
    let port = free_port();
    let router = router_process(
        port,
        &dir.path().join("state"),
        &[("MICTLANX_PEERS_URI", uri), ("MICTLANX_CACHE", "0".into())],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ok(&client, &format!("{base}/ready")).await;
    // all three peers must be live for an rf-3 write set
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v: serde_json::Value = client
            .get(format!("{base}/api/v4/peers"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["available"].as_array().map(|a| a.len()) == Some(3) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "peers never all available: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let baseline = router.peak_rss_kib();

    let group = router_put_metadata(&client, &base, "mem", "big", GIB, 3).await;
    let (expected_sha, _) = sha256_stream(object_stream(7, GIB)).await;
    let res = client
        .post(format!("{base}/api/v4/buckets/data/{group}/chunked"))
        .body(reqwest::Body::wrap_stream(object_stream(7, GIB)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "{:?}", res.text().await);
    let put: serde_json::Value = res.json().await.unwrap();
    assert_eq!(put["size"], GIB);
    assert_eq!(put["peer_ids"].as_array().unwrap().len(), 3, "{put}");

    let res = client
        .get(format!("{base}/api/v4/buckets/mem/big"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.content_length(), Some(GIB));
    let (sha, n) = sha256_stream(res.bytes_stream()).await;
    assert_eq!((sha.as_str(), n), (expected_sha.as_str(), GIB));

    let peak = router.peak_rss_kib();
    println!("router peak RSS: {baseline} KiB after start-up, {peak} KiB after 1 GiB up (rf 3) + 1 GiB down");
    assert!(
        peak < 128 * 1024,
        "router peak RSS {peak} KiB exceeds 128 MiB"
    );
}

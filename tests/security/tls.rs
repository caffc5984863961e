//! HTTPS with rustls: a self-signed certificate (rcgen), a PUT (both phases) and a GET over TLS, HTTP/2
//! negotiated by ALPN, and plain HTTP refused on the TLS listener.

use mictlanx_router::app::App;
use mictlanx_router::config::{Config, TlsFiles};

#[tokio::test]
async fn put_and_get_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let peer = mictlanx_testkit::peer::spawn_peer("p0", &dir.path().join("p0")).await;
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, certified.cert.pem()).unwrap();
    std::fs::write(&key_path, certified.key_pair.serialize_pem()).unwrap();

    let mut config = Config::for_tests(dir.path().join("state"));
    config.server.tls = Some(TlsFiles {
        cert: cert_path,
        key: key_path,
    });
    config.seed_peers =
        mictlanx_router::peers_uri::parse_peers_uri(&mictlanx_testkit::peer::peers_uri(&[&peer]))
            .unwrap();
    config.replica.health_interval = std::time::Duration::from_millis(200);
    let app = App::spawn(config).await.unwrap();

    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .resolve("localhost", app.addr)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", app.addr.port());
    mictlanx_testkit::process::wait_ok(&client, &format!("{base}/ready")).await;

    let res = client.get(format!("{base}/health")).send().await.unwrap();
    assert_eq!(res.version(), reqwest::Version::HTTP_2, "ALPN offers h2");

    let payload = mictlanx_testkit::peer::object_bytes(3, 300_000);
    let group = mictlanx_testkit::process::router_put_metadata(
        &client,
        &base,
        "tls",
        "obj",
        payload.len() as u64,
        1,
    )
    .await;
    let res = client
        .post(format!("{base}/api/v4/buckets/data/{group}/chunked"))
        .body(payload.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200, "{:?}", res.text().await);
    let got = client
        .get(format!("{base}/api/v4/buckets/tls/obj"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().await.unwrap().as_ref(), payload.as_slice());

    // the listener serves HTTPS only
    let plain = mictlanx_testkit::peer::http_client()
        .get(format!("http://127.0.0.1:{}/health", app.addr.port()))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    app.stop().await;
}

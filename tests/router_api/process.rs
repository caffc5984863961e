//! The router binary as a process: OTLP span export with the service name and the incoming trace id, an
//! unreachable collector that never slows requests, and SIGTERM draining an in-flight upload (exit 0).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use mictlanx_testkit::process::{free_port, router_process, router_put_metadata, wait_ok};

const NO_PEER: &str = "mictlanx://p0@127.0.0.1:1/?protocol=http&api_version=4";

#[tokio::test]
async fn spans_are_exported_with_the_service_name_and_the_incoming_trace() {
    let received: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let sink = received.clone();
    let receiver = axum::Router::new().route(
        "/v1/traces",
        post(move |body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = mictlanx_testkit::peer::http_client();
    let mut router = router_process(
        port,
        dir.path(),
        &[
            ("MICTLANX_PEERS_URI", NO_PEER.into()),
            ("MICTLANX_ROUTER_OPENTELEMETRY", "1".into()),
            ("MICTLANX_JAEGER_ENDPOINT", format!("http://{otlp}")),
            ("MICTLANX_ROUTER_SERVICE_NAME", "otel-test-router".into()),
        ],
    );
    wait_ok(&client, &format!("http://127.0.0.1:{port}/health")).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = client
        .get(format!("http://127.0.0.1:{port}/api/v4/cache/stats"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    router.signal("TERM");
    assert_eq!(router.wait_exit(Duration::from_secs(30)).await, 0);

    let bodies = received.lock().unwrap().clone();
    assert!(!bodies.is_empty(), "no OTLP export reached the receiver");
    let all: Vec<u8> = bodies.iter().flat_map(|b| b.to_vec()).collect();
    let contains = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"otel-test-router"),
        "service name missing from the export"
    );
    assert!(
        contains(&hex::decode(trace_id).unwrap()),
        "the incoming trace id is not the parent"
    );
}

#[tokio::test]
async fn an_unreachable_collector_never_slows_requests() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let closed = free_port();
    let client = mictlanx_testkit::peer::http_client();
    let mut router = router_process(
        port,
        dir.path(),
        &[
            ("MICTLANX_PEERS_URI", NO_PEER.into()),
            ("MICTLANX_ROUTER_OPENTELEMETRY", "1".into()),
            (
                "MICTLANX_JAEGER_ENDPOINT",
                format!("http://127.0.0.1:{closed}"),
            ),
        ],
    );
    wait_ok(&client, &format!("http://127.0.0.1:{port}/health")).await;
    let start = Instant::now();
    for _ in 0..50 {
        let res = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }
    // 50 local requests take milliseconds; a request waiting on the collector would take seconds.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    router.signal("TERM");
    assert_eq!(router.wait_exit(Duration::from_secs(30)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_upload_finish_then_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let peer = mictlanx_testkit::peer::spawn_peer("p0", &dir.path().join("p0")).await;
    let port = free_port();
    let client = mictlanx_testkit::peer::http_client();
    let mut router = router_process(
        port,
        &dir.path().join("state"),
        &[(
            "MICTLANX_PEERS_URI",
            mictlanx_testkit::peer::peers_uri(&[&peer]),
        )],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ok(&client, &format!("{base}/ready")).await;

    const PIECES: u64 = 10;
    const PIECE: usize = 100 * 1024;
    let group =
        router_put_metadata(&client, &base, "drain", "slow", PIECES * PIECE as u64, 1).await;
    // The body trickles in over ~2 s; SIGTERM arrives while it is in flight.
    let body = futures::stream::unfold(0u64, |i| async move {
        if i == PIECES {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some((
            Ok::<_, std::io::Error>(Bytes::from(vec![i as u8; PIECE])),
            i + 1,
        ))
    });
    let upload = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/api/v4/buckets/data/{group}/chunked");
        async move {
            client
                .post(url)
                .body(reqwest::Body::wrap_stream(body))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    router.signal("TERM");
    let res = upload
        .await
        .unwrap()
        .expect("the in-flight upload gets its answer");
    assert_eq!(res.status().as_u16(), 200);
    let put: serde_json::Value = res.json().await.unwrap();
    assert_eq!(put["size"], PIECES * PIECE as u64);
    assert_eq!(router.wait_exit(Duration::from_secs(30)).await, 0);
    // the bytes are really on the peer
    let (status, _, n) =
        mictlanx_testkit::peer::get_object_sha(&client, &peer, "drain", "slow").await;
    assert_eq!((status, n), (200, PIECES * PIECE as u64));
}

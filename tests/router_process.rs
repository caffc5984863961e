//! The router binary as a process: OTLP span export with the service name and the incoming trace id, an
//! unreachable collector that never slows requests, and SIGTERM draining an in-flight upload (exit 0).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the router if a test fails before it exits on its own, so no process outlives the test.
struct Router(Option<Child>);

impl Router {
    fn child(&self) -> &Child {
        self.0.as_ref().expect("router running")
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn router(port: u16, state: &std::path::Path, extra: &[(&str, String)]) -> Router {
    mictlanx_router::server::install_crypto_provider();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mictlanx-router"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENV_FILE_PATH", state.join("no-such.env"))
        .env("MICTLANX_ROUTER_HOST", "127.0.0.1")
        .env("MICTLANX_ROUTER_PORT", port.to_string())
        .env("MICTLANX_ROUTER_STATE_DIR", state)
        .env("MICTLANX_ROUTER_LOG_TO_FILE", "0")
        .env("MICTLANX_ROUTER_LOG_LEVEL", "warn")
        .env("MICTLANX_ROUTER_OPENTELEMETRY", "0")
        .env(
            "MICTLANX_PEERS_URI",
            "mictlanx://p0@127.0.0.1:1/?protocol=http&api_version=4",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Router(Some(cmd.spawn().expect("router binary starts")))
}

async fn wait_healthy(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/health")).await {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("router on {port} never became healthy");
}

fn sigterm(router: &Router) {
    let ok = Command::new("kill")
        .args(["-TERM", &router.child().id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

async fn wait_exit(mut router: Router, within: Duration) -> i32 {
    let deadline = Instant::now() + within;
    loop {
        let child = router.0.as_mut().expect("router running");
        if let Some(status) = child.try_wait().unwrap() {
            router.0 = None;
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            panic!("router did not exit within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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
    let child: Router = router(
        port,
        dir.path(),
        &[
            ("MICTLANX_ROUTER_OPENTELEMETRY", "1".into()),
            ("MICTLANX_JAEGER_ENDPOINT", format!("http://{otlp}")),
            ("MICTLANX_ROUTER_SERVICE_NAME", "otel-test-router".into()),
        ],
    );
    wait_healthy(port).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let res = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v4/cache/stats"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    sigterm(&child);
    assert_eq!(wait_exit(child, Duration::from_secs(30)).await, 0);

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
    let child: Router = router(
        port,
        dir.path(),
        &[
            ("MICTLANX_ROUTER_OPENTELEMETRY", "1".into()),
            (
                "MICTLANX_JAEGER_ENDPOINT",
                format!("http://127.0.0.1:{closed}"),
            ),
        ],
    );
    wait_healthy(port).await;
    let client = reqwest::Client::new();
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
    sigterm(&child);
    assert_eq!(wait_exit(child, Duration::from_secs(30)).await, 0);
}

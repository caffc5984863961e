//! The router binary's extra span exporters: Zipkin v2 beside OTLP (`MICTLANX_ZIPKIN_ENDPOINT`, checked
//! against a real receiver), the console exporter of `MICTLANX_ROUTER_DEBUG=1`, and a Zipkin collector that
//! accepts and never answers, which must not slow requests.

use std::io::Read;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Json;
use mictlanx_testkit::process::{free_port, router_command, router_process, wait_ok, Proc};
use serde_json::Value;

const NO_PEER: &str = "mictlanx://p0@127.0.0.1:1/?protocol=http&api_version=4";

/// Batches leave the router 100 ms after a span ends instead of the SDK's 5 s.
const FAST_BATCHES: (&str, &str) = ("OTEL_BSP_SCHEDULE_DELAY", "100");

/// A Zipkin v2 receiver on 127.0.0.1: records every span posted to `/api/v2/spans`.
async fn zipkin_receiver() -> (SocketAddr, Arc<Mutex<Vec<Value>>>) {
    let spans: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = spans.clone();
    let app = axum::Router::new().route(
        "/api/v2/spans",
        post(move |Json(batch): Json<Vec<Value>>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().extend(batch);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, spans)
}

/// The router's OTLP endpoint in these tests: a loopback port nothing listens on.
fn unreachable_otlp() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

#[tokio::test]
async fn spans_reach_zipkin_with_the_service_name_and_the_route() {
    let (zipkin, spans) = zipkin_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = mictlanx_testkit::peer::http_client();
    let mut router = router_process(
        port,
        dir.path(),
        &[
            ("MICTLANX_PEERS_URI", NO_PEER.into()),
            ("MICTLANX_ROUTER_OPENTELEMETRY", "1".into()),
            ("MICTLANX_JAEGER_ENDPOINT", unreachable_otlp()),
            // the original's bare form: the router posts to /api/v2/spans
            ("MICTLANX_ZIPKIN_ENDPOINT", format!("http://{zipkin}")),
            ("MICTLANX_ROUTER_SERVICE_NAME", "zipkin-test-router".into()),
            (FAST_BATCHES.0, FAST_BATCHES.1.into()),
        ],
    );
    wait_ok(&client, &format!("http://127.0.0.1:{port}/health")).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent = "00f067aa0ba902b7";
    for _ in 0..3 {
        let res = client
            .get(format!("http://127.0.0.1:{port}/api/v4/cache/stats"))
            .header("traceparent", format!("00-{trace_id}-{parent}-01"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }

    let name = "GET /api/v4/cache/stats";
    let deadline = Instant::now() + Duration::from_secs(10);
    let span = loop {
        let found = spans
            .lock()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .cloned();
        if let Some(span) = found {
            break span;
        }
        assert!(
            Instant::now() < deadline,
            "no `{name}` span reached the Zipkin receiver; got {:?}",
            spans.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(span["localEndpoint"]["serviceName"], "zipkin-test-router");
    assert_eq!(span["tags"]["http.route"], "/api/v4/cache/stats");
    assert_eq!(span["tags"]["http.request.method"], "GET");
    assert_eq!(span["tags"]["http.response.status_code"], "200");
    assert_eq!(span["kind"], "SERVER");
    assert_eq!(span["traceId"], trace_id, "the incoming trace continues");
    assert_eq!(span["parentId"], parent);
    assert!(span["timestamp"].as_u64().is_some_and(|t| t > 0));
    // /health answered wait_ok, so its spans went out too, every one under the service name.
    let all = spans.lock().unwrap().clone();
    assert!(all.iter().any(|s| s["name"] == "GET /health"));
    assert!(all
        .iter()
        .all(|s| s["localEndpoint"]["serviceName"] == "zipkin-test-router"));

    router.signal("TERM");
    assert_eq!(router.wait_exit(Duration::from_secs(30)).await, 0);
}

/// Runs the router with stdout piped into a buffer (drained as it comes, so the pipe never fills), makes
/// `requests` GETs of /health, stops it with SIGTERM (which flushes the span batches) and returns stdout.
async fn stdout_of_a_router(env: &[(&str, String)], requests: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = mictlanx_testkit::peer::http_client();
    let mut cmd = router_command(port, dir.path(), env);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("router binary starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let mut router = Proc(Some(child));
    wait_ok(&client, &format!("http://127.0.0.1:{port}/health")).await;
    for _ in 0..requests {
        let res = client
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }
    router.signal("TERM");
    assert_eq!(router.wait_exit(Duration::from_secs(30)).await, 0);
    reader.join().expect("stdout reader")
}

#[tokio::test]
async fn debug_prints_spans_on_stdout_when_tracing_is_on() {
    let base = |otel: &str| {
        vec![
            ("MICTLANX_PEERS_URI", NO_PEER.to_string()),
            ("MICTLANX_ROUTER_DEBUG", "1".into()),
            ("MICTLANX_ROUTER_OPENTELEMETRY", otel.into()),
            ("MICTLANX_JAEGER_ENDPOINT", unreachable_otlp()),
            ("MICTLANX_ROUTER_SERVICE_NAME", "console-test-router".into()),
            (FAST_BATCHES.0, FAST_BATCHES.1.into()),
        ]
    };
    // The console exporter's span lines, e.g. `\tName         : GET /health`.
    let span_line = |line: &str| {
        line.trim_start().starts_with("Name ") && line.trim_end().ends_with(": GET /health")
    };

    // Logs off stdout, so what is left there is the console exporter alone.
    let mut env = base("1");
    env.push(("MICTLANX_ROUTER_LOG_SHOW", "0".into()));
    let out = stdout_of_a_router(&env, 3).await;
    assert!(
        out.lines().any(span_line),
        "no `GET /health` span on stdout:\n{out}"
    );
    assert!(
        out.contains("console-test-router"),
        "the resource (service name) is not printed:\n{out}"
    );

    // Tracing off: DEBUG=1 only raises the log level (debug records on stdout), no span is printed.
    let mut env = base("0");
    env.push(("MICTLANX_ROUTER_LOG_SHOW", "1".into()));
    let out = stdout_of_a_router(&env, 3).await;
    assert!(
        !out.lines().any(span_line),
        "spans printed with tracing off:\n{out}"
    );
    assert!(
        out.contains("DEBUG"),
        "DEBUG=1 did not raise the log level:\n{out}"
    );
}

#[tokio::test]
async fn an_unresponsive_zipkin_collector_never_slows_requests() {
    // Accepts connections and never reads nor answers: every export waits for the exporter's timeout.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let client = mictlanx_testkit::peer::http_client();
    let mut router = router_process(
        port,
        dir.path(),
        &[
            ("MICTLANX_PEERS_URI", NO_PEER.into()),
            ("MICTLANX_ROUTER_OPENTELEMETRY", "1".into()),
            ("MICTLANX_JAEGER_ENDPOINT", unreachable_otlp()),
            ("MICTLANX_ZIPKIN_ENDPOINT", format!("http://{silent}")),
            (FAST_BATCHES.0, FAST_BATCHES.1.into()),
        ],
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ok(&client, &format!("{base}/health")).await;
    // The first batch (wait_ok's spans) is now stuck in a post to the silent collector.
    let deadline = Instant::now() + Duration::from_secs(10);
    while accepted.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the router never connected to the Zipkin collector"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let start = Instant::now();
    for _ in 0..20 {
        let res = client.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let res = client
            .get(format!("{base}/api/v4/cache/stats"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
    }
    // 40 local requests take milliseconds; one waiting on the collector would take its 5 s timeout. The
    // bound leaves room for a loaded 2-core machine and stays below that timeout.
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "40 requests took {:?}",
        start.elapsed()
    );

    // Shutdown flushes the batches; the silent collector delays it by at most the export timeout.
    let stop = Instant::now();
    router.signal("TERM");
    assert_eq!(router.wait_exit(Duration::from_secs(30)).await, 0);
    assert!(
        stop.elapsed() < Duration::from_secs(20),
        "shutdown took {:?}",
        stop.elapsed()
    );
}

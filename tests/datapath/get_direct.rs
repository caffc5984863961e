//! GET bytes without the metadata request: with the cache off and no `attachment`, the router asks a
//! holder for the data only and takes the size and content type from the answer's headers. The metadata
//! is still asked when the answer cannot decide (a 404: absent or disabled; no `Content-Length`) or when the
//! response needs it (the attachment name, a cache fill) and the data answer lacks `Mictlanx-Metadata`.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures::TryStreamExt;
use mictlanx_testkit::datapath::{detail, object, peer_info, start, start_with, Cluster};
use serde_json::json;

use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};

/// Sum of `mictlanx_router_peer_requests_total` over the label sets of peers whose id starts with
/// `prefix` (the router's own recorder; peer names no other test uses keep the count unambiguous).
async fn peer_requests(c: &Cluster, prefix: &str) -> u64 {
    let label = format!("mictlanx_router_peer_requests_total{{peer_id=\"{prefix}");
    let text = c.metrics().await;
    text.lines()
        .filter(|l| l.starts_with(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A cache-off router in front of `n` real peers named `{prefix}-{i}` (names no other test uses).
async fn start_named(prefix: &str, n: usize) -> (Cluster, Vec<PeerServer>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut peers = Vec::new();
    let mut infos = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i}");
        let p = spawn_peer_with(peer_config(&id, &dir.path().join(&id))).await;
        infos.push(peer_info(&id, p.addr().port()));
        peers.push(p);
    }
    (start_with(0, infos, cache_off).await, peers, dir)
}

fn cache_off(cfg: &mut mictlanx_router::config::Config) {
    cfg.cache.enabled = false;
    // No probe calls in the counters while a test counts peer requests.
    cfg.replica.health_interval = Duration::from_secs(3600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_off_get_asks_one_peer_once_and_serves_the_exact_bytes() {
    let (c, peers, _dir) = start_named("gd-fast", 2).await;
    let bytes = object(11, 300_000);
    let meta = c
        .put_metadata("fast", "k", &bytes, 1, json!({"fullname": "report.pdf"}))
        .await;
    let task = meta["tasks_ids"][0].as_str().unwrap().to_string();
    assert_eq!(c.put_chunked_raw(&task, bytes.clone()).await.status(), 200);

    let before = peer_requests(&c, "gd-fast").await;
    let res = c.get("/api/v4/buckets/fast/k").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()[header::CONTENT_LENGTH],
        bytes.len().to_string().as_str()
    );
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert!(res.headers().get(header::CONTENT_DISPOSITION).is_none());
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(
        peer_requests(&c, "gd-fast").await - before,
        1,
        "data only, no metadata request"
    );

    // The content_type query still overrides.
    let res = c
        .get("/api/v4/buckets/fast/k?content_type=text/plain")
        .await;
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/plain");

    // attachment=true needs the tags: the data answer's Mictlanx-Metadata header carries them,
    // so still one peer request; the name comes from tags.fullname.
    let before = peer_requests(&c, "gd-fast").await;
    let res = c.get("/api/v4/buckets/fast/k?attachment=true").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"report.pdf\""
    );
    assert_eq!(res.bytes().await.unwrap().len(), bytes.len());
    assert_eq!(peer_requests(&c, "gd-fast").await - before, 1);
    c.stop().await;
    for p in peers {
        p.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_object_is_404_and_keeps_its_replica_records() {
    let c = start(2, cache_off).await;
    let bytes = object(12, 5_000);
    c.put("dis", "k", &bytes, 2).await;
    let res = c
        .http
        .post(c.url("/api/v4/buckets/dis/k/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = c.get("/api/v4/buckets/dis/k").await;
    assert_eq!(res.status(), 404);
    assert_eq!(detail(res).await, "dis@k not found");
    // A disabled object is not a missing one: both holders stay recorded.
    let view = c.app().state.rm.get_replicas("dis", "k").await.unwrap();
    assert_eq!(view.replicas.len(), 2, "records kept: {view:?}");

    // An absent key is 404 with the same text shape.
    let res = c.get("/api/v4/buckets/dis/absent").await;
    assert_eq!(res.status(), 404);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_that_lost_the_object_is_dropped_and_another_serves_it() {
    let c = start(2, cache_off).await;
    let bytes = object(13, 40_000);
    c.put("lost", "k", &bytes, 2).await;
    let first = c
        .app()
        .state
        .rm
        .choose_read_replica("lost", "k")
        .await
        .unwrap()
        .peers[0]
        .clone();
    // Delete the object on the first holder behind the router's back.
    let direct = format!("http://127.0.0.1:{}/api/v4/buckets/lost/k", first.port);
    let res = c.http.delete(direct).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(c.get_bytes("lost", "k").await, bytes);
    let view = c.app().state.rm.get_replicas("lost", "k").await.unwrap();
    assert!(
        view.replicas.iter().all(|p| p.peer_id != first.peer_id),
        "the holder that answered 404 is no longer recorded: {view:?}"
    );
    c.stop().await;
}

/// A proxy in front of a real peer that re-sends every GET body without `Content-Length` (chunked), as
/// a peer that streams without declaring the length would; everything else is forwarded as is.
async fn spawn_chunking_proxy(upstream: String) -> u16 {
    async fn forward(State(upstream): State<String>, req: Request) -> Response {
        let http = mictlanx_testkit::datapath::client();
        let (parts, body) = req.into_parts();
        let url = format!(
            "{upstream}{}",
            parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/")
        );
        let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        let mut out = http.request(parts.method.clone(), url).body(body);
        for (name, value) in parts.headers.iter() {
            if name != header::HOST && name != header::CONTENT_LENGTH {
                out = out.header(name, value);
            }
        }
        let res = out.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let mut response = if parts.method == axum::http::Method::GET {
            Body::from_stream(res.bytes_stream().map_err(std::io::Error::other)).into_response()
        } else {
            Body::from(res.bytes().await.unwrap()).into_response()
        };
        *response.status_mut() = status;
        for (name, value) in headers.iter() {
            if name != header::CONTENT_LENGTH && name != header::TRANSFER_ENCODING {
                response.headers_mut().insert(name, value.clone());
            }
        }
        response
    }
    let app = Router::new().fallback(forward).with_state(upstream);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_without_content_length_is_sized_by_the_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer_with(peer_config("peer-x", &dir.path().join("x"))).await;
    let proxy = spawn_chunking_proxy(format!("http://{}", peer.addr())).await;
    let c = start_with(0, vec![peer_info("peer-x", proxy)], cache_off).await;
    let bytes = object(14, 250_000);
    c.put("chunky", "k", &bytes, 1).await;

    let direct = c
        .http
        .get(format!("http://127.0.0.1:{proxy}/api/v4/buckets/chunky/k"))
        .send()
        .await
        .unwrap();
    assert!(
        direct.headers().get(header::CONTENT_LENGTH).is_none(),
        "the proxy really strips the length"
    );
    drop(direct);

    let before = peer_requests(&c, "peer-x").await;
    let res = c.get("/api/v4/buckets/chunky/k").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_LENGTH],
        bytes.len().to_string().as_str()
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), bytes.as_slice());
    assert_eq!(
        peer_requests(&c, "peer-x").await - before,
        2,
        "data, then metadata for the size"
    );
    c.stop().await;
    peer.shutdown().await;
}

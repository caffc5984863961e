//! HTTP-level acceptance tests of the ball cache (`docs/router-api.md` §7, #21, §6.3): a real router in front of
//! real in-process peers. Hits are served with the peers stopped; reset empties the cache; overwrite,
//! update, disable and delete are never answered with stale cached bytes; an in-flight fill that an
//! overwrite overtakes stores nothing; `Force-Get` bypasses and refreshes; large objects stream uncached;
//! `MICTLANX_CACHE=0` caches nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use mictlanx_proto::model::Metadata;
use mictlanx_router::app::App;
use mictlanx_router::cache::BallCache;
use mictlanx_router::config::Config;
use mictlanx_testkit::datapath::{dto, object, start, Cluster};
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};
use mictlanx_testkit::Peer;
use serde_json::{json, Value};
use tokio::sync::oneshot;

const B: &str = "coh";

fn combined(key: &str) -> String {
    format!("{B}@{key}")
}

fn path(key: &str) -> String {
    format!("/api/v4/buckets/{B}/{key}")
}

/// GET `b/key` (optionally forced); status, headers and the whole body.
async fn get(c: &Cluster, key: &str, forced: bool) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = c.http.get(c.url(&path(key)));
    if forced {
        req = req.header("Force-Get", "1");
    }
    let res = req.send().await.expect("get request");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.bytes().await.expect("get body").to_vec();
    (status, headers, body)
}

/// GET `b/key`, asserting 200 and returning the bytes.
async fn get_ok(c: &Cluster, key: &str) -> Vec<u8> {
    let (status, _, body) = get(c, key, false).await;
    assert_eq!(status, 200, "GET {key}: {}", String::from_utf8_lossy(&body));
    body
}

async fn json_of(c: &Cluster, p: &str) -> Value {
    let res = c.get(p).await;
    assert_eq!(res.status(), 200, "GET {p}");
    res.json().await.expect("JSON body")
}

/// `GET /api/v4/cache`, sorted.
async fn cache_keys(c: &Cluster) -> Vec<String> {
    let body = json_of(c, "/api/v4/cache").await;
    let mut keys: Vec<String> = serde_json::from_value(body["keys"].clone()).expect("keys array");
    keys.sort();
    keys
}

/// `used` of `GET /api/v4/cache/stats`.
async fn cache_used(c: &Cluster) -> u64 {
    json_of(c, "/api/v4/cache/stats").await["used"]
        .as_u64()
        .expect("used is an integer")
}

/// Both phases through the router with ball id `ball`; asserts success.
async fn put_ball(c: &Cluster, key: &str, ball: &str, bytes: &[u8]) {
    let res = c
        .put_metadata_raw(B, dto(B, key, ball, bytes.len(), 1, json!({})))
        .await;
    assert_eq!(res.status(), 200, "phase 1 of {key}");
    let meta: Value = res.json().await.expect("phase 1 JSON");
    let task = meta["tasks_ids"][0].as_str().expect("group id").to_string();
    let res = c.put_chunked_raw(&task, bytes.to_vec()).await;
    assert_eq!(res.status(), 200, "phase 2 of {key}");
}

/// A failed read: the router has no cached copy and no reachable peer.
fn is_miss_without_peers(status: u16) -> bool {
    status == 404 || status == 502
}

async fn stop_all_peers(c: &mut Cluster) {
    for i in 0..c.peers.len() {
        c.kill(i).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_get_is_a_hit_with_peers_stopped_and_reset_empties_the_cache() {
    let mut c = start(2, |_| {}).await;
    let bytes = object(1, 300_000);
    c.put(B, "hot", &bytes, 2).await;
    c.put(B, "cold", &object(2, 1_000), 1).await;
    assert_eq!(
        cache_keys(&c).await,
        Vec::<String>::new(),
        "puts fill nothing"
    );

    assert_eq!(get_ok(&c, "hot").await, bytes);
    assert_eq!(cache_keys(&c).await, vec![combined("hot")]);
    assert_eq!(cache_used(&c).await, bytes.len() as u64);

    stop_all_peers(&mut c).await;
    let (status, headers, body) = get(&c, "hot", false).await;
    assert_eq!(status, 200, "a hit needs no peer");
    assert!(body == bytes, "the hit is byte-identical");
    assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
    assert_eq!(headers["content-type"], "application/octet-stream");
    // Control: a key that was never read is not answered without peers.
    let (status, _, _) = get(&c, "cold", false).await;
    assert!(is_miss_without_peers(status), "uncached key: {status}");

    let res = c.delete("/api/v4/cache/reset").await;
    assert_eq!(res.status(), 204);
    assert_eq!(cache_keys(&c).await, Vec::<String>::new());
    assert_eq!(cache_used(&c).await, 0);
    let (status, _, _) = get(&c, "hot", false).await;
    assert!(
        is_miss_without_peers(status),
        "after reset the object is gone with its peers: {status}"
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_is_never_answered_with_the_cached_old_bytes() {
    // Two peers: rf 1 leaves a free slot, so the overwrite is placed (on the holder).
    let c = start(2, |_| {}).await;
    let old = object(3, 200_000);
    let new = object(4, 150_000);
    c.put(B, "k", &old, 1).await;
    assert_eq!(get_ok(&c, "k").await, old);
    assert_eq!(cache_keys(&c).await, vec![combined("k")]);

    c.put(B, "k", &new, 1).await;
    assert_eq!(
        cache_keys(&c).await,
        Vec::<String>::new(),
        "phase 2 invalidates"
    );
    assert!(
        get_ok(&c, "k").await == new,
        "first GET after the overwrite"
    );
    assert!(get_ok(&c, "k").await == new, "second GET (from the cache)");
    let cached = c.app().state.cache.get(&combined("k")).expect("refilled");
    assert!(cached.bytes == new, "the cache holds the new bytes");
    assert_eq!(cache_used(&c).await, new.len() as u64);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_is_visible_on_the_next_get() {
    let c = start(2, |_| {}).await;
    let bytes = object(5, 50_000);
    c.put(B, "doc", &bytes, 1).await;
    let (status, headers, _) = get(&c, "doc", false).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(cache_keys(&c).await, vec![combined("doc")]);

    let mut body = dto(
        B,
        "doc",
        "doc",
        bytes.len(),
        1,
        json!({"fullname": "report.txt"}),
    );
    body["content_type"] = json!("text/plain");
    let res = c
        .http
        .post(c.url(&format!("/api/v4/u/buckets/{B}/doc")))
        .json(&body)
        .send()
        .await
        .expect("update");
    assert_eq!(res.status(), 204);

    for round in ["after the update", "again (from the cache)"] {
        let res = c.get(&format!("{}?attachment=true", path("doc"))).await;
        assert_eq!(res.status(), 200, "{round}");
        assert_eq!(res.headers()["content-type"], "text/plain", "{round}");
        assert_eq!(
            res.headers()["content-disposition"],
            "attachment; filename=\"report.txt\"",
            "{round}"
        );
        assert!(res.bytes().await.expect("body") == bytes, "{round}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_makes_the_next_get_404() {
    let c = start(2, |_| {}).await;
    c.put(B, "off", &object(6, 40_000), 1).await;
    get_ok(&c, "off").await;
    assert_eq!(cache_keys(&c).await, vec![combined("off")]);

    let res = c
        .http
        .post(c.url(&format!("/api/v4/buckets/{B}/off/disable")))
        .send()
        .await
        .expect("disable");
    assert_eq!(res.status(), 204);
    let (status, _, body) = get(&c, "off", false).await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert_eq!(cache_keys(&c).await, Vec::<String>::new());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_by_key_and_by_ball_make_the_next_get_404() {
    let c = start(2, |_| {}).await;
    c.put(B, "gone", &object(7, 40_000), 1).await;
    put_ball(&c, "chunk_0", "ballx", &object(8, 30_000)).await;
    get_ok(&c, "gone").await;
    get_ok(&c, "chunk_0").await;
    assert_eq!(
        cache_keys(&c).await,
        vec![combined("chunk_0"), combined("gone")]
    );

    let res = c.delete(&path("gone")).await;
    assert_eq!(res.status(), 200);
    let (status, _, _) = get(&c, "gone", false).await;
    assert_eq!(status, 404, "after delete by key");

    let res = c.delete(&format!("/api/v4/buckets/{B}/bid/ballx")).await;
    assert_eq!(res.status(), 200);
    let (status, _, _) = get(&c, "chunk_0", false).await;
    assert_eq!(status, 404, "after delete by ball id");
    assert_eq!(cache_keys(&c).await, Vec::<String>::new());
    assert_eq!(cache_used(&c).await, 0);
    c.stop().await;
}

/// Big enough that the router cannot have relayed it all into socket buffers while the client pauses
/// (loopback send buffers top out at 4 MiB a hop here), well below the default max cacheable size.
const SLOW_SIZE: usize = 16 * 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_overtaken_by_an_overwrite_stores_nothing() {
    let c = start(2, |_| {}).await;
    let old = object(9, SLOW_SIZE);
    let new = object(10, SLOW_SIZE);
    c.put(B, "race", &old, 1).await;

    // The slow reader: headers and a first chunk, then a pause while the overwrite lands.
    let mut slow = c.http.get(c.url(&path("race"))).send().await.expect("get");
    assert_eq!(slow.status(), 200);
    let mut received = slow
        .chunk()
        .await
        .expect("first chunk")
        .expect("a first chunk")
        .to_vec();
    assert!(
        c.app().state.cache.keys().is_empty(),
        "precondition: the fill is still in flight"
    );

    c.put(B, "race", &new, 1).await;
    assert!(c.app().state.cache.keys().is_empty());

    while let Some(chunk) = slow.chunk().await.expect("rest of the slow GET") {
        received.extend_from_slice(&chunk);
    }
    assert_eq!(received.len(), SLOW_SIZE);
    assert!(
        received == old,
        "a read that started before the overwrite streams the old object whole"
    );
    assert!(
        c.app().state.cache.get(&combined("race")).is_none(),
        "the overtaken fill must not store the old bytes"
    );

    assert!(get_ok(&c, "race").await == new, "next GET: the new bytes");
    if let Some(cached) = c.app().state.cache.get(&combined("race")) {
        assert!(
            cached.bytes == new,
            "the cache holds the new bytes or nothing"
        );
    }
    assert!(get_ok(&c, "race").await == new, "and again");
    c.stop().await;
}

fn metadata(key: &str, len: usize) -> Metadata {
    serde_json::from_value(json!({"key": key, "bucket_id": B, "size": len, "checksum": ""}))
        .expect("metadata")
}

#[test]
fn library_fill_started_before_an_invalidation_or_reset_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = BallCache::new(
        &Config::for_tests(dir.path().to_path_buf()).cache,
        &mictlanx_router::telemetry::Metrics::new(),
    );
    let bytes = Bytes::from(object(11, 1_000));
    let key = combined("lib");

    let mut ticket = cache.begin_fill(&key, 1_000).expect("cacheable");
    ticket.push(&bytes);
    cache.invalidate(&key);
    assert!(!cache.finish_fill(ticket, metadata("lib", 1_000), "a/b", "peer-0"));
    assert!(cache.get(&key).is_none());

    let mut ticket = cache.begin_fill(&key, 1_000).expect("cacheable");
    cache.reset();
    ticket.push(&bytes);
    assert!(!cache.finish_fill(ticket, metadata("lib", 1_000), "a/b", "peer-0"));
    assert!(cache.keys().is_empty());

    // Control: a fill that starts after the invalidation lands.
    let mut ticket = cache.begin_fill(&key, 1_000).expect("cacheable");
    ticket.push(&bytes);
    assert!(cache.finish_fill(ticket, metadata("lib", 1_000), "a/b", "peer-0"));
    assert_eq!(cache.get(&key).expect("inserted").bytes, bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_get_bypasses_the_cache() {
    let mut c = start(2, |_| {}).await;
    let bytes = object(12, 100_000);
    c.put(B, "f", &bytes, 2).await;
    assert_eq!(get_ok(&c, "f").await, bytes);
    assert_eq!(cache_keys(&c).await, vec![combined("f")]);

    stop_all_peers(&mut c).await;
    let (status, _, _) = get(&c, "f", true).await;
    assert!(
        is_miss_without_peers(status),
        "a forced GET must not answer from the cache: {status}"
    );
    // The entry is still there: the forced read ignored it rather than missing it.
    assert!(get_ok(&c, "f").await == bytes);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_get_reads_the_peer_and_refreshes_the_entry() {
    let c = start(1, |_| {}).await;
    let bytes = object(13, 80_000);
    c.put(B, "r", &bytes, 1).await;
    // Plant a wrong copy of the right length at the object's current version, as a corrupted entry
    // would look (an entry of another version is never served: see the cross-router tests).
    let stale = vec![b'!'; bytes.len()];
    let version = c.app().state.rm.object_version(B, "r").await.unwrap();
    let cache = &c.app().state.cache;
    let stamp = cache
        .fill_stamp(&combined("r"))
        .expect("cache on")
        .with_version(version.expect("recorded"));
    let mut ticket = cache
        .begin_fill_stamped(stamp, bytes.len() as u64)
        .expect("cacheable");
    ticket.push(&Bytes::from(stale.clone()));
    assert!(c.app().state.cache.finish_fill(
        ticket,
        metadata("r", bytes.len()),
        "application/octet-stream",
        "peer-0"
    ));
    assert!(get_ok(&c, "r").await == stale, "an unforced GET is a hit");

    let (status, _, body) = get(&c, "r", true).await;
    assert_eq!(status, 200);
    assert!(body == bytes, "a forced GET reads the peer");
    let cached = c.app().state.cache.get(&combined("r")).expect("refreshed");
    assert!(cached.bytes == bytes, "the forced read refreshed the entry");
    assert_eq!(
        cache_used(&c).await,
        bytes.len() as u64,
        "replaced, not added"
    );
    assert!(get_ok(&c, "r").await == bytes);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_above_the_max_cacheable_size_stream_uncached() {
    const MAX: usize = 64 * 1024;
    let c = start(1, |cfg| cfg.cache.max_object_size = MAX as u64).await;
    let big = object(14, 300_000);
    let over = object(15, MAX + 1);
    let at = object(16, MAX);
    c.put(B, "big", &big, 1).await;
    c.put(B, "over", &over, 1).await;
    c.put(B, "at", &at, 1).await;
    for _ in 0..2 {
        assert!(get_ok(&c, "big").await == big);
        assert!(get_ok(&c, "over").await == over);
    }
    assert_eq!(cache_keys(&c).await, Vec::<String>::new());
    assert_eq!(cache_used(&c).await, 0);
    // Control: exactly the limit is cacheable.
    assert!(get_ok(&c, "at").await == at);
    assert_eq!(cache_keys(&c).await, vec![combined("at")]);
    assert_eq!(cache_used(&c).await, MAX as u64);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_cache_serves_gets_and_caches_nothing() {
    let mut c = start(1, |cfg| cfg.cache.enabled = false).await;
    let bytes = object(17, 100_000);
    c.put(B, "d", &bytes, 1).await;
    for _ in 0..2 {
        assert!(get_ok(&c, "d").await == bytes);
    }
    assert_eq!(json_of(&c, "/api/v4/cache").await, json!({"keys": []}));
    assert_eq!(
        json_of(&c, "/api/v4/cache/stats").await,
        json!({"total": 0, "used": 0, "available": 0, "uf": 0.0})
    );
    stop_all_peers(&mut c).await;
    let (status, _, _) = get(&c, "d", false).await;
    assert!(
        is_miss_without_peers(status),
        "nothing was cached: {status}"
    );
    c.stop().await;
}

/// Holds the peer's answer to one data GET (after the peer opened the object, before the router sees the
/// headers) until the test releases it.
#[derive(Default)]
struct Gate {
    path: std::sync::Mutex<String>,
    armed: std::sync::Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
}

/// A pass-through HTTP proxy in front of a real peer; see [`Gate`].
struct Proxy {
    upstream: std::net::SocketAddr,
    client: reqwest::Client,
    gate: Arc<Gate>,
}

const HOP_BY_HOP: [&str; 4] = ["host", "connection", "transfer-encoding", "keep-alive"];

async fn forward(State(p): State<Arc<Proxy>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let pq = parts.uri.path_and_query().map_or("/", |x| x.as_str());
    let mut out = p
        .client
        .request(parts.method.clone(), format!("http://{}{pq}", p.upstream));
    for (k, v) in &parts.headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            out = out.header(k, v);
        }
    }
    let out = out.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    let Ok(resp) = out.send().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let held = parts.method == Method::GET && parts.uri.path() == *p.gate.path.lock().unwrap();
    if held {
        let armed = p.gate.armed.lock().unwrap().take();
        if let Some((arrived, release)) = armed {
            let _ = arrived.send(());
            let _ = release.await;
        }
    }
    let mut res = Response::builder().status(resp.status().as_u16());
    for (k, v) in resp.headers() {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            res = res.header(k, v);
        }
    }
    res.body(Body::from_stream(resp.bytes_stream()))
        .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
}

async fn spawn_proxy(upstream: std::net::SocketAddr, gate: Arc<Gate>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("proxy binds");
    let port = listener.local_addr().expect("proxy addr").port();
    let proxy = Arc::new(Proxy {
        upstream,
        client: mictlanx_testkit::datapath::client(),
        gate,
    });
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overwrite_between_the_peer_answer_and_the_fill_start_stores_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let gate = Arc::new(Gate::default());
    let mut peers = Vec::new();
    let mut seeds = Vec::new();
    for i in 0..2 {
        let id = mictlanx_testkit::datapath::peer_id(i);
        let p = spawn_peer_with(peer_config(&id, &dir.path().join(&id))).await;
        let port = spawn_proxy(p.addr(), Arc::clone(&gate)).await;
        seeds.push(mictlanx_testkit::datapath::peer_info(&id, port));
        peers.push(Peer::from_server(p, dir.path().join(&id)));
    }
    let mut cfg = Config::for_tests(dir.path().join("router-state"));
    cfg.seed_peers = seeds;
    cfg.replica.health_interval = Duration::from_millis(200);
    let router = App::spawn(cfg).await.expect("router starts");
    let c = Cluster::from_parts(router, peers, dir);
    c.wait_available(2).await;

    // Same size, different bytes: whichever version the held read streams, its length checks out.
    let old = object(18, 100_000);
    let new = object(19, 100_000);
    c.put(B, "gap", &old, 1).await;

    let (arrived_tx, arrived) = oneshot::channel();
    let (release, release_rx) = oneshot::channel();
    *gate.path.lock().unwrap() = path("gap");
    *gate.armed.lock().unwrap() = Some((arrived_tx, release_rx));
    let reader = {
        let (http, url) = (c.http.clone(), c.url(&path("gap")));
        tokio::spawn(async move {
            let res = http.get(url).send().await.expect("get");
            (res.status().as_u16(), res.bytes().await.map(|b| b.to_vec()))
        })
    };
    tokio::time::timeout(Duration::from_secs(60), arrived)
        .await
        .expect("the data GET reached the peer")
        .expect("gate signal");

    // The peer has answered the read with the old object; the router has not seen the answer yet.
    c.put(B, "gap", &new, 1).await;
    let _ = release.send(());
    let (status, body) = reader.await.expect("reader task");
    assert_eq!(status, 200);
    let body = body.expect("held GET body");
    assert!(body == old || body == new, "one whole version");

    let cached_old = c
        .app()
        .state
        .cache
        .get(&combined("gap"))
        .is_some_and(|hit| hit.bytes != new);
    let next_is_new = get_ok(&c, "gap").await == new;
    assert!(
        !cached_old && next_is_new,
        "a read the peer answered before the overwrite committed filled the cache after the \
         invalidation: cache holds old bytes = {cached_old}, next GET returned the new bytes = \
         {next_is_new} (held read streamed the old version: {})",
        body == old
    );
    c.stop().await;
}

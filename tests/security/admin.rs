//! The admin token, the peer allowlist and the object size limit, through the router binary in front of real
//! storage peers on 127.0.0.1. Invariants: with `MICTLANX_ROUTER_ADMIN_TOKEN(_FILE)` nobody without the token
//! changes the membership or the cache (401 with `WWW-Authenticate`, nothing changed), while data calls need
//! no token and the client's put/get/delete flow still passes; the OpenAPI marks exactly the guarded
//! operations; hosts outside `MICTLANX_ROUTER_PEER_ALLOWLIST` are never registered (403); objects above
//! `MICTLANX_ROUTER_MAX_OBJECT_SIZE` are refused with 413 and nothing is stored.

use std::collections::BTreeSet;
use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::{http_client, peers_uri, spawn_peer};
use mictlanx_testkit::process::{free_port, router_command, router_process, wait_ok, Proc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const TOKEN: &str = "s3cret-admin-token";

struct Router {
    _proc: Proc,
    base: String,
    http: reqwest::Client,
    peers: Vec<PeerServer>,
    dir: TempDir,
}

/// `n` in-process peers and the router binary seeded with them, configured by `env`; waits until ready.
async fn start(n: usize, env: &[(&str, String)]) -> Router {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut peers = Vec::new();
    for i in 0..n {
        peers.push(spawn_peer(&format!("peer-{i}"), &dir.path().join(format!("p{i}"))).await);
    }
    let port = free_port();
    let mut env = env.to_vec();
    env.push((
        "MICTLANX_PEERS_URI",
        peers_uri(&peers.iter().collect::<Vec<_>>()),
    ));
    let proc = router_process(port, &dir.path().join("router"), &env);
    let base = format!("http://127.0.0.1:{port}");
    let http = http_client();
    wait_ok(&http, &format!("{base}/ready")).await;
    Router {
        _proc: proc,
        base,
        http,
        peers,
        dir,
    }
}

impl Router {
    fn req(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => req.header("Authorization", format!("Bearer {t}")),
            None => req,
        }
    }

    async fn peer_ids(&self) -> BTreeSet<String> {
        let v: Value = self
            .req(Method::GET, "/api/v4/peers", None)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ["available", "unavailable"]
            .iter()
            .flat_map(|k| v[k].as_array().unwrap().clone())
            .map(|p| p["peer_id"].as_str().unwrap().to_string())
            .collect()
    }
}

fn payload(id: &str, host: &str, port: u16) -> Value {
    json!({"protocol": "http", "peer_id": id, "hostname": host, "port": port})
}

async fn assert_401(res: reqwest::Response, detail: &str) {
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer realm="mictlanx-router""#
    );
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.expect("json 401");
    assert_eq!(body["detail"], detail);
}

const MISSING: &str = "Not authenticated: this endpoint needs Authorization: Bearer <admin token>";
const INVALID: &str = "Invalid admin token";

/// The MictlanX client's put / get / delete of one object, without any credentials.
async fn client_flow(r: &Router, bucket: &str, key: &str, bytes: &[u8]) {
    let checksum = hex::encode(Sha256::digest(bytes));
    let meta = json!({
        "bucket_id": bucket, "key": key, "ball_id": key, "checksum": checksum, "size": bytes.len(),
        "tags": {"full_checksum": checksum, "index": "0", "num_chunks": "1"},
        "producer_id": "client-0", "content_type": "application/octet-stream", "replication_factor": 2,
    });
    let res = r
        .req(
            Method::POST,
            &format!("/api/v4/buckets/{bucket}/metadata"),
            None,
        )
        .json(&meta)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "phase 1: {:?}", res.text().await);
    let group = res.json::<Value>().await.unwrap()["tasks_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let frames: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
        .chunks(64 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let res = r
        .req(
            Method::POST,
            &format!("/api/v4/buckets/data/{group}/chunked"),
            None,
        )
        .header("Chunk-Size", "256kb")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(frames)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "phase 2: {:?}", res.text().await);
    let res = r
        .req(
            Method::GET,
            &format!("/api/v4/buckets/{bucket}/metadata/{key}"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let md: Value = res.json().await.unwrap();
    assert_eq!(md["metadata"]["checksum"], checksum);
    let res = r
        .req(
            Method::GET,
            &format!("/api/v4/buckets/{bucket}/{key}"),
            None,
        )
        .header("Force-Get", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), bytes);
    let res = r
        .req(
            Method::DELETE,
            &format!("/api/v4/buckets/{bucket}/{key}"),
            None,
        )
        .header("Force", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = r
        .req(
            Method::GET,
            &format!("/api/v4/buckets/{bucket}/metadata/{key}"),
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "the delete holds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_endpoints_need_the_token_and_data_calls_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("admin.token");
    std::fs::write(&token_file, format!("  {TOKEN}\n")).unwrap();
    let r = start(
        2,
        &[(
            "MICTLANX_ROUTER_ADMIN_TOKEN_FILE",
            token_file.display().to_string(),
        )],
    )
    .await;
    let extra = spawn_peer("peer-x", &r.dir.path().join("px")).await;
    let extra_payload = payload("peer-x", "127.0.0.1", extra.addr().port());
    let seeded: BTreeSet<String> = ["peer-0", "peer-1"].map(String::from).into();
    assert_eq!(r.peer_ids().await, seeded);

    // add one peer: no token, a token in the wrong scheme, a wrong token, a bad body without a token
    let add = |token: Option<&str>| r.req(Method::POST, "/api/v4/peers", token);
    assert_401(
        add(None).json(&extra_payload).send().await.unwrap(),
        MISSING,
    )
    .await;
    let basic = add(None)
        .header("Authorization", format!("Basic {TOKEN}"))
        .json(&extra_payload);
    assert_401(basic.send().await.unwrap(), MISSING).await;
    assert_401(
        add(Some("s3cret-admin-tokem"))
            .json(&extra_payload)
            .send()
            .await
            .unwrap(),
        INVALID,
    )
    .await;
    let bad_body = add(None).body("not json").send().await.unwrap();
    assert_401(bad_body, MISSING).await;
    assert_eq!(r.peer_ids().await, seeded, "nothing was registered");
    let res = add(Some(TOKEN)).json(&extra_payload).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(r.peer_ids().await.contains("peer-x"));

    // remove it again, one and many
    let res = r
        .req(Method::DELETE, "/api/v4/peers/peer-x", None)
        .send()
        .await
        .unwrap();
    assert_401(res, MISSING).await;
    assert!(r.peer_ids().await.contains("peer-x"), "still registered");
    let res = r
        .req(Method::DELETE, "/api/v4/peers/peer-x", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(!r.peer_ids().await.contains("peer-x"));
    let bulk = json!([extra_payload]);
    let res = r
        .req(Method::POST, "/api/v4/xpeers", Some("x"))
        .json(&bulk)
        .send()
        .await
        .unwrap();
    assert_401(res, INVALID).await;
    let res = r
        .req(Method::POST, "/api/v4/xpeers", Some(TOKEN))
        .json(&bulk)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = r
        .req(Method::DELETE, "/api/v4/xpeers?peers=peer-x", None)
        .send()
        .await
        .unwrap();
    assert_401(res, MISSING).await;
    assert!(r.peer_ids().await.contains("peer-x"));
    let res = r
        .req(Method::DELETE, "/api/v4/xpeers?peers=peer-x", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.peer_ids().await, seeded);

    // data calls and reads of the space need no token: the client's whole flow
    client_flow(&r, "sec-bucket", "obj-1", &vec![7u8; 700_000]).await;
    for path in [
        "/api/v4/peers/stats",
        "/api/v4/cache",
        "/api/v4/cache/stats",
        "/health",
    ] {
        let res = r.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
    }

    // the cache reset
    let res = r
        .req(Method::DELETE, "/api/v4/cache/reset", None)
        .send()
        .await
        .unwrap();
    assert_401(res, MISSING).await;
    let res = r
        .req(Method::DELETE, "/api/v4/cache/reset", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);

    let metrics = r
        .req(Method::GET, "/metrics", None)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |reason: &str| -> f64 {
        let prefix = format!("mictlanx_router_admin_denied_total{{reason=\"{reason}\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in /metrics"))
    };
    assert_eq!(count("missing"), 6.0);
    assert_eq!(count("invalid"), 2.0);
    drop(extra);
}

/// A request for every operation of `/openapi.json` (path parameters `x`, an empty JSON array body).
async fn call_every_operation(r: &Router, doc: &Value) -> Vec<(String, String, StatusCode)> {
    let mut out = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let concrete: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let res = r
                .req(m, &concrete, None)
                .json(&json!([]))
                .send()
                .await
                .unwrap();
            out.push((method.clone(), path.clone(), res.status()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_marks_exactly_the_guarded_operations() {
    let guarded: BTreeSet<(String, String)> = [
        ("post", "/api/v4/peers"),
        ("post", "/api/v4/xpeers"),
        ("delete", "/api/v4/peers/{peer_id}"),
        ("delete", "/api/v4/xpeers"),
        ("delete", "/api/v4/cache/reset"),
        ("post", "/api/v4/peers/{peer_id}/drain"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    let r = start(1, &[("MICTLANX_ROUTER_ADMIN_TOKEN", TOKEN.into())]).await;
    let doc: Value = r
        .req(Method::GET, "/openapi.json", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["type"],
        "http"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut marked = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            if op.get("security").is_some() {
                assert_eq!(op["security"], json!([{"bearer": []}]), "{method} {path}");
                assert!(
                    op["responses"]["401"].is_object(),
                    "{method} {path}: no 401"
                );
                marked.insert((method.clone(), path.clone()));
            }
        }
    }
    assert_eq!(marked, guarded);
    // Every documented operation, called without a token: 401 exactly where the document says so.
    for (method, path, status) in call_every_operation(&r, &doc).await {
        let is_guarded = guarded.contains(&(method.clone(), path.clone()));
        assert_eq!(
            status == StatusCode::UNAUTHORIZED,
            is_guarded,
            "{method} {path}: {status}"
        );
    }

    // Without a token the requirement is optional, as the router then behaves.
    let open = start(1, &[]).await;
    let doc: Value = open
        .req(Method::GET, "/openapi.json", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["paths"]["/api/v4/peers"]["post"]["security"],
        json!([{}, {"bearer": []}])
    );
    let peer = &open.peers[0];
    let res = open
        .req(Method::POST, "/api/v4/peers", None)
        .json(&payload("peer-0", "127.0.0.1", peer.addr().port()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::NO_CONTENT,
        "the client's own add-peers call"
    );
}

/// Runs the router binary with `env` until it is healthy, stops it, and returns its log (stdout).
async fn startup_log(env: &[(&str, String)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut env = env.to_vec();
    env.push((
        "MICTLANX_PEERS_URI",
        "mictlanx://p0@127.0.0.1:1/?protocol=http&api_version=4".into(),
    ));
    let mut cmd = router_command(port, dir.path(), &env);
    cmd.stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("router starts");
    let mut stdout = child.stdout.take().unwrap();
    let mut proc = Proc(Some(child));
    wait_ok(&http_client(), &format!("http://127.0.0.1:{port}/health")).await;
    proc.signal("TERM");
    assert_eq!(proc.wait_exit(Duration::from_secs(30)).await, 0);
    let mut log = String::new();
    stdout.read_to_string(&mut log).unwrap();
    log
}

#[tokio::test]
async fn an_open_router_warns_exactly_once_at_start_up() {
    let warning = "MICTLANX_ROUTER_ADMIN_TOKEN is not set";
    let log = startup_log(&[]).await;
    assert_eq!(log.matches(warning).count(), 1, "{log}");
    let log = startup_log(&[("MICTLANX_ROUTER_ADMIN_TOKEN", TOKEN.into())]).await;
    assert_eq!(log.matches(warning).count(), 0, "{log}");
    assert!(!log.contains(TOKEN), "the token is never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allowlist_refuses_hosts_outside_it_and_trusts_the_seeds() {
    // 127.0.0.1 is outside the list: the seed peer (on 127.0.0.1) is trusted anyway.
    let r = start(
        1,
        &[(
            "MICTLANX_ROUTER_PEER_ALLOWLIST",
            "10.0.0.0/8, fd00::/8, peer.internal".into(),
        )],
    )
    .await;
    let port = r.peers[0].addr().port();
    let add = |body: Value| {
        r.req(Method::POST, "/api/v4/peers", None)
            .json(&body)
            .send()
    };
    for host in [
        "127.0.0.1",
        "localhost",
        "192.168.1.10",
        "peer.internal.evil",
        "[fe80::1]",
    ] {
        let res = add(payload("intruder", host, port)).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{host}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["detail"],
            format!("Peer host '{host}' is not in MICTLANX_ROUTER_PEER_ALLOWLIST")
        );
    }
    let bulk = json!([
        payload("ok-1", "10.1.2.3", 1),
        payload("intruder", "127.0.0.2", port)
    ]);
    let res = r
        .req(Method::POST, "/api/v4/xpeers", None)
        .json(&bulk)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let only_seed: BTreeSet<String> = ["peer-0".to_string()].into();
    assert_eq!(
        r.peer_ids().await,
        only_seed,
        "nothing of a refused batch is registered"
    );
    for (id, host) in [
        ("ok-1", "10.1.2.3"),
        ("ok-2", "fd00::7"),
        ("ok-3", "PEER.internal"),
    ] {
        let res = add(payload(id, host, 25000)).await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT, "{host}");
    }
    assert_eq!(r.peer_ids().await.len(), 4);
    // The seed peer outside the list still serves data.
    client_flow(&r, "allow", "k", b"bytes through a trusted seed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_above_the_size_limit_are_413_and_not_stored() {
    let r = start(1, &[("MICTLANX_ROUTER_MAX_OBJECT_SIZE", "1000".into())]).await;
    let meta = |key: &str, size: usize| {
        json!({"bucket_id": "b", "key": key, "ball_id": key, "checksum": "-", "size": size,
               "tags": {}, "producer_id": "t", "content_type": "application/octet-stream",
               "replication_factor": 1})
    };
    let res = r
        .req(Method::POST, "/api/v4/buckets/b/metadata", None)
        .json(&meta("big", 1001))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["detail"],
        "Object too large: 1001 bytes, the limit is 1000 bytes (MICTLANX_ROUTER_MAX_OBJECT_SIZE)"
    );
    let res = r
        .req(Method::POST, "/api/v4/buckets/b/metadata", None)
        .json(&meta("fits", 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let group = res.json::<Value>().await.unwrap()["tasks_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let upload = format!("/api/v4/buckets/data/{group}/chunked");
    // A declared body above the limit is refused before it is read; the group stays usable.
    let res = r
        .req(Method::POST, &upload, None)
        .body(vec![1u8; 1001])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A streamed body (no Content-Length) that grows past the group's size is refused too.
    let frames: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(vec![1u8; 600]), Ok(vec![1u8; 600])];
    let res = r
        .req(Method::POST, &upload, None)
        .body(reqwest::Body::wrap_stream(futures::stream::iter(frames)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = r
        .req(Method::GET, "/api/v4/buckets/b/metadata/fits", None)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "nothing stored");
    let res = r
        .req(Method::POST, &upload, None)
        .body(vec![2u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let res = r
        .req(Method::GET, "/api/v4/buckets/b/fits", None)
        .header("Force-Get", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap(), vec![2u8; 1000]);
}

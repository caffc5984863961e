//! Peer access control and the request-head deadline (`docs/peer-api.md` §9–§14): with
//! `MICTLANX_PEER_TOKEN` every write needs `Authorization: Bearer`, reads only with `_READS=1`, `/health`
//! never; a peer's own replicate pulls carry its token; a half-sent head is cut after
//! `MICTLANX_PEER_HEADER_TIMEOUT` while idle keep-alive connections stay usable. Invariant: nothing changes
//! without the token.

use std::time::{Duration, Instant};

use mictlanx_peer::auth::PeerToken;
use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "peer-secret-1";

async fn secured(id: &str, dir: &std::path::Path, reads: bool) -> PeerServer {
    let mut cfg = peer_config(id, dir);
    cfg.token = PeerToken::new(TOKEN);
    cfg.token_reads = reads;
    spawn_peer_with(cfg).await
}

fn authed() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    reqwest::Client::builder()
        .default_headers(h)
        .build()
        .unwrap()
}

async fn assert_401(res: reqwest::Response, what: &str) {
    assert_eq!(res.status(), 401, "{what}");
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"mictlanx-peer\"",
        "{what}"
    );
    let v: Value = res.json().await.unwrap();
    assert!(
        v["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{what}: {v}"
    );
}

#[tokio::test]
async fn writes_need_the_token_reads_do_not_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let peer = secured("p-auth", dir.path(), false).await;
    let (anon, ok) = (http_client(), authed());
    let url = |p: &str| format!("{}{p}", peer.base_url());
    let meta = json!({"key": "k", "size": 2, "checksum": "c", "producer_id": "p"});
    assert_401(
        put_metadata_raw(&anon, &peer, "b", meta.clone(), &[]).await,
        "put metadata",
    )
    .await;
    let wrong = put_metadata_raw(
        &anon,
        &peer,
        "b",
        meta.clone(),
        &[("Authorization", "Bearer nope")],
    )
    .await;
    assert_401(wrong, "wrong token").await;
    assert_eq!(peer.pending_tasks(), 0, "no task from refused calls");

    let task = put_metadata(&ok, &peer, "b", "k", 2).await;
    assert_401(
        upload_chunked(&anon, &peer, &task, "hi").await,
        "chunked upload",
    )
    .await;
    assert_401(
        upload_multipart(&anon, &peer, &task, object_stream(1, 2)).await,
        "multipart upload",
    )
    .await;
    assert_eq!(upload_chunked(&ok, &peer, &task, "hi").await.status(), 201);

    // reads work without the token
    assert_eq!(get_object_sha(&anon, &peer, "b", "k").await.2, 2);
    assert_eq!(get_json(&anon, &peer, "/api/v4/stats").await.0, 200);

    let refused = [
        anon.post(url("/api/v4/buckets/b/k/disable")),
        anon.post(url("/api/v4/buckets/b/k/replicate")),
        anon.delete(url("/api/v4/buckets/b/k")),
        anon.delete(url("/api/v4/buckets/b/bid/k")),
        anon.delete(url("/api/v4/tasks")),
        anon.post(url("/api/v4/nodes"))
            .json(&json!({"id": "n", "disk": 1, "memory": 1,
            "ip_addr": "h", "port": 1, "weight": 1.0, "used_disk": 0, "used_memory": 0})),
    ];
    for req in refused {
        let req = req.build().unwrap();
        let what = format!("{} {}", req.method(), req.url().path());
        assert_401(anon.execute(req).await.unwrap(), &what).await;
    }
    let (_, v) = get_json(&anon, &peer, "/api/v4/buckets/b/metadata/k").await;
    assert_eq!(v["metadata"]["is_disabled"], false, "nothing changed");
    assert_eq!(
        get_json(&anon, &peer, "/api/v4/stats").await.1["peers"],
        json!([])
    );

    let res = ok
        .post(url("/api/v4/buckets/b/k/disable"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = ok.delete(url("/api/v4/buckets/b/k")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        ok.delete(url("/api/v4/tasks"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn with_token_reads_every_route_but_health_needs_it_and_replication_sends_it() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = secured("p-a", da.path(), true).await;
    let mut cfg = peer_config("p-b", db.path());
    cfg.token = PeerToken::new(TOKEN);
    cfg.token_reads = true;
    cfg.peers = vec![a.base_url()];
    let b = spawn_peer_with(cfg).await;
    let (anon, ok) = (http_client(), authed());

    let task = put_metadata(&ok, &a, "b", "k", 5).await;
    assert_eq!(upload_chunked(&ok, &a, &task, "hello").await.status(), 201);
    for path in [
        "/api/v4/buckets/b/k",
        "/api/v4/buckets/b/metadata/k",
        "/api/v4/stats",
        "/api/v4/xballs",
    ] {
        let res = anon
            .get(format!("{}{path}", a.base_url()))
            .send()
            .await
            .unwrap();
        assert_401(res, path).await;
        let res = ok
            .get(format!("{}{path}", a.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path} with the token");
    }
    assert_eq!(get_json(&anon, &a, "/health").await.0, 200);
    // unknown routes keep their 404 (nothing to protect)
    assert_eq!(get_json(&anon, &a, "/nope").await.0, 404);

    // b pulls from a, which answers only authenticated reads
    let res = ok
        .post(format!("{}/api/v4/buckets/b/k/replicate", b.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let res = ok
        .get(format!("{}/api/v4/buckets/b/k", b.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "hello");
    a.shutdown().await;
    b.shutdown().await;
}

/// Read one HTTP/1.1 answer of `GET /health` (its body is small and has a Content-Length).
async fn read_health(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&out).ends_with('}') {
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("answer in time, got {}", String::from_utf8_lossy(&out)))
            .unwrap();
        assert!(
            n > 0,
            "connection closed early: {}",
            String::from_utf8_lossy(&out)
        );
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn a_half_sent_head_is_cut_but_idle_keep_alive_connections_stay() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = peer_config("p-head", dir.path());
    cfg.header_timeout = Duration::from_millis(300);
    let peer = spawn_peer_with(cfg).await;

    let mut slow = TcpStream::connect(peer.addr()).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: peer\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // hyper may answer 408 before closing
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a half-sent head must close the connection");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the deadline"
    );

    let mut kept = TcpStream::connect(peer.addr()).await.unwrap();
    for round in 0..2 {
        kept.write_all(b"GET /health HTTP/1.1\r\nHost: peer\r\n\r\n")
            .await
            .unwrap();
        let answer = read_health(&mut kept).await;
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "round {round}: {answer}"
        );
        // idle well past the head deadline: the connection must still serve the next request
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    peer.shutdown().await;
}

#[test]
fn both_token_variables_stop_startup() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "x").unwrap();
    let out = std::process::Command::new(mictlanx_testkit::bins::peer_bin())
        .env_clear()
        .env("MICTLANX_PEER_TOKEN", "secret-value")
        .env("MICTLANX_PEER_TOKEN_FILE", &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("invalid MICTLANX_PEER_TOKEN_FILE="),
        "{stderr}"
    );
    assert!(!stderr.contains("secret-value"));
}

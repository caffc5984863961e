//! Router ↔ peer authentication and end-to-end integrity, with real peers that require a token
//! (`MICTLANX_PEER_TOKEN`, for reads too with `MICTLANX_PEER_TOKEN_READS`). Invariants: a router holding the
//! token works normally through such peers (probes, phase 1 and 2, reads, deletes all carry it) while
//! unauthenticated writes are refused (401) and a router without the token stores nothing; an upload whose
//! bytes do not match its 64-hex checksum is 400 with the peers' detail, and the key stays absent or keeps
//! its previous version (no silent corruption).

use std::time::Duration;

use futures::StreamExt;
use mictlanx_peer::auth::PeerToken;
use mictlanx_router::app::App;
use mictlanx_router::config::{Config, PeerIoConfig};
use mictlanx_router::peer_client::{PeerClient, PeerError, PeerPutMetadata};
use mictlanx_router::security::Secret;
use mictlanx_testkit::datapath::{object, peer_id, peer_info, Cluster};
use mictlanx_testkit::peer::{peer_config, spawn_peer_with};
use mictlanx_testkit::Peer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PEER_TOKEN: &str = "peer-shared-secret";

/// `n` peers requiring the token (for reads too when `reads`), and a router holding `router_token`.
async fn cluster(n: usize, reads: bool, router_token: Option<&str>) -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let mut peers = Vec::new();
    let mut ports = Vec::new();
    for i in 0..n {
        let mut cfg = peer_config(&peer_id(i), &dir.path().join(peer_id(i)));
        cfg.token = PeerToken::new(PEER_TOKEN);
        cfg.token_reads = reads;
        let p = spawn_peer_with(cfg).await;
        ports.push(p.addr().port());
        peers.push(Peer::from_server(p, dir.path().join(peer_id(i))));
    }
    let mut cfg = Config::for_tests(dir.path().join("router-state"));
    cfg.seed_peers = (0..n).map(|i| peer_info(&peer_id(i), ports[i])).collect();
    cfg.replica.health_interval = Duration::from_millis(200);
    cfg.peer_io.peer_token = router_token.map(|t| Secret::parse(t).unwrap());
    let router = App::spawn(cfg).await.expect("router starts");
    Cluster::from_parts(router, peers, dir)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Phase 1 declaring `checksum` for `bytes`, then phase 2 with `sent`; the phase-2 response.
async fn put_declaring(
    c: &Cluster,
    key: &str,
    bytes: &[u8],
    checksum: &str,
    sent: Vec<u8>,
) -> reqwest::Response {
    let body = json!({
        "bucket_id": "b", "key": key, "ball_id": key, "checksum": checksum, "size": bytes.len(),
        "tags": {"full_checksum": checksum}, "producer_id": "client", "content_type": "application/octet-stream",
        "replication_factor": 2,
    });
    let res = c.put_metadata_raw("b", body).await;
    assert_eq!(res.status(), 200, "phase 1: {:?}", res.text().await);
    let meta: Value = res.json().await.unwrap();
    c.put_chunked_raw(meta["tasks_ids"][0].as_str().unwrap(), sent)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_with_the_token_works_through_peers_that_require_it_for_everything() {
    let c = cluster(2, true, Some(PEER_TOKEN)).await;
    c.wait_available(2).await; // health probes carry the token
    let bytes = object(3, 900_000);
    let checksum = sha256_hex(&bytes);
    let res = put_declaring(&c, "k", &bytes, &checksum, bytes.clone()).await;
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["peer_ids"].as_array().unwrap().len(), 2);
    assert_eq!(c.get_bytes("b", "k").await, bytes, "streamed download");
    let md: Value = c
        .get("/api/v4/buckets/b/metadata/k")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(md["metadata"]["checksum"], checksum);
    assert_eq!(c.listing("b").await.len(), 1);
    let sizes: Value = c
        .get("/api/v4/buckets/b/k/size")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sizes.as_array().unwrap().len(), 2);
    let stats: Value = c.get("/api/v4/peers/stats").await.json().await.unwrap();
    assert_eq!(stats.as_object().unwrap().len(), 2);
    let meta = c
        .put_metadata("b", "mp", b"multipart bytes", 2, json!({}))
        .await;
    let group = meta["tasks_ids"][0].as_str().unwrap();
    let res = c.put_multipart_raw(group, b"multipart bytes").await;
    assert_eq!(res.status(), 201);
    assert_eq!(c.get_bytes("b", "mp").await, b"multipart bytes");
    assert_eq!(c.delete("/api/v4/buckets/b/k").await.status(), 200);
    assert_eq!(c.get("/api/v4/buckets/b/metadata/k").await.status(), 404);

    // The peers really require it: a direct write without the token is refused.
    let peer = c.peers[0].server();
    let direct = c
        .http
        .post(format!("http://{}/api/v4/buckets/b/metadata", peer.addr()))
        .json(
            &json!({"bucket_id": "b", "key": "x", "ball_id": "x", "checksum": "", "size": 1,
                      "tags": {}, "producer_id": "p", "content_type": "x"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), 401);
    assert!(direct.headers().contains_key("www-authenticate"));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_client_sends_the_token_on_every_call() {
    let c = cluster(1, true, None).await;
    let peer = c.peers[0].server();
    let info = peer_info(&peer_id(0), peer.addr().port());
    let io = |token: Option<&str>| PeerIoConfig {
        connect_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(30),
        peer_timeout: Duration::from_secs(30),
        fanout_concurrency: 4,
        peer_tls_ca: None,
        fanout_deadline: Duration::from_secs(2),
        peer_token: token.map(|t| Secret::parse(t).unwrap()),
    };
    let with = PeerClient::new(&io(Some(PEER_TOKEN)), false).unwrap();
    let without = PeerClient::new(&io(None), false).unwrap();
    let wrong = PeerClient::new(&io(Some("not-the-token")), false).unwrap();
    let meta = PeerPutMetadata {
        bucket_id: "b".into(),
        key: "k".into(),
        ball_id: "k".into(),
        checksum: sha256_hex(b"hello"),
        size: 5,
        tags: Default::default(),
        producer_id: "router".into(),
        content_type: "text/plain".into(),
        is_disabled: false,
    };
    for refused in [&without, &wrong] {
        assert!(matches!(
            refused.probe_ufs(&info, Duration::from_secs(5)).await,
            Err(PeerError::Status { status: 401, .. })
        ));
        assert!(matches!(
            refused
                .put_metadata(&info, "b", &meta, Some("g"), "0")
                .await,
            Err(PeerError::Status { status: 401, .. })
        ));
    }
    with.probe_ufs(&info, Duration::from_secs(5)).await.unwrap();
    with.put_metadata(&info, "b", &meta, Some("g"), "0")
        .await
        .unwrap();
    let body = reqwest::Body::from("hello");
    with.upload_chunked(&info, "g", 5, body).await.unwrap();
    assert!(matches!(
        without.get_data(&info, "b", "k").await,
        Err(PeerError::Status { status: 401, .. })
    ));
    let mut got = Vec::new();
    let mut stream = with.get_data(&info, "b", "k").await.unwrap().bytes_stream();
    while let Some(piece) = stream.next().await {
        got.extend_from_slice(&piece.unwrap());
    }
    assert_eq!(got, b"hello");
    with.get_metadata(&info, "b", "k").await.unwrap();
    with.xballs(&info, 0, 10).await.unwrap();
    with.stats(&info, 0, 10).await.unwrap();
    with.disable(&info, "b", "k").await.unwrap();
    assert_eq!(with.delete(&info, "b", "k", true).await.unwrap(), 1);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_without_the_token_stores_nothing_on_guarded_peers() {
    let c = cluster(2, false, None).await;
    c.wait_available(2).await; // reads are open, so probes pass
    let body = mictlanx_testkit::datapath::dto("b", "k", "k", 10, 2, json!({}));
    let res = c.put_metadata_raw("b", body).await;
    assert_eq!(res.status(), 502);
    let detail = mictlanx_testkit::datapath::detail(res).await;
    assert!(detail.as_str().unwrap().contains("401"), "{detail}");
    assert!(c.listing("b").await.is_empty());
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_that_do_not_match_their_checksum_are_400_and_never_visible() {
    // Three peers, rf 2: the overwrite below has a free slot, so it is placed on the two holders.
    let c = cluster(3, true, Some(PEER_TOKEN)).await;
    c.wait_available(3).await;
    let good = object(1, 300_000);
    let mut flipped = good.clone();
    flipped[150_000] ^= 0x01;
    let declared = sha256_hex(&good);

    // A new key: refused by both replicas, absent afterwards.
    let res = put_declaring(&c, "new", &good, &declared, flipped.clone()).await;
    assert_eq!(res.status(), 400);
    let detail = mictlanx_testkit::datapath::detail(res).await;
    let text = detail.as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "Checksum mismatch: declared {declared} != computed "
        )),
        "{text}"
    );
    assert!(text.contains(&sha256_hex(&flipped)), "{text}");
    assert_eq!(c.get("/api/v4/buckets/b/metadata/new").await.status(), 404);
    assert_eq!(c.get("/api/v4/buckets/b/new").await.status(), 404);
    assert!(c.listing("b").await.is_empty());

    // An existing key keeps its previous version.
    let res = put_declaring(&c, "old", &good, &declared, good.clone()).await;
    assert_eq!(res.status(), 200);
    let newer = object(2, 300_000);
    let res = put_declaring(&c, "old", &newer, &sha256_hex(&newer), flipped).await;
    assert_eq!(res.status(), 400);
    assert_eq!(c.get_bytes("b", "old").await, good);
    let md: Value = c
        .get("/api/v4/buckets/b/metadata/old")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(md["metadata"]["checksum"], declared);
    c.stop().await;
}

//! `PeerClient` failure classification and connection settings against raw sockets: a refused port, a peer
//! that accepts and never answers, a peer answering 5xx/507/404, the test-mode host rewrite and the extra
//! CA bundle for https peers.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Json;
use mictlanx_router::cluster::{PeerInfo, PeerOutcome};
use mictlanx_router::config::Config;
use mictlanx_router::peer_client::{PeerClient, PeerError};
use serde_json::json;
use tokio::net::TcpListener;

fn peer(host: &str, port: u16) -> PeerInfo {
    PeerInfo {
        peer_id: "x".into(),
        ip_addr: host.into(),
        port,
        protocol: "http".into(),
        api_version: 4,
    }
}

fn config() -> Config {
    let mut cfg = Config::for_tests(std::env::temp_dir());
    cfg.peer_io.connect_timeout = Duration::from_secs(2);
    cfg.peer_io.peer_timeout = Duration::from_millis(300);
    cfg
}

/// A stand-in peer answering fixed statuses on a few paths.
async fn fake_peer() -> u16 {
    let app = axum::Router::new()
        .route(
            "/api/v4/stats/ufs",
            get(|| async { Json(json!({"total_disk": 10, "used_disk": 4, "disk_uf": 0.4})) }),
        )
        .route(
            "/api/v4/xballs",
            get(|| async {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"detail": "boom"})),
                )
            }),
        )
        .route(
            "/api/v4/buckets/{b}/metadata/{k}",
            get(|| async {
                (
                    StatusCode::NOT_FOUND,
                    Json(json!({"detail": "b@k not found"})),
                )
            }),
        )
        .route(
            "/api/v4/buckets/{b}/{k}",
            get(|| async { (StatusCode::INSUFFICIENT_STORAGE, "full") }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

#[tokio::test]
async fn refused_connections_are_connect_errors() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let cfg = config();
    let c = PeerClient::new(&cfg.peer_io, false).unwrap();
    let err = c.stats_ufs(&peer("127.0.0.1", port)).await.unwrap_err();
    assert!(matches!(err, PeerError::Connect(_)), "{err:?}");
    assert_eq!(err.outcome(), PeerOutcome::Connect);
}

#[tokio::test]
async fn a_silent_peer_hits_the_total_timeout_on_json_calls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            open.push(sock);
        }
    });
    let cfg = config();
    let c = PeerClient::new(&cfg.peer_io, false).unwrap();
    let started = std::time::Instant::now();
    let err = c
        .get_metadata(&peer("127.0.0.1", port), "b", "k")
        .await
        .unwrap_err();
    assert!(matches!(err, PeerError::Timeout(_)), "{err:?}");
    assert!(err.is_fault());
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "bounded by the peer timeout"
    );
    hold.abort();
}

#[tokio::test]
async fn answers_are_classified_by_status() {
    let port = fake_peer().await;
    let cfg = config();
    let c = PeerClient::new(&cfg.peer_io, false).unwrap();
    let p = peer("127.0.0.1", port);
    let ufs = c.stats_ufs(&p).await.unwrap();
    assert_eq!((ufs.total_disk, ufs.used_disk), (10, 4));

    let err = c.xballs(&p, 0, 10).await.unwrap_err();
    assert_eq!(
        err,
        PeerError::Status {
            status: 500,
            detail: "boom".into()
        }
    );
    assert_eq!(err.outcome(), PeerOutcome::ServerError(500));

    let err = c.get_metadata(&p, "b", "k").await.unwrap_err();
    assert_eq!(err, PeerError::NotFound("b@k not found".into()));
    assert!(!err.is_fault(), "a 404 is an answer");

    let err = c.get_data(&p, "b", "k").await.unwrap_err();
    assert_eq!(err.status(), Some(507));
    assert_eq!(err.outcome(), PeerOutcome::InsufficientStorage);
    assert!(!err.is_fault());
}

#[tokio::test]
async fn test_mode_rewrites_every_peer_host_to_localhost() {
    let port = fake_peer().await;
    let cfg = config();
    let c = PeerClient::new(&cfg.peer_io, true).unwrap();
    let ufs = c
        .stats_ufs(&peer("mictlanx-peer-0.invalid", port))
        .await
        .unwrap();
    assert_eq!(ufs.total_disk, 10);
    let plain = PeerClient::new(&cfg.peer_io, false).unwrap();
    assert!(plain
        .stats_ufs(&peer("mictlanx-peer-0.invalid", port))
        .await
        .is_err());
}

#[tokio::test]
async fn extra_peer_ca_bundle_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, ca.cert.pem()).unwrap();
    let mut cfg = config();
    cfg.peer_io.peer_tls_ca = Some(path);
    assert!(PeerClient::new(&cfg.peer_io, false).is_ok());
    cfg.peer_io.peer_tls_ca = Some(dir.path().join("missing.pem"));
    let err = PeerClient::new(&cfg.peer_io, false).unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

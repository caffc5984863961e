//! The lean GET path to `http` peers (`peer_client/fast.rs`) keeps reqwest's timeout rules: a peer
//! that accepts and never answers the data GET is a timeout after the idle timeout, a body that stalls
//! mid-way fails with a timeout error (never a clean short end), and a refused port is a connect error.
//! Raw sockets stand in for the peer: a real one cannot be made to stall mid-body on demand.

use std::time::{Duration, Instant};

use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::Config;
use mictlanx_router::peer_client::{PeerClient, PeerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn peer(port: u16) -> PeerInfo {
    PeerInfo {
        peer_id: "fast".into(),
        ip_addr: "127.0.0.1".into(),
        port,
        protocol: "http".into(),
        api_version: 4,
    }
}

fn client() -> PeerClient {
    let mut cfg = Config::for_tests(std::env::temp_dir());
    cfg.peer_io.connect_timeout = Duration::from_secs(2);
    cfg.peer_io.idle_timeout = Duration::from_millis(400);
    PeerClient::new(&cfg.peer_io, false).expect("client")
}

/// Accepts connections and, after reading a request head, writes `answer` (if any) and keeps the socket
/// open without writing more.
async fn raw_peer(answer: Option<&'static [u8]>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                if let Some(a) = answer {
                    let _ = sock.write_all(a).await;
                }
                tokio::time::sleep(Duration::from_secs(30)).await;
                drop(sock);
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_answers_the_data_get_is_a_timeout() {
    let port = raw_peer(None).await;
    let started = Instant::now();
    let err = client().get_data(&peer(port), "b", "k").await.unwrap_err();
    assert!(matches!(err, PeerError::Timeout(_)), "{err:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stalls_midway_fails_with_a_timeout() {
    let port = raw_peer(Some(
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\ncontent-type: application/octet-stream\r\n\r\n0123456789",
    ))
    .await;
    let mut resp = client()
        .get_data(&peer(port), "b", "k")
        .await
        .expect("headers arrive");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.content_length(), Some(100));
    let mut got = 0;
    let started = Instant::now();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(c)) => got += c.len(),
            Ok(None) => panic!("a stalled body must not end cleanly after {got} bytes"),
            Err(e) => break e,
        }
    };
    assert_eq!(got, 10);
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_port_is_a_connect_error_on_both_fast_calls() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let c = client();
    let err = c.get_data(&peer(port), "b", "k").await.unwrap_err();
    assert!(matches!(err, PeerError::Connect(_)), "{err:?}");
    let err = c.get_metadata(&peer(port), "b", "k").await.unwrap_err();
    assert!(matches!(err, PeerError::Connect(_)), "{err:?}");
}

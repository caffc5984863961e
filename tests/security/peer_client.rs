//! The router's `PeerClient` against peers that misbehave in ways a real `mictlanx-peer` cannot be made to on
//! demand (small axum fakes on 127.0.0.1): a redirect is never followed (the target is never contacted and
//! the caller gets a clear error), and a JSON answer above `MAX_ANSWER_BYTES` is refused whether its size is
//! declared or only discovered while streaming, without marking the peer as faulty.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::PeerIoConfig;
use mictlanx_router::peer_client::{PeerClient, PeerError, MAX_ANSWER_BYTES};

fn client() -> PeerClient {
    let io = PeerIoConfig {
        connect_timeout: Duration::from_secs(5),
        idle_timeout: Duration::from_secs(30),
        peer_timeout: Duration::from_secs(30),
        fanout_concurrency: 4,
        peer_tls_ca: None,
        fanout_deadline: Duration::from_secs(2),
        peer_token: None,
    };
    PeerClient::new(&io, false).expect("peer client")
}

async fn serve(app: axum::Router) -> PeerInfo {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    PeerInfo {
        peer_id: format!("fake-{port}"),
        ip_addr: "127.0.0.1".into(),
        port,
        protocol: "http".into(),
        api_version: 4,
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let target = serve(axum::Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async { r#"{"total_disk":1,"used_disk":0,"disk_uf":0.0}"# }
    }))
    .await;
    let location = format!("http://127.0.0.1:{}/api/v4/stats/ufs", target.port);
    let to = location.clone();
    let redirecting = serve(axum::Router::new().fallback(move || {
        let to = to.clone();
        async move { (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)], "") }
    }))
    .await;
    let pc = client();
    let err = pc.stats_ufs(&redirecting).await.unwrap_err();
    assert_eq!(
        err,
        PeerError::Status {
            status: 307,
            detail: format!("redirect to '{location}' not followed"),
        }
    );
    assert!(!err.is_fault(), "an answer, not a transport fault");
    let err = pc.get_data(&redirecting, "b", "k").await.unwrap_err();
    assert!(
        matches!(err, PeerError::Status { status: 307, .. }),
        "{err:?}"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the redirect target was contacted"
    );
    // The target itself works with the same client.
    assert_eq!(pc.stats_ufs(&target).await.unwrap().total_disk, 1);
}

/// One listed object as JSON (about 200 bytes).
fn item() -> Bytes {
    Bytes::from(format!(
        r#"{{"bucket_id":"b","key":"k","ball_id":"k","checksum":"{}","size":1,"tags":{{}},"content_type":"x","producer_id":"p","is_disabled":false}}"#,
        "0".repeat(64)
    ))
}

/// A bucket listing of `items` objects, streamed in pieces of 256 objects without a length.
fn listing_stream(items: usize) -> Body {
    let item = item();
    let pieces = (0..items).step_by(256).map(move |first| {
        let last = (first + 256).min(items);
        let mut piece = Vec::with_capacity((last - first) * (item.len() + 1) + 32);
        for i in first..last {
            piece.extend_from_slice(if i == 0 {
                br#"{"peer_id":"fake","balls":["#
            } else {
                b","
            });
            piece.extend_from_slice(&item);
        }
        if last == items {
            piece.extend_from_slice(b"]}");
        }
        Ok::<_, std::io::Error>(Bytes::from(piece))
    });
    Body::from_stream(futures::stream::iter(pieces))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_above_the_limit_are_refused() {
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let item_len = item().len() + 1;
    let over = (MAX_ANSWER_BYTES as usize) / item_len + 1000;
    let peer = serve(
        axum::Router::new()
            .route(
                "/api/v4/buckets/small/metadata",
                get(|| async { listing_stream(1000) }),
            )
            .route(
                "/api/v4/buckets/huge/metadata",
                get(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move { listing_stream(over) }
                }),
            )
            .route(
                "/api/v4/buckets/declared/metadata",
                get(|| async {
                    // Declares more than the limit, sends one byte and stalls: the client must not wait for more.
                    use futures::StreamExt;
                    let one = futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from("{"))])
                        .chain(futures::stream::pending());
                    let mut res = Response::new(Body::from_stream(one));
                    res.headers_mut().insert(
                        header::CONTENT_LENGTH,
                        (MAX_ANSWER_BYTES + 1).to_string().parse().unwrap(),
                    );
                    res.into_response()
                }),
            ),
    )
    .await;
    let pc = client();
    let small = pc
        .bucket_metadata(&peer, "small")
        .await
        .expect("a normal answer");
    assert_eq!(small.balls.len(), 1000);
    let started = std::time::Instant::now();
    let err = match pc.bucket_metadata(&peer, "huge").await {
        Err(e) => e,
        Ok(listing) => panic!("{} objects were buffered", listing.balls.len()),
    };
    assert_eq!(
        err,
        PeerError::TooLarge {
            limit: MAX_ANSWER_BYTES
        }
    );
    assert!(!err.is_fault());
    assert_eq!(
        err.to_string(),
        "answer larger than 67108864 bytes, the limit of a buffered peer answer"
    );
    println!(
        "a {}-byte answer refused after {:?}",
        over * item_len,
        started.elapsed()
    );
    assert_eq!(served.load(Ordering::SeqCst), 1);
    let started = std::time::Instant::now();
    let err = match pc.bucket_metadata(&peer, "declared").await {
        Err(e) => e,
        Ok(_) => panic!("a declared oversize was accepted"),
    };
    assert_eq!(
        err,
        PeerError::TooLarge {
            limit: MAX_ANSWER_BYTES
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a declared oversize must fail without reading the body"
    );
}

//! The router's `PeerClient` against a real `mictlanx-peer`: every call it makes decodes the peer's
//! answers (shapes, statuses, `n-deletes`), so the two sides of peer API v4 agree.

use std::time::Duration;

use futures::StreamExt;
use mictlanx_router::cluster::PeerInfo;
use mictlanx_router::config::PeerIoConfig;
use mictlanx_router::peer_client::{PeerClient, PeerError, PeerPutMetadata};
use mictlanx_testkit::peer::*;

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

fn info(peer: &mictlanx_peer::PeerServer) -> PeerInfo {
    PeerInfo {
        peer_id: peer.node_id().to_string(),
        ip_addr: "127.0.0.1".into(),
        port: peer.addr().port(),
        protocol: "http".into(),
        api_version: 4,
    }
}

fn meta(key: &str, size: u64) -> PeerPutMetadata {
    PeerPutMetadata {
        bucket_id: "b".into(),
        key: key.into(),
        ball_id: "ball".into(),
        checksum: "abc".into(),
        size,
        tags: [("index".to_string(), "0".to_string())].into(),
        producer_id: "router".into(),
        content_type: "text/plain".into(),
        is_disabled: false,
    }
}

#[tokio::test]
async fn peer_client_speaks_to_the_real_peer() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-compat", dir.path()).await;
    let (pc, p) = (client(), info(&peer));

    let put = pc
        .put_metadata(&p, "b", &meta("k", 5), Some("group-1"), "0")
        .await
        .unwrap();
    assert_eq!(
        (put.task_id.as_str(), put.node_id.as_str()),
        ("group-1", "p-compat")
    );
    let body = reqwest::Body::wrap_stream(futures::stream::iter([
        Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"hel")),
        Ok(bytes::Bytes::from_static(b"lo")),
    ]));
    let up = pc.upload_chunked(&p, "group-1", 5, body).await.unwrap();
    assert_eq!((up.combined_key.as_str(), up.size), ("b@k", 5));

    let got = pc.get_metadata(&p, "b", "k").await.unwrap();
    assert_eq!((got.peer_id.as_str(), got.metadata.size), ("p-compat", 5));
    assert_eq!(got.metadata.content_type, "text/plain");
    let res = pc.get_data(&p, "b", "k").await.unwrap();
    let mut bytes = Vec::new();
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(bytes, b"hello");
    assert_eq!(pc.size(&p, "b", "k").await.unwrap().size, 5);
    assert_eq!(pc.bucket_metadata(&p, "b").await.unwrap().balls.len(), 1);
    let group = pc.ball_group(&p, "b", "ball").await.unwrap();
    assert_eq!((group.size, group.balls.len()), (5, 1));
    let stats = pc.stats(&p, 0, 0).await.unwrap();
    assert_eq!((stats.used_disk, stats.balls.len()), (5, 1));
    assert_eq!(pc.stats_ufs(&p).await.unwrap().used_disk, 5);
    let xb = pc.xballs(&p, 0, 10).await.unwrap();
    assert_eq!(
        (xb[0].bucket_id.as_str(), xb[0].key.as_str(), xb[0].size),
        ("b", "k", 5)
    );

    pc.disable(&p, "b", "k").await.unwrap();
    assert!(matches!(
        pc.get_data(&p, "b", "k").await,
        Err(PeerError::NotFound(_))
    ));
    assert_eq!(pc.delete(&p, "b", "k", true).await.unwrap(), 1);
    assert!(matches!(
        pc.delete(&p, "b", "k", false).await,
        Err(PeerError::NotFound(_))
    ));
    assert!(matches!(
        pc.get_metadata(&p, "b", "k").await,
        Err(PeerError::NotFound(_))
    ));

    // a size mismatch is a 400 with the peer's text; an unknown task a 404
    pc.put_metadata(&p, "b", &meta("k2", 4), Some("group-2"), "0")
        .await
        .unwrap();
    match pc
        .upload_chunked(&p, "group-2", 3, reqwest::Body::from("abc"))
        .await
    {
        Err(PeerError::Status { status, detail }) => {
            assert_eq!(
                (status, detail.as_str()),
                (400, "Data size mistmatch 3 != 4")
            )
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    assert!(matches!(
        pc.upload_chunked(&p, "nope", 1, reqwest::Body::from("a"))
            .await,
        Err(PeerError::NotFound(_))
    ));
    assert_eq!(pc.delete_by_ball(&p, "b", "ball", false).await.unwrap(), 0);
    peer.shutdown().await;
}

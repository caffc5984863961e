//! Failure paths of the two-phase write: cut-off bodies, size mismatches, unknown tasks, capacity (507),
//! payload limit (413), concurrent uploads of one task (409). None may leave anything visible or on disk.

use std::time::Duration;

use mictlanx_testkit::peer::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Open a raw chunked upload and send `first` bytes as one chunk (the body is left unfinished).
async fn raw_chunked_start(
    peer: &mictlanx_peer::PeerServer,
    task: &str,
    first: &[u8],
) -> TcpStream {
    let mut s = TcpStream::connect(peer.addr()).await.unwrap();
    let head = format!(
        "POST /api/v4/buckets/data/{task}/chunked HTTP/1.1\r\nHost: peer\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        first.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(first).await.unwrap();
    s.write_all(b"\r\n").await.unwrap();
    s.flush().await.unwrap();
    s
}

async fn assert_nothing_visible(c: &reqwest::Client, peer: &mictlanx_peer::PeerServer, key: &str) {
    assert_eq!(
        get_json(c, peer, &format!("/api/v4/buckets/b/metadata/{key}"))
            .await
            .0,
        404
    );
    assert_eq!(get_object_sha(c, peer, "b", key).await.0, 404);
    assert_eq!(
        get_json(c, peer, "/api/v4/balls/len").await.1,
        json!({"len": 0})
    );
    assert_eq!(
        get_json(c, peer, "/api/v4/stats/ufs").await.1["used_disk"],
        0
    );
}

#[tokio::test]
async fn connection_cut_mid_body_leaves_nothing_and_task_stays_retryable() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-cut", dir.path()).await;
    let c = http_client();
    let size = 1024 * 1024;
    let task = put_metadata(&c, &peer, "b", "k", size).await;
    let sock = raw_chunked_start(&peer, &task, &chunk_bytes(1, 0, 64 * 1024)).await;
    assert!(
        eventually(|| !temp_files(dir.path()).is_empty()).await,
        "the upload reached the temp file"
    );
    drop(sock); // transport error: truncated chunked encoding
    assert!(
        eventually(|| temp_files(dir.path()).is_empty()).await,
        "temp file removed"
    );
    assert_nothing_visible(&c, &peer, "k").await;
    // the task returned to pending: a retry with the same id succeeds
    let mut retried = None;
    for _ in 0..200 {
        let res = upload_chunked(
            &c,
            &peer,
            &task,
            reqwest::Body::wrap_stream(object_stream(2, size)),
        )
        .await;
        if res.status() != 409 {
            retried = Some(res.status());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(retried, Some(reqwest::StatusCode::CREATED));
    assert_eq!(get_object_sha(&c, &peer, "b", "k").await.2, size);
    peer.shutdown().await;
}

#[tokio::test]
async fn body_stream_error_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-err", dir.path()).await;
    let c = http_client();
    let task = put_metadata(&c, &peer, "b", "k", 300_000).await;
    let body = futures::stream::iter(vec![
        Ok(bytes::Bytes::from(chunk_bytes(3, 0, 100_000))),
        Err(std::io::Error::other("producer failed")),
    ]);
    let sent = c
        .post(format!(
            "{}/api/v4/buckets/data/{task}/chunked",
            peer.base_url()
        ))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await;
    assert!(sent.is_err() || sent.as_ref().is_ok_and(|r| !r.status().is_success()));
    assert!(eventually(|| temp_files(dir.path()).is_empty()).await);
    assert_nothing_visible(&c, &peer, "k").await;
    peer.shutdown().await;
}

#[tokio::test]
async fn size_mismatch_is_400_and_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-size", dir.path()).await;
    let c = http_client();
    let task = put_metadata(&c, &peer, "b", "k", 5).await;
    let cases: Vec<(reqwest::Body, &str)> = vec![
        ("hello world".into(), "Data size mistmatch 11 != 5"), // Content-Length refused at once
        (
            reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(
                bytes::Bytes::from_static(b"abc"),
            )])),
            "Data size mistmatch 3 != 5",
        ),
        (
            reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(
                bytes::Bytes::from_static(b"abcdefg"),
            )])),
            "Data size mistmatch 7 != 5",
        ),
    ];
    for (body, detail) in cases {
        let res = upload_chunked(&c, &peer, &task, body).await;
        assert_eq!(res.status(), 400);
        assert_eq!(
            res.json::<Value>().await.unwrap(),
            json!({"detail": detail})
        );
        assert!(temp_files(dir.path()).is_empty());
        assert_nothing_visible(&c, &peer, "k").await;
    }
    let res = upload_multipart(
        &c,
        &peer,
        &task,
        futures::stream::iter([Ok(bytes::Bytes::from_static(b"abcdef"))]),
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Data size mistmatch 6 != 5"
    );
    assert_nothing_visible(&c, &peer, "k").await;
    assert_eq!(
        upload_chunked(&c, &peer, &task, "hello").await.status(),
        201
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn unknown_and_cleared_tasks_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-404", dir.path()).await;
    let c = http_client();
    let res = upload_chunked(&c, &peer, "nope", "x").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "Task(nope) not found"})
    );
    let task = put_metadata(&c, &peer, "b", "k", 1).await;
    let res = c
        .delete(format!("{}/api/v4/tasks", peer.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(upload_chunked(&c, &peer, &task, "x").await.status(), 404);
    assert_eq!(peer.pending_tasks(), 0);
    peer.shutdown().await;
}

#[tokio::test]
async fn expired_tasks_are_404() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = peer_config("p-ttl", dir.path());
    cfg.task_ttl = Duration::from_millis(200);
    cfg.task_sweep_interval = Duration::from_millis(100);
    let peer = spawn_peer_with(cfg).await;
    let c = http_client();
    let task = put_metadata(&c, &peer, "b", "k", 1).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(upload_chunked(&c, &peer, &task, "x").await.status(), 404);
    assert!(
        eventually(|| peer.pending_tasks() == 0).await,
        "sweep drops expired tasks"
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn capacity_admission_counts_committed_and_in_progress_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer_with_capacity("p-cap", dir.path(), 1000).await;
    let c = http_client();
    let big = json!({"key": "big", "size": 2000, "checksum": "c", "producer_id": "p"});
    let res = put_metadata_raw(&c, &peer, "b", big, &[]).await;
    assert_eq!(res.status(), 507);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Insufficient storage: 2000 bytes requested, 1000 bytes available"
    );

    let a = put_metadata(&c, &peer, "b", "a", 600).await;
    let b = put_metadata(&c, &peer, "b", "b", 600).await; // phase 1 does not count reservations
    let mut sock = raw_chunked_start(&peer, &a, &[7u8; 100]).await;
    assert!(eventually(|| !temp_files(dir.path()).is_empty()).await);
    let res = upload_chunked(&c, &peer, &b, vec![0u8; 600]).await;
    assert_eq!(res.status(), 507);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Insufficient storage: 600 bytes requested, 400 bytes available"
    );
    // a second upload of the running task is refused
    let res = upload_chunked(&c, &peer, &a, vec![0u8; 600]).await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        format!("Task({a}) upload already in progress")
    );
    // finish the first upload
    sock.write_all(format!("{:x}\r\n", 500).as_bytes())
        .await
        .unwrap();
    sock.write_all(&[7u8; 500]).await.unwrap();
    sock.write_all(b"\r\n0\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    sock.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 201");
    let (_, ufs) = get_json(&c, &peer, "/api/v4/stats/ufs").await;
    assert_eq!(
        ufs,
        json!({"total_disk": 1000, "used_disk": 600, "disk_uf": 0.6})
    );
    let res = put_metadata_raw(
        &c,
        &peer,
        "b",
        json!({"key": "c", "size": 600, "checksum": "c", "producer_id": "p"}),
        &[],
    )
    .await;
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Insufficient storage: 600 bytes requested, 400 bytes available"
    );
    // overwriting "a" frees its old size
    let again = put_metadata(&c, &peer, "b", "a", 900).await;
    assert_eq!(
        upload_chunked(&c, &peer, &again, vec![1u8; 900])
            .await
            .status(),
        201
    );
    assert_eq!(
        get_json(&c, &peer, "/api/v4/stats/ufs").await.1["used_disk"],
        900
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn payload_limit_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = peer_config("p-limit", dir.path());
    cfg.payload_limit = 10;
    let peer = spawn_peer_with(cfg).await;
    let c = http_client();
    let body = json!({"key": "k", "size": 11, "checksum": "c", "producer_id": "p"});
    let res = put_metadata_raw(&c, &peer, "b", body, &[]).await;
    assert_eq!(res.status(), 413);
    assert_eq!(
        res.json::<Value>().await.unwrap()["detail"],
        "Object of 11 bytes exceeds the payload limit of 10 bytes"
    );
    put_metadata(&c, &peer, "b", "k", 10).await;
    peer.shutdown().await;
}

#[tokio::test]
async fn idle_body_times_out_and_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = peer_config("p-idle", dir.path());
    cfg.client_request_timeout = Duration::from_millis(300);
    let peer = spawn_peer_with(cfg).await;
    let c = http_client();
    let task = put_metadata(&c, &peer, "b", "k", 1000).await;
    let _sock = raw_chunked_start(&peer, &task, &[1u8; 10]).await; // stays open, sends nothing more
    assert!(eventually(|| !temp_files(dir.path()).is_empty()).await);
    assert!(
        eventually(|| temp_files(dir.path()).is_empty()).await,
        "idle upload discarded"
    );
    assert_nothing_visible(&c, &peer, "k").await;
    let mut status = None;
    for _ in 0..100 {
        let res = upload_chunked(&c, &peer, &task, vec![2u8; 1000]).await;
        if res.status() != 409 {
            status = Some(res.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(201), "the task is pending again");
    peer.shutdown().await;
}

#[tokio::test]
async fn oversized_ids_are_400_and_delete_errors_carry_n_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-ids", dir.path()).await;
    let c = http_client();
    let long = "k".repeat(1025);
    let (s, v) = get_json(&c, &peer, &format!("/api/v4/buckets/b/metadata/{long}")).await;
    assert_eq!(
        (s, v),
        (400, json!({"detail": "key: must be at most 1024 bytes"}))
    );
    let res = c
        .delete(format!("{}/api/v4/buckets/{long}/k", peer.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.headers()["n-deletes"], "0");
    peer.shutdown().await;
}

//! Concurrency: many uploads of different keys at once, many readers of one key, and readers racing
//! overwrites (each read sees the old object or the new one, never a mix).

use std::sync::Arc;

use futures::StreamExt;
use mictlanx_testkit::peer::*;
use sha2::Digest;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_uploads_and_concurrent_reads_match() {
    let dir = tempfile::tempdir().unwrap();
    let peer = Arc::new(spawn_peer("p-conc", dir.path()).await);
    let c = http_client();
    let size = 256 * 1024 + 7;
    let uploads = (0..16u64).map(|i| {
        let (c, peer) = (c.clone(), peer.clone());
        tokio::spawn(async move {
            let key = format!("k{i:02}");
            let task = put_metadata(&c, &peer, "b", &key, size).await;
            let res = if i % 2 == 0 {
                upload_chunked(
                    &c,
                    &peer,
                    &task,
                    reqwest::Body::wrap_stream(object_stream(i, size)),
                )
                .await
            } else {
                upload_multipart(&c, &peer, &task, object_stream(i, size)).await
            };
            assert_eq!(res.status(), 201, "upload {key}");
        })
    });
    for r in futures::future::join_all(uploads).await {
        r.unwrap();
    }
    for i in 0..16u64 {
        let expected = hex::encode(sha2::Sha256::digest(object_bytes(i, size)));
        assert_eq!(
            get_object_sha(&c, &peer, "b", &format!("k{i:02}")).await,
            (200, expected, size)
        );
    }
    let expected = hex::encode(sha2::Sha256::digest(object_bytes(3, size)));
    let reads = (0..32).map(|_| {
        let (c, peer) = (c.clone(), peer.clone());
        tokio::spawn(async move { get_object_sha(&c, &peer, "b", "k03").await })
    });
    for r in futures::future::join_all(reads).await {
        assert_eq!(r.unwrap(), (200, expected.clone(), size));
    }
    assert_eq!(get_json(&c, &peer, "/api/v4/balls/len").await.1["len"], 16);
    assert!(temp_files(dir.path()).is_empty());
    Arc::into_inner(peer).unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_see_old_or_new_object_during_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let peer = Arc::new(spawn_peer("p-over", dir.path()).await);
    let c = http_client();
    let size = 512 * 1024u64;
    let task = put_metadata(&c, &peer, "b", "k", size).await;
    assert_eq!(
        upload_chunked(&c, &peer, &task, vec![0u8; size as usize])
            .await
            .status(),
        201
    );

    let writer = {
        let (c, peer) = (c.clone(), peer.clone());
        tokio::spawn(async move {
            for round in 1..=10u8 {
                let task = put_metadata(&c, &peer, "b", "k", size).await;
                assert_eq!(
                    upload_chunked(&c, &peer, &task, vec![round; size as usize])
                        .await
                        .status(),
                    201
                );
            }
        })
    };
    let readers = (0..4).map(|_| {
        let (c, peer) = (c.clone(), peer.clone());
        tokio::spawn(async move {
            for _ in 0..15 {
                let res = c
                    .get(format!("{}/api/v4/buckets/b/k", peer.base_url()))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
                let mut stream = res.bytes_stream();
                let (mut first, mut n) = (None, 0u64);
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.unwrap();
                    let fill = *first.get_or_insert(chunk[0]);
                    assert!(
                        chunk.iter().all(|b| *b == fill),
                        "a read mixed two versions"
                    );
                    n += chunk.len() as u64;
                }
                assert_eq!(n, size);
            }
        })
    });
    for r in futures::future::join_all(readers).await {
        r.unwrap();
    }
    writer.await.unwrap();
    let (status, sha, _) = get_object_sha(&c, &peer, "b", "k").await;
    assert_eq!(
        (status, sha),
        (
            200,
            hex::encode(sha2::Sha256::digest(vec![10u8; size as usize]))
        )
    );
    let versions: usize = std::fs::read_dir(dir.path().join("data/objects"))
        .unwrap()
        .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
        .sum();
    assert_eq!(versions, 1, "old versions are unlinked");
    Arc::into_inner(peer).unwrap().shutdown().await;
}

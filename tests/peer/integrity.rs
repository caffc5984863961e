//! Integrity of stored bytes (`docs/peer-api.md` §9–§14): a declared SHA-256 is enforced at upload,
//! digests of the whole object and of its 1 MiB blocks are kept with it. Invariant: no silent corruption —
//! a mismatching upload stores nothing.

use std::path::{Path, PathBuf};

use mictlanx_peer::PeerServer;
use mictlanx_testkit::disk::flip;
use mictlanx_testkit::peer::*;
use serde_json::{json, Value};
use sha2::Digest;

const MIB: u64 = 1024 * 1024;

fn sha_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Phase 1 declaring `checksum`, phase 2 with `size` bytes of `seed` (raw or multipart).
async fn upload(
    c: &reqwest::Client,
    peer: &PeerServer,
    key: &str,
    size: u64,
    seed: u64,
    checksum: &str,
    multipart: bool,
) -> reqwest::Response {
    let body = json!({"key": key, "size": size, "checksum": checksum, "producer_id": "p"});
    let res = put_metadata_raw(c, peer, "b", body, &[]).await;
    assert_eq!(res.status(), 201);
    let task = res.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    if multipart {
        upload_multipart(c, peer, &task, object_stream(seed, size)).await
    } else {
        let stream = reqwest::Body::wrap_stream(object_stream(seed, size));
        upload_chunked(c, peer, &task, stream).await
    }
}

/// The record and the data file of the only object of `(b, key)` under `dir`.
fn record(dir: &Path) -> Vec<(Value, PathBuf)> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir.join("local/meta")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let path = f.unwrap().path();
            let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let data = dir.join("data").join(v["data_file"].as_str().unwrap());
            out.push((v, data));
        }
    }
    out
}

#[tokio::test]
async fn a_declared_sha256_is_enforced_and_a_mismatch_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-sum", dir.path()).await;
    let c = http_client();
    let size = 2 * MIB + 3;
    let good = sha_hex(&object_bytes(1, size));
    let wrong = sha_hex(b"something else");
    for multipart in [false, true] {
        let res = upload(&c, &peer, "k", size, 1, &wrong, multipart).await;
        assert_eq!(res.status(), 400);
        let v: Value = res.json().await.unwrap();
        assert_eq!(
            v,
            json!({"detail": format!("Checksum mismatch: declared {wrong} != computed {good}")})
        );
        assert_eq!(get_object_sha(&c, &peer, "b", "k").await.0, 404, "absent");
        assert!(temp_files(dir.path()).is_empty());
    }
    assert_eq!(
        get_json(&c, &peer, "/api/v4/stats/ufs").await.1["used_disk"],
        0
    );

    // upper-case hex is the same digest; a placeholder is never enforced
    let res = upload(&c, &peer, "k", size, 1, &good.to_uppercase(), false).await;
    assert_eq!(res.status(), 201);
    let res = upload(&c, &peer, "other", 10, 2, "abc", true).await;
    assert_eq!(res.status(), 201);
    // a bad overwrite keeps the previous version
    let res = upload(&c, &peer, "k", 5, 9, &wrong, false).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        get_object_sha(&c, &peer, "b", "k").await,
        (200, good.clone(), size)
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn digests_are_kept_in_the_record_and_a_sidecar_of_block_digests() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-dig", dir.path()).await;
    let c = http_client();
    let size = 2 * MIB + 100;
    assert_eq!(
        upload(&c, &peer, "big", size, 3, "-", false).await.status(),
        201
    );
    let recs = record(dir.path());
    let (rec, data) = &recs[0];
    let bytes = object_bytes(3, size);
    assert_eq!(rec["sha256"], sha_hex(&bytes));
    assert_eq!(rec["block_size"], MIB);
    let sidecar = std::fs::read(format!("{}.blocks", data.display())).unwrap();
    let expected: Vec<u8> = bytes
        .chunks(MIB as usize)
        .flat_map(|b| sha2::Sha256::digest(b).to_vec())
        .collect();
    assert_eq!(sidecar, expected, "raw 32-byte digests in block order");

    // objects of at most one block keep only the whole digest
    assert_eq!(
        upload(&c, &peer, "big", MIB, 4, "-", false).await.status(),
        201
    );
    let recs = record(dir.path());
    let (rec, data) = &recs[0];
    assert_eq!(rec["sha256"], sha_hex(&object_bytes(4, MIB)));
    assert!(!Path::new(&format!("{}.blocks", data.display())).exists());
    let files: Vec<_> = std::fs::read_dir(data.parent().unwrap()).unwrap().collect();
    assert_eq!(
        files.len(),
        1,
        "the overwritten version's data and sidecar are gone"
    );
    peer.shutdown().await;
}

/// Stream a GET to its end: the bytes received and whether it ended with an error.
async fn read_all(c: &reqwest::Client, url: String) -> (u16, Vec<u8>, bool) {
    use futures::StreamExt;
    let res = c.get(url).send().await.unwrap();
    let status = res.status().as_u16();
    let mut body = res.bytes_stream();
    let mut got = Vec::new();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => got.extend_from_slice(&c),
            Err(_) => return (status, got, true),
        }
    }
    (status, got, false)
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn a_flipped_byte_aborts_the_read_before_its_block_and_quarantines_the_copy() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-rot", dir.path()).await;
    let c = http_client();
    let size = 3 * MIB + 10;
    let original = object_bytes(7, size);
    assert_eq!(
        upload(&c, &peer, "k", size, 7, "-", false).await.status(),
        201
    );
    let data = record(dir.path())[0].1.clone();
    flip(&data, MIB + MIB / 2);

    // a range inside the intact first block is still served
    let res = c
        .get(format!("{}/api/v4/buckets/b/k", peer.base_url()))
        .header("Range", "bytes=10-99")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap()[..], original[10..100]);

    let (status, got, failed) =
        read_all(&c, format!("{}/api/v4/buckets/b/k", peer.base_url())).await;
    assert_eq!(status, 200);
    assert!(
        failed,
        "the response must end with an error, not a clean end"
    );
    assert!(
        got.len() as u64 <= MIB,
        "nothing of the bad block left: {} bytes",
        got.len()
    );
    assert!(
        got[..] == original[..got.len()],
        "what arrived is a correct prefix"
    );
    let metrics = c
        .get(format!("{}/metrics", peer.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "mictlanx_peer_checksum_mismatches_total{stage=\"serve\"} 1",
        "mictlanx_peer_quarantined_objects 1",
        "mictlanx_peer_objects 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}");
    }

    // quarantined: absent everywhere, and so after a restart
    assert_eq!(get_object_sha(&c, &peer, "b", "k").await.0, 404);
    assert_eq!(
        get_json(&c, &peer, "/api/v4/buckets/b/metadata/k").await.0,
        404
    );
    assert_eq!(get_json(&c, &peer, "/api/v4/xballs").await.1, json!([]));
    assert_eq!(
        get_json(&c, &peer, "/api/v4/stats/ufs").await.1["used_disk"],
        0
    );
    let q_data = files_in(&dir.path().join("data/quarantine"));
    assert_eq!(q_data.len(), 2, "data and block digests: {q_data:?}");
    assert!(q_data[0].ends_with(".data") && q_data[1].ends_with(".data.blocks"));
    assert_eq!(files_in(&dir.path().join("local/quarantine")).len(), 1);
    assert!(!data.exists());
    let port = peer.addr().port();
    peer.shutdown().await;
    let peer = spawn_peer_on_port("p-rot", dir.path(), port).await;
    assert_eq!(get_object_sha(&c, &peer, "b", "k").await.0, 404);
    assert_eq!(
        get_json(&c, &peer, "/api/v4/balls/len").await.1,
        json!({"len": 0})
    );
    assert_eq!(
        files_in(&dir.path().join("data/quarantine")).len(),
        2,
        "kept, not cleaned"
    );
    // a new write of the key works as usual
    assert_eq!(upload(&c, &peer, "k", 10, 8, "-", true).await.status(), 201);
    assert_eq!(get_object_sha(&c, &peer, "b", "k").await.2, 10);
    peer.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_first_block_answers_404_before_any_byte() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-rot1", dir.path()).await;
    let c = http_client();
    assert_eq!(
        upload(&c, &peer, "k", 100, 1, "-", false).await.status(),
        201
    );
    flip(&record(dir.path())[0].1, 99);
    let res = c
        .get(format!("{}/api/v4/buckets/b/k", peer.base_url()))
        .header("Range", "bytes=0-0")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "the only block is verified before the head"
    );
    assert_eq!(
        res.json::<Value>().await.unwrap(),
        json!({"detail": "b@k not found"})
    );
    assert_eq!(
        get_json(&c, &peer, "/api/v4/balls/len").await.1,
        json!({"len": 0})
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn missing_block_digests_quarantine_at_start_up_and_old_objects_are_served_unverified() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-old", dir.path()).await;
    let c = http_client();
    assert_eq!(
        upload(&c, &peer, "big", 2 * MIB, 1, "-", false)
            .await
            .status(),
        201
    );
    assert_eq!(
        upload(&c, &peer, "old", 50, 2, "-", false).await.status(),
        201
    );
    let port = peer.addr().port();
    peer.shutdown().await;
    for (rec, data) in record(dir.path()) {
        if rec["key"] == "big" {
            std::fs::remove_file(format!("{}.blocks", data.display())).unwrap();
        } else {
            // as a peer before digests wrote it, then rotted
            let path = dir
                .path()
                .join("local/meta")
                .join(&rec["data_file"].as_str().unwrap()[8..10]);
            let file = std::fs::read_dir(path)
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            let mut r = rec.clone();
            r.as_object_mut().unwrap().remove("sha256");
            r.as_object_mut().unwrap().remove("block_size");
            std::fs::write(file, serde_json::to_vec(&r).unwrap()).unwrap();
            flip(&data, 0);
        }
    }
    let peer = spawn_peer_on_port("p-old", dir.path(), port).await;
    assert_eq!(get_object_sha(&c, &peer, "b", "big").await.0, 404);
    assert_eq!(files_in(&dir.path().join("local/quarantine")).len(), 1);
    let (status, got, failed) =
        read_all(&c, format!("{}/api/v4/buckets/b/old", peer.base_url())).await;
    assert_eq!((status, failed, got.len()), (200, false, 50));
    assert_ne!(
        got[0],
        object_bytes(2, 50)[0],
        "no digests: served as stored"
    );
    assert_eq!(got[1..], object_bytes(2, 50)[1..]);
    peer.shutdown().await;
}

#[tokio::test]
async fn files_vanishing_under_a_live_object_quarantine_it_on_the_next_read() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-gone", dir.path()).await;
    let c = http_client();
    assert_eq!(
        upload(&c, &peer, "k", 2 * MIB, 5, "-", false)
            .await
            .status(),
        201
    );
    let data = record(dir.path())[0].1.clone();
    std::fs::remove_file(format!("{}.blocks", data.display())).unwrap();
    let res = c
        .get(format!("{}/api/v4/buckets/b/k", peer.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        get_json(&c, &peer, "/api/v4/buckets/b/metadata/k").await.0,
        404
    );
    assert_eq!(files_in(&dir.path().join("local/quarantine")).len(), 1);
    assert_eq!(
        files_in(&dir.path().join("data/quarantine")).len(),
        1,
        "the data file, no sidecar"
    );
    peer.shutdown().await;
}

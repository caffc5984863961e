//! Integrity of stored bytes (README "Peer API extensions"): a declared SHA-256 is enforced at upload,
//! digests of the whole object and of its 1 MiB blocks are kept with it. Invariant: no silent corruption —
//! a mismatching upload stores nothing.
mod common;

use std::path::{Path, PathBuf};

use common::peer::*;
use mictlanx_router::peer::PeerServer;
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

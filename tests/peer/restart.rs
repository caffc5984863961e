//! Durability across restarts (`docs/peer-api.md` §4): a peer restarted on the same directories shows exactly the
//! committed objects with identical metadata, stats and `balls/len`; start-up drops temp files, broken
//! records and (with TRAVERSE_AND_CLEAN) orphan data files.

use std::path::Path;

use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::*;
use serde_json::{json, Value};

async fn snapshot(c: &reqwest::Client, peer: &PeerServer) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/api/v4/stats",
        "/api/v4/xballs",
        "/api/v4/balls/len",
        "/api/v4/stats/ufs",
        "/api/v4/buckets/b/metadata",
    ] {
        let (status, mut v) = get_json(c, peer, path).await;
        assert_eq!(status, 200, "{path}");
        if let Some(obj) = v.as_object_mut() {
            obj.remove("peer_id");
        }
        out.push(v);
    }
    out
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(root).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            out.push(f.unwrap().path().display().to_string());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn restart_keeps_committed_objects_and_forgets_pending_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let c = http_client();
    let peer = spawn_peer("p-restart", dir.path()).await;
    let mut shas = Vec::new();
    for (i, size) in [0u64, 10, 200_000].into_iter().enumerate() {
        let key = format!("k{i}");
        let task = put_metadata(&c, &peer, "b", &key, size).await;
        assert_eq!(
            upload_chunked(
                &c,
                &peer,
                &task,
                reqwest::Body::wrap_stream(object_stream(i as u64, size))
            )
            .await
            .status(),
            201
        );
        shas.push(get_object_sha(&c, &peer, "b", &key).await);
    }
    // overwrite k1, disable k0, leave one pending task
    let task = put_metadata(&c, &peer, "b", "k1", 4).await;
    assert_eq!(upload_chunked(&c, &peer, &task, "new!").await.status(), 201);
    shas[1] = get_object_sha(&c, &peer, "b", "k1").await;
    assert_eq!(
        c.post(format!("{}/api/v4/buckets/b/k0/disable", peer.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    let pending = put_metadata(&c, &peer, "b", "pending", 3).await;
    let before = snapshot(&c, &peer).await;
    let data_files = files_under(&dir.path().join("data/objects"));
    assert_eq!(data_files.len(), 3, "the overwritten version was unlinked");
    let port = peer.addr().port();
    peer.shutdown().await;

    let peer = spawn_peer_on_port("p-restart", dir.path(), port).await;
    assert_eq!(
        peer.addr().port(),
        port,
        "a stopped peer comes back at the same address"
    );
    assert_eq!(snapshot(&c, &peer).await, before);
    assert_eq!(before[2], json!({"len": 3}));
    assert_eq!(files_under(&dir.path().join("data/objects")), data_files);
    for (i, expected) in shas.iter().enumerate().skip(1) {
        assert_eq!(
            &get_object_sha(&c, &peer, "b", &format!("k{i}")).await,
            expected
        );
    }
    assert_eq!(
        get_object_sha(&c, &peer, "b", "k0").await.0,
        404,
        "still disabled"
    );
    assert_eq!(
        upload_chunked(&c, &peer, &pending, "abc").await.status(),
        404,
        "pending tasks are in memory only"
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn startup_cleans_parts_orphans_and_broken_records() {
    let dir = tempfile::tempdir().unwrap();
    let c = http_client();
    let peer = spawn_peer("p-clean", dir.path()).await;
    for key in ["good", "broken", "short"] {
        let task = put_metadata(&c, &peer, "b", key, 5).await;
        assert_eq!(
            upload_chunked(&c, &peer, &task, "12345").await.status(),
            201
        );
    }
    peer.shutdown().await;

    let objects = dir.path().join("data/objects");
    let orphan = objects.join("ab").join("orphan.0000000000000001.data");
    std::fs::create_dir_all(orphan.parent().unwrap()).unwrap();
    std::fs::write(&orphan, b"orphan").unwrap();
    std::fs::write(dir.path().join("data/tmp/leftover.part"), b"partial").unwrap();
    // corrupt one record and truncate the data file of another
    let mut records = Vec::new();
    for d in std::fs::read_dir(dir.path().join("local/meta")).unwrap() {
        for f in std::fs::read_dir(d.unwrap().path()).unwrap() {
            let path = f.unwrap().path();
            let rec: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            records.push((rec["key"].as_str().unwrap().to_string(), path, rec));
        }
    }
    for (key, path, rec) in &records {
        match key.as_str() {
            "broken" => std::fs::write(path, b"{not json").unwrap(),
            "short" => std::fs::write(
                dir.path()
                    .join("data")
                    .join(rec["data_file"].as_str().unwrap()),
                b"12",
            )
            .unwrap(),
            _ => {}
        }
    }

    let peer = spawn_peer("p-clean", dir.path()).await;
    assert_eq!(
        get_json(&c, &peer, "/api/v4/balls/len").await.1,
        json!({"len": 1})
    );
    assert_eq!(
        get_json(&c, &peer, "/api/v4/stats/ufs").await.1["used_disk"],
        5
    );
    assert_eq!(get_object_sha(&c, &peer, "b", "good").await.2, 5);
    assert_eq!(
        get_json(&c, &peer, "/api/v4/buckets/b/metadata/broken")
            .await
            .0,
        404
    );
    assert_eq!(
        get_json(&c, &peer, "/api/v4/buckets/b/metadata/short")
            .await
            .0,
        404
    );
    assert!(temp_files(dir.path()).is_empty(), "tmp/*.part deleted");
    assert!(!orphan.exists(), "orphan data file deleted");
    assert_eq!(
        files_under(&objects).len(),
        1,
        "only the good object's bytes remain"
    );
    peer.shutdown().await;

    // without TRAVERSE_AND_CLEAN an unreferenced file survives
    std::fs::write(&orphan, b"orphan").unwrap();
    let mut cfg = peer_config("p-clean", dir.path());
    cfg.traverse_and_clean = false;
    let peer = spawn_peer_with(cfg).await;
    assert!(orphan.exists());
    assert_eq!(
        get_json(&c, &peer, "/api/v4/balls/len").await.1,
        json!({"len": 1})
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn kill_mid_upload_then_restart_shows_only_committed_objects() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let c = http_client();
    let peer = spawn_peer("p-kill", dir.path()).await;
    let task = put_metadata(&c, &peer, "b", "done", 3).await;
    assert_eq!(upload_chunked(&c, &peer, &task, "abc").await.status(), 201);
    let task = put_metadata(&c, &peer, "b", "partial", 1 << 20).await;
    let mut sock = tokio::net::TcpStream::connect(peer.addr()).await.unwrap();
    let head = format!("POST /api/v4/buckets/data/{task}/chunked HTTP/1.1\r\nHost: p\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n");
    sock.write_all(head.as_bytes()).await.unwrap();
    assert!(eventually(|| !temp_files(dir.path()).is_empty()).await);
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), peer.kill()).await;
    assert!(stopped.is_ok(), "kill does not wait for the stalled upload");
    assert!(
        eventually(|| temp_files(dir.path()).is_empty()).await,
        "the partial upload was discarded"
    );

    let peer = spawn_peer("p-kill", dir.path()).await;
    assert_eq!(
        get_json(&c, &peer, "/api/v4/balls/len").await.1,
        json!({"len": 1})
    );
    assert_eq!(get_object_sha(&c, &peer, "b", "done").await.2, 3);
    assert_eq!(
        get_json(&c, &peer, "/api/v4/buckets/b/metadata/partial")
            .await
            .0,
        404
    );
    peer.shutdown().await;
}

//! Object versions and replication factors (`docs/peer-api.md` §9–§14): version headers on every read,
//! fencing of late commits, in-place updates, disables and deletes by version, records written before
//! versions existed. Invariant: a lower version never replaces or deletes a newer one.

use mictlanx_peer::PeerServer;
use mictlanx_testkit::peer::*;
use serde_json::{json, Value};

/// Phase 1 (with `headers`) then phase 2 of `body` (with `Object-Version: version` when given).
async fn write(
    c: &reqwest::Client,
    peer: &PeerServer,
    key: &str,
    body: &'static str,
    headers: &[(&str, &str)],
    version: Option<u64>,
) -> reqwest::Response {
    let meta = json!({"key": key, "size": body.len(), "checksum": "c", "producer_id": "p"});
    let res = put_metadata_raw(c, peer, "b", meta, headers).await;
    assert_eq!(res.status(), 201, "phase 1 of {key}");
    let task = res.json::<Value>().await.unwrap()["task_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut req = c
        .post(format!(
            "{}/api/v4/buckets/data/{task}/chunked",
            peer.base_url()
        ))
        .body(body);
    if let Some(v) = version {
        req = req.header("Object-Version", v.to_string());
    }
    req.send().await.unwrap()
}

/// `(Object-Version, Replication-Factor)` of a response.
fn versions(res: &reqwest::Response) -> (u64, u32) {
    let h = |name| {
        res.headers()
            .get(name)
            .unwrap_or_else(|| panic!("{name} header missing"))
            .to_str()
            .unwrap()
            .to_string()
    };
    (
        h("object-version").parse().unwrap(),
        h("replication-factor").parse().unwrap(),
    )
}

async fn get(c: &reqwest::Client, peer: &PeerServer, path: &str) -> reqwest::Response {
    c.get(format!("{}{path}", peer.base_url()))
        .send()
        .await
        .unwrap()
}

async fn detail(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let v: Value = res.json().await.unwrap();
    (status, v["detail"].as_str().unwrap_or_default().to_string())
}

#[tokio::test]
async fn versions_and_replication_factor_are_recorded_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-ver", dir.path()).await;
    let c = http_client();
    let before = mictlanx_peer::store::now_ns();
    let res = write(&c, &peer, "k", "one", &[("Replication-Factor", "3")], None).await;
    assert_eq!(res.status(), 201);
    let v1: u64 = res.headers()["object-version"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(v1 >= before, "without a header the version is now_ns");
    assert_eq!(
        versions(&get(&c, &peer, "/api/v4/buckets/b/k").await),
        (v1, 3)
    );
    let meta = get(&c, &peer, "/api/v4/buckets/b/metadata/k").await;
    assert_eq!(versions(&meta), (v1, 3));
    let body: Value = meta.json().await.unwrap();
    assert_eq!(
        body["metadata"].as_object().unwrap().len(),
        9,
        "Metadata unchanged"
    );

    // an explicit version far in the future, then a header-less overwrite moves past it
    let future = v1 + 1_000_000_000_000;
    let res = write(&c, &peer, "k", "two", &[], Some(future)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["object-version"], future.to_string().as_str());
    let res = write(&c, &peer, "k", "three", &[], None).await;
    assert_eq!(
        res.headers()["object-version"],
        (future + 1).to_string().as_str()
    );
    assert_eq!(
        versions(&get(&c, &peer, "/api/v4/buckets/b/k").await),
        (future + 1, 0),
        "the replication factor is the one of the last phase 1"
    );

    let (_, rows) = get_json(&c, &peer, "/api/v4/xballs").await;
    assert_eq!(
        rows,
        json!([{"bucket_id": "b", "key": "k", "size": 5, "version": future + 1, "replication_factor": 0}])
    );
    let (_, sizes) = get_json(&c, &peer, "/api/v4/xballs/size").await;
    assert_eq!(sizes, json!([["b", "k", 5]]), "xballs/size unchanged");
    let (_, stats) = get_json(&c, &peer, "/api/v4/stats").await;
    assert_eq!(stats["balls"][0].as_object().unwrap().len(), 9);
    peer.shutdown().await;
}

#[tokio::test]
async fn a_late_commit_with_a_lower_version_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-fence", dir.path()).await;
    let c = http_client();
    assert_eq!(
        write(&c, &peer, "k", "new", &[], Some(100)).await.status(),
        201
    );
    let res = write(&c, &peer, "k", "old", &[], Some(99)).await;
    assert_eq!(
        detail(res).await,
        (409, "Stale version 99: b@k is at version 100".into())
    );
    assert!(
        temp_files(dir.path()).is_empty(),
        "the temp file is removed"
    );
    let res = get(&c, &peer, "/api/v4/buckets/b/k").await;
    assert_eq!(versions(&res), (100, 0));
    assert_eq!(res.text().await.unwrap(), "new");
    // equal is allowed (a retry of the same write)
    let res = write(&c, &peer, "k", "eql", &[], Some(100)).await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        get(&c, &peer, "/api/v4/buckets/b/k")
            .await
            .text()
            .await
            .unwrap(),
        "eql"
    );
    // a disabled object still fences
    let res = c
        .post(format!("{}/api/v4/buckets/b/k/disable", peer.base_url()))
        .header("Object-Version", "150")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = write(&c, &peer, "k", "low", &[], Some(120)).await;
    assert_eq!(
        detail(res).await,
        (409, "Stale version 120: b@k is at version 150".into())
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn concurrent_commits_end_at_the_highest_version() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-race", dir.path()).await;
    let c = http_client();
    for round in 0..8u64 {
        let key = format!("k{round}");
        let (lo, hi) = (10 * round + 1, 10 * round + 5);
        let (a, b) = tokio::join!(
            write(&c, &peer, &key, "lower", &[], Some(lo)),
            write(&c, &peer, &key, "upper", &[], Some(hi)),
        );
        assert_eq!(b.status(), 201, "the highest version always commits");
        assert!(matches!(a.status().as_u16(), 201 | 409));
        let res = get(&c, &peer, &format!("/api/v4/buckets/b/{key}")).await;
        assert_eq!(versions(&res).0, hi);
        assert_eq!(res.text().await.unwrap(), "upper");
    }
    peer.shutdown().await;
}

#[tokio::test]
async fn in_place_updates_follow_the_version_rules() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-upd", dir.path()).await;
    let c = http_client();
    assert_eq!(
        write(&c, &peer, "k", "x", &[], Some(50)).await.status(),
        201
    );
    let update = |producer: &str| json!({"key": "k", "size": 1, "checksum": "c", "producer_id": producer, "tags": {"t": producer}});
    let res = put_metadata_raw(
        &c,
        &peer,
        "b",
        update("stale"),
        &[
            ("Update", "1"),
            ("Object-Version", "49"),
            ("Task-Id", "t-stale"),
        ],
    )
    .await;
    assert_eq!(
        detail(res).await,
        (409, "Stale version 49: b@k is at version 50".into())
    );
    let (_, v) = get_json(&c, &peer, "/api/v4/buckets/b/metadata/k").await;
    assert_eq!(v["metadata"]["producer_id"], "p", "nothing changed");
    assert_eq!(
        upload_chunked(&c, &peer, "t-stale", "x").await.status(),
        404,
        "no pending task was created"
    );

    let res = put_metadata_raw(
        &c,
        &peer,
        "b",
        update("same"),
        &[("Update", "true"), ("Object-Version", "50")],
    )
    .await;
    assert_eq!(res.status(), 201);
    let res = get(&c, &peer, "/api/v4/buckets/b/metadata/k").await;
    assert_eq!(versions(&res).0, 50);
    assert_eq!(
        res.json::<Value>().await.unwrap()["metadata"]["producer_id"],
        "same"
    );

    let before = mictlanx_peer::store::now_ns();
    let res = put_metadata_raw(&c, &peer, "b", update("free"), &[("Update", "1")]).await;
    assert_eq!(res.status(), 201);
    let v = versions(&get(&c, &peer, "/api/v4/buckets/b/metadata/k").await).0;
    assert!(v >= before, "without a header: max(now, current + 1)");
    // an update without Update: true never touches the version
    put_metadata_raw(
        &c,
        &peer,
        "b",
        update("ignored"),
        &[("Object-Version", "1")],
    )
    .await;
    assert_eq!(
        versions(&get(&c, &peer, "/api/v4/buckets/b/metadata/k").await).0,
        v
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn disable_and_delete_respect_versions() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-del", dir.path()).await;
    let c = http_client();
    let rf = [("Replication-Factor", "2")];
    assert_eq!(
        write(&c, &peer, "k", "x", &rf, Some(70)).await.status(),
        201
    );
    let disable = |v: Option<&'static str>| {
        let mut req = c.post(format!("{}/api/v4/buckets/b/k/disable", peer.base_url()));
        if let Some(v) = v {
            req = req.header("Object-Version", v);
        }
        req.send()
    };
    assert_eq!(disable(Some("60")).await.unwrap().status(), 204);
    let res = get(&c, &peer, "/api/v4/buckets/b/metadata/k").await;
    assert_eq!(
        versions(&res),
        (70, 2),
        "max(current, given); disabled objects keep the headers"
    );
    assert_eq!(
        res.json::<Value>().await.unwrap()["metadata"]["is_disabled"],
        true
    );
    assert_eq!(disable(None).await.unwrap().status(), 204);
    let v = versions(&get(&c, &peer, "/api/v4/buckets/b/metadata/k").await).0;
    assert!(v > 70);

    let delete = |at_most: String| {
        c.delete(format!("{}/api/v4/buckets/b/k", peer.base_url()))
            .header("If-Version-At-Most", at_most)
            .send()
    };
    let res = delete((v - 1).to_string()).await.unwrap();
    assert_eq!(res.headers()["n-deletes"], "0");
    assert_eq!(res.headers()["object-version"], v.to_string().as_str());
    assert_eq!(
        detail(res).await,
        (409, format!("b@k has a newer version {v}"))
    );
    assert_eq!(
        get_json(&c, &peer, "/api/v4/balls/len").await.1,
        json!({"len": 1})
    );
    let res = delete(v.to_string()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["n-deletes"], "1");
    let res = delete(v.to_string()).await.unwrap();
    assert_eq!(
        (res.status().as_u16(), &res.headers()["n-deletes"]),
        (404, &"0".parse().unwrap())
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn invalid_extension_headers_are_400() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-bad", dir.path()).await;
    let c = http_client();
    let meta = json!({"key": "k", "size": 1, "checksum": "c", "producer_id": "p"});
    for (name, value) in [
        ("Object-Version", "abc"),
        ("Object-Version", "-1"),
        ("Replication-Factor", "4294967296"),
        ("Replication-Factor", "2.5"),
    ] {
        let res = put_metadata_raw(&c, &peer, "b", meta.clone(), &[(name, value)]).await;
        let (status, text) = detail(res).await;
        assert_eq!(status, 400, "{name}: {value}");
        assert!(text.starts_with(&format!("{name}: ")), "{text}");
    }
    let task = put_metadata(&c, &peer, "b", "k", 1).await;
    let res = c
        .post(format!(
            "{}/api/v4/buckets/data/{task}/chunked",
            peer.base_url()
        ))
        .header("Object-Version", "x1")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // the task is still usable after the refused attempt
    assert_eq!(upload_chunked(&c, &peer, &task, "x").await.status(), 201);
    let res = c
        .delete(format!("{}/api/v4/buckets/b/k", peer.base_url()))
        .header("If-Version-At-Most", "soon")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["n-deletes"], "0");
    assert_eq!(res.status(), 400);
    let res = c
        .post(format!("{}/api/v4/buckets/b/k/disable", peer.base_url()))
        .header("Object-Version", "1e9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        get_json(&c, &peer, "/api/v4/balls/len").await.1,
        json!({"len": 1})
    );
    peer.shutdown().await;
}

#[tokio::test]
async fn records_written_before_versions_load_with_committed_at() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-old", dir.path()).await;
    let c = http_client();
    assert_eq!(
        write(&c, &peer, "k", "x", &[("Replication-Factor", "2")], Some(7))
            .await
            .status(),
        201
    );
    let port = peer.addr().port();
    peer.shutdown().await;
    // strip the new fields from the record, as an older peer wrote it
    let meta_dir = dir.path().join("local/meta");
    let sub = std::fs::read_dir(&meta_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let file = std::fs::read_dir(sub)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut record: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(
        (
            record["version"].as_u64(),
            record["replication_factor"].as_u64()
        ),
        (Some(7), Some(2))
    );
    let committed_at = record["committed_at"].as_u64().unwrap();
    let obj = record.as_object_mut().unwrap();
    obj.remove("version");
    obj.remove("replication_factor");
    std::fs::write(&file, serde_json::to_vec(&record).unwrap()).unwrap();

    let peer = spawn_peer_on_port("p-old", dir.path(), port).await;
    let res = get(&c, &peer, "/api/v4/buckets/b/k").await;
    assert_eq!(versions(&res), (committed_at, 0));
    assert_eq!(res.text().await.unwrap(), "x");
    peer.shutdown().await;
}

//! Per-shard digests and listings (`docs/peer-api.md` #5a): a digest moves with every put, overwrite and
//! delete, comes back to its earlier value when a change is undone and survives a restart; a shard
//! listing holds exactly that shard's objects, in order, a keyset page at a time.

use std::collections::BTreeSet;

use mictlanx_peer::PeerServer;
use mictlanx_proto::peer::{ShardDigests, XBall};
use mictlanx_proto::shard::{object_shard, SHARDS};
use mictlanx_testkit::peer::*;

async fn put(c: &reqwest::Client, peer: &PeerServer, bucket: &str, key: &str, body: &str) {
    let task = put_metadata(c, peer, bucket, key, body.len() as u64).await;
    let res = upload_chunked(c, peer, &task, body.to_string()).await;
    assert_eq!(res.status(), 201, "upload {bucket}@{key}");
}

async fn delete(c: &reqwest::Client, peer: &PeerServer, bucket: &str, key: &str) {
    let url = format!("{}/api/v4/buckets/{bucket}/{key}", peer.base_url());
    let res = c.delete(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "delete {bucket}@{key}");
}

async fn digests(c: &reqwest::Client, peer: &PeerServer) -> Vec<u64> {
    let (status, v) = get_json(c, peer, "/api/v4/xballs/digests").await;
    assert_eq!(status, 200);
    let d: ShardDigests = serde_json::from_value(v).expect("digests answer");
    assert_eq!(d.shards, SHARDS);
    assert_eq!(d.digests.len(), usize::from(SHARDS));
    d.digests.into_iter().map(|d| d.0).collect()
}

/// The shards whose digest differs between `a` and `b`.
fn changed(a: &[u64], b: &[u64]) -> Vec<usize> {
    (0..a.len()).filter(|s| a[*s] != b[*s]).collect()
}

#[tokio::test]
async fn digests_follow_puts_overwrites_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-digests", dir.path()).await;
    let c = http_client();
    let empty = digests(&c, &peer).await;
    assert!(
        empty.iter().all(|d| *d == 0),
        "an empty peer has zero digests"
    );

    for i in 0..20 {
        put(&c, &peer, "b", &format!("k{i}"), "payload").await;
    }
    let base = digests(&c, &peer).await;
    let used: BTreeSet<usize> = (0..20)
        .map(|i| usize::from(object_shard("b", &format!("k{i}"))))
        .collect();
    assert_eq!(changed(&empty, &base), used.into_iter().collect::<Vec<_>>());

    // A new object changes its shard only; deleting it brings the earlier digest back.
    let s = usize::from(object_shard("b", "new"));
    put(&c, &peer, "b", "new", "x").await;
    let with_new = digests(&c, &peer).await;
    assert_eq!(changed(&base, &with_new), [s]);
    delete(&c, &peer, "b", "new").await;
    assert_eq!(digests(&c, &peer).await, base, "put then delete is undone");

    // An overwrite (a new version) changes the shard's digest.
    let s = usize::from(object_shard("b", "k3"));
    put(&c, &peer, "b", "k3", "other payload").await;
    let overwritten = digests(&c, &peer).await;
    assert_eq!(changed(&base, &overwritten), [s]);

    // A delete changes it too; the digests are rebuilt identically at start-up.
    delete(&c, &peer, "b", "k5").await;
    let after_delete = digests(&c, &peer).await;
    assert_eq!(
        changed(&overwritten, &after_delete),
        [usize::from(object_shard("b", "k5"))]
    );
    let port = peer.addr().port();
    peer.shutdown().await;
    let peer = spawn_peer_on_port("p-digests", dir.path(), port).await;
    assert_eq!(digests(&c, &peer).await, after_delete);
    peer.shutdown().await;
}

#[tokio::test]
async fn a_shard_listing_holds_exactly_that_shards_objects_paged() {
    let dir = tempfile::tempdir().unwrap();
    let peer = spawn_peer("p-shard-list", dir.path()).await;
    let c = http_client();
    let keys: Vec<(String, String)> = (0..300)
        .map(|i| (format!("b{}", i % 2), format!("k{i:03}")))
        .collect();
    for (b, k) in &keys {
        put(&c, &peer, b, k, "p").await;
    }
    // the fullest shard, so paging is exercised
    let mut per_shard = vec![Vec::new(); usize::from(SHARDS)];
    for (b, k) in &keys {
        per_shard[usize::from(object_shard(b, k))].push((b.clone(), k.clone()));
    }
    let (shard, expected) = per_shard
        .iter()
        .enumerate()
        .max_by_key(|(_, v)| v.len())
        .map(|(s, v)| (s as u16, v.clone()))
        .unwrap();
    assert!(expected.len() >= 2, "a shard with several objects");
    let mut expected = expected;
    expected.sort();

    let mut listed = Vec::new();
    let mut path = mictlanx_proto::peer::paths::xballs_shard_after(shard, None, 1);
    loop {
        let (status, v) = get_json(&c, &peer, &path).await;
        assert_eq!(status, 200, "{path}");
        let page: Vec<XBall> = serde_json::from_value(v).unwrap();
        assert!(page.len() <= 1, "a page holds at most `limit` items");
        let Some(last) = page.last() else { break };
        path = mictlanx_proto::peer::paths::xballs_shard_after(
            shard,
            Some((&last.bucket_id, &last.key)),
            1,
        );
        listed.extend(page.into_iter().map(|x| (x.bucket_id, x.key)));
    }
    assert_eq!(listed, expected);

    // an empty shard lists nothing; a bad shard is a 400 with a detail
    let empty = (0..SHARDS).find(|s| per_shard[usize::from(*s)].is_empty());
    if let Some(e) = empty {
        let (status, v) = get_json(&c, &peer, &format!("/api/v4/xballs?shard={e}")).await;
        assert_eq!((status, v), (200, serde_json::json!([])));
    }
    let (status, v) = get_json(&c, &peer, "/api/v4/xballs?shard=1024").await;
    assert_eq!(status, 400);
    assert!(v["detail"].as_str().unwrap().contains("shard"), "{v}");
    peer.shutdown().await;
}

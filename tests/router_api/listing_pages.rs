//! Paged bucket listings (`GET /api/v4/buckets/{b}/metadata?limit&start_after&prefix`) against real peers
//! over real HTTP: a walk in pages, with `prefix`, while other clients write and delete, lists every key
//! once and in order, never a key whose delete was acknowledged before the page was asked, and every key
//! that stayed; the unpaged listing is complete; bad paging parameters are refused.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use serde_json::Value;

use mictlanx_testkit::Cluster;

const BUCKET: &str = "pages";
const KEYS: usize = 2000;

fn key(i: usize) -> String {
    // Two prefixes: the walk lists `p-` only.
    if i % 4 == 3 {
        format!("q-{i:05}")
    } else {
        format!("p-{i:05}")
    }
}

/// One page: its keys and `next_start_after`.
async fn page(
    c: &Cluster,
    prefix: &str,
    after: Option<&str>,
    limit: usize,
) -> (Vec<String>, Option<String>) {
    let mut path = format!("/api/v4/buckets/{BUCKET}/metadata?limit={limit}&prefix={prefix}");
    if let Some(a) = after {
        path.push_str(&format!("&start_after={a}"));
    }
    let res = c.client.get(&path).await;
    assert_eq!(res.status(), 200, "{path}");
    let v: Value = res.json().await.expect("page json");
    assert_eq!(v["bucket_id"], BUCKET);
    assert_eq!(v["peers_ids"], v["peer_ids"]);
    let keys: Vec<String> = v["balls"]
        .as_array()
        .expect("balls")
        .iter()
        .map(|b| b["key"].as_str().expect("key").to_string())
        .collect();
    assert!(keys.len() <= limit, "{} keys for limit {limit}", keys.len());
    let next = v["next_start_after"].as_str().map(str::to_string);
    (keys, next)
}

#[tokio::test]
async fn a_paged_walk_with_concurrent_writes_and_deletes_lists_each_key_once_in_order() {
    let c = Cluster::builder().peers(3).start().await;
    let put = |i: usize| {
        let c = &c;
        async move {
            c.client
                .put(BUCKET, &key(i), format!("v{i}").as_bytes(), 2)
                .await;
        }
    };
    futures::stream::iter(0..KEYS)
        .for_each_concurrent(16, put)
        .await;
    // Deleted before the walk: never listed.
    let early: Vec<usize> = (0..KEYS).filter(|i| i % 13 == 0).collect();
    for &i in &early {
        let res = c
            .client
            .delete(&format!("/api/v4/buckets/{BUCKET}/{}", key(i)))
            .await;
        assert_eq!(res.status(), 200, "delete {}", key(i));
    }

    // While the walk runs: deletes of some keys and writes of new ones, acknowledged at known instants.
    let acked: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let churned: BTreeSet<String> = (0..KEYS)
        .filter(|i| i % 13 != 0 && i % 5 == 0)
        .map(key)
        .collect();
    let writer = {
        let (c2, acked) = (c.client.clone(), acked.clone());
        let churned = churned.clone();
        tokio::spawn(async move {
            for (n, k) in churned.iter().enumerate() {
                let res = c2.delete(&format!("/api/v4/buckets/{BUCKET}/{k}")).await;
                assert_eq!(res.status(), 200, "delete {k}");
                acked.lock().unwrap().insert(k.clone(), Instant::now());
                c2.put(BUCKET, &format!("{k}-new{n}"), b"new", 2).await;
            }
        })
    };

    let mut walked: Vec<String> = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let asked = Instant::now();
        let (keys, next) = page(&c, "p-", after.as_deref(), 37).await;
        pages += 1;
        for k in &keys {
            assert!(k.starts_with("p-"), "{k} outside the prefix");
            let deleted_before = acked.lock().unwrap().get(k).is_some_and(|t| *t < asked);
            assert!(
                !deleted_before,
                "{k} listed after its delete was acknowledged"
            );
        }
        walked.extend(keys);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
        assert!(pages < 1000, "the walk does not end");
    }
    writer.await.expect("writer");

    assert!(
        walked.windows(2).all(|w| w[0] < w[1]),
        "every key once, in order"
    );
    let listed: BTreeSet<&String> = walked.iter().collect();
    for i in (0..KEYS).filter(|i| i % 13 == 0) {
        assert!(
            !listed.contains(&key(i)),
            "{} deleted before the walk",
            key(i)
        );
    }
    let stayed: Vec<String> = (0..KEYS)
        .map(key)
        .filter(|k| k.starts_with("p-") && !churned.contains(k))
        .filter(|k| !early.iter().any(|&i| key(i) == *k))
        .collect();
    for k in &stayed {
        assert!(
            listed.contains(k),
            "{k} stayed all along but was not listed"
        );
    }

    // The unpaged listing (what the MictlanX client asks) is complete and agrees with a quiet paged walk.
    let all: Vec<String> = c
        .client
        .listing(BUCKET)
        .await
        .iter()
        .map(|b| b["key"].as_str().unwrap().to_string())
        .collect();
    assert!(all.windows(2).all(|w| w[0] < w[1]));
    let expected_total = KEYS - early.len();
    assert_eq!(all.len(), expected_total, "every live key, old and new");
    let mut quiet = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (keys, next) = page(&c, "", after.as_deref(), 500).await;
        quiet.extend(keys);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(quiet, all);
    c.stop().await;
}

#[tokio::test]
async fn paging_parameters_are_checked() {
    let c = Cluster::builder().peers(1).start().await;
    for q in ["limit=0", "limit=10001", "limit=x"] {
        let res = c
            .client
            .get(&format!("/api/v4/buckets/{BUCKET}/metadata?{q}"))
            .await;
        assert_eq!(res.status(), 422, "{q}");
        let v: Value = res.json().await.unwrap();
        assert!(v["detail"].is_array(), "{q}: {v}");
    }
    let res = c
        .client
        .get(&format!("/api/v4/buckets/{BUCKET}/metadata?limit=5"))
        .await;
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["balls"], serde_json::json!([]));
    assert_eq!(v["next_start_after"], Value::Null);
    c.stop().await;
}

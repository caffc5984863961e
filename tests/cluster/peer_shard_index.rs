//! The per-peer index read a shard at a time (`StateStore::peer_shard_objects`), on every backend: the
//! shards of a peer partition its index exactly, another peer's keys never show, and a holder dropped
//! from a record leaves its shard.

use std::collections::BTreeSet;

use mictlanx_proto::shard::{shard_of, SHARDS};
use mictlanx_router::cluster::store::Write;

use crate::state_store::{all_pages, backends, put, record};

#[tokio::test]
async fn a_peers_index_is_read_one_shard_at_a_time() {
    for (name, store, _guard) in backends().await {
        let keys: Vec<String> = (0..60).map(|i| format!("b@k{i}")).collect();
        for (i, k) in keys.iter().enumerate() {
            let holders: &[&str] = if i % 3 == 0 { &["p1", "p2"] } else { &["p1"] };
            assert!(store
                .apply(vec![put(k, None, record(holders, 1, 2))])
                .await
                .unwrap());
        }
        let mut union = BTreeSet::new();
        for shard in 0..SHARDS {
            let got = store.peer_shard_objects("p1", shard).await.unwrap();
            assert!(
                got.iter().all(|k| shard_of(k) == shard),
                "{name}: shard {shard}"
            );
            union.extend(got);
        }
        let all: BTreeSet<String> = keys.iter().cloned().collect();
        assert_eq!(union, all, "{name}: the shards partition the index");
        assert_eq!(all_pages(store.as_ref(), "p1").await.len(), keys.len());

        let s = shard_of("b@k3");
        let p2: BTreeSet<String> = store
            .peer_shard_objects("p2", s)
            .await
            .unwrap()
            .into_iter()
            .collect();
        assert!(p2.contains("b@k3"), "{name}");
        assert!(p2
            .iter()
            .all(|k| k.trim_start_matches("b@k").parse::<usize>().unwrap() % 3 == 0));

        // drop p1 from b@k3: it leaves p1's shard, stays in p2's
        let prev = store.object("b@k3").await.unwrap();
        let w = Write::Object {
            key: "b@k3".into(),
            prev,
            next: Some(record(&["p2"], 2, 2)),
        };
        assert!(store.apply(vec![w]).await.unwrap());
        assert!(!store
            .peer_shard_objects("p1", s)
            .await
            .unwrap()
            .contains(&"b@k3".to_string()));
        assert!(store
            .peer_shard_objects("p2", s)
            .await
            .unwrap()
            .contains(&"b@k3".to_string()));
        assert!(store
            .peer_shard_objects("nobody", s)
            .await
            .unwrap()
            .is_empty());
    }
}

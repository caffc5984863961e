//! Inventory passes cost work proportional to change, on every state backend: concurrent passes of three
//! peers over the same objects stay batched, a pass over unchanged peers writes nothing to the state store,
//! one new object costs one record write, and forgetting a removed peer writes its records in batches. Asserted on the store's write counters (`/metrics`).

use std::time::Duration;

use mictlanx_router::cluster::{EmbeddedReplicaManager, ReplicaManager};
use mictlanx_router::telemetry::Metrics;
use mictlanx_testkit::{wait::eventually, Peer};

use crate::replica_manager::{backends, client, config, put_direct};

/// The value of the series `name` (`name{labels}` when given) in the Prometheus text; 0 when absent.
pub(crate) fn series(m: &Metrics, name: &str) -> u64 {
    m.render()
        .lines()
        .find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == name).then(|| v.parse::<f64>().ok())?
        })
        .map_or(0, |v| v as u64)
}

/// The object records written so far.
pub(crate) fn writes(m: &Metrics) -> u64 {
    series(m, "mictlanx_router_state_object_writes_total")
}

fn batches(m: &Metrics) -> u64 {
    series(m, "mictlanx_router_state_batches_total")
}

/// The complete single-peer passes so far.
pub(crate) fn passes(m: &Metrics) -> u64 {
    series(
        m,
        "mictlanx_router_inventory_passes_total{outcome=\"complete\"}",
    )
}

/// Waits until `n` more complete single-peer passes ran.
pub(crate) async fn passes_after(m: &Metrics, n: u64) {
    let target = passes(m) + n;
    eventually("more inventory passes", || async { passes(m) >= target }).await;
}

const KEYS: usize = 150;

#[tokio::test]
async fn a_pass_over_unchanged_peers_writes_nothing() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let peers = [
            Peer::in_process("p0", root.path()).await,
            Peer::in_process("p1", root.path()).await,
            Peer::in_process("p2", root.path()).await,
        ];
        let mut cfg = config(
            &be,
            &root.path().join("state"),
            peers.iter().map(Peer::info).collect(),
        );
        cfg.replica.rebuild_page_size = 40;
        cfg.replica.rebuild_interval = Duration::from_millis(200);
        let c = client(&cfg);
        for i in 0..KEYS {
            for p in &peers {
                put_direct(&c, &p.info(), "inv", &format!("k{i:04}"), b"payload").await;
            }
        }
        let metrics = Metrics::new();
        let rm = EmbeddedReplicaManager::start(&cfg, c.clone(), metrics.clone())
            .await
            .expect("manager starts");
        eventually("every object mapped on three holders", || async {
            for i in [0, KEYS / 2, KEYS - 1] {
                let r = rm.get_replicas("inv", &format!("k{i:04}")).await.unwrap();
                if r.replicas.len() != 3 {
                    return false;
                }
            }
            true
        })
        .await;
        // Let every pass that started before the map was complete end.
        passes_after(&metrics, 3).await;
        let (w1, b1) = (writes(&metrics), batches(&metrics));
        // Three passes adopting the same objects concurrently: each record written at most once per
        // peer, in page-sized batches, not one write per key.
        assert!(
            w1 >= KEYS as u64 && w1 <= 3 * KEYS as u64,
            "{} writes for {KEYS} objects on 3 peers",
            w1
        );
        assert!(b1 <= 40, "{b1} batches for {KEYS} objects in pages of 40");

        passes_after(&metrics, 6).await;
        assert_eq!(
            writes(&metrics),
            w1,
            "{}: two more rounds of passes over unchanged peers wrote records",
            be.name
        );

        // One new object costs one record write, whatever the size of the inventory.
        put_direct(&c, &peers[1].info(), "inv", "new", b"payload").await;
        eventually("the new object mapped", || async {
            rm.get_replicas("inv", "new").await.unwrap().replicas.len() == 1
        })
        .await;
        passes_after(&metrics, 6).await;
        assert_eq!(
            writes(&metrics),
            w1 + 1,
            "{}: one change, one write",
            be.name
        );

        // Forgetting a removed peer changes its records a page at a time.
        let (w2, b2) = (writes(&metrics), batches(&metrics));
        rm.remove_peers(vec!["p2".into()]).await.unwrap();
        assert_eq!(
            writes(&metrics) - w2,
            KEYS as u64,
            "one write per record of p2"
        );
        let forget_batches = batches(&metrics) - b2;
        assert!(
            forget_batches <= 5,
            "{forget_batches} batches for {KEYS} records"
        );
        let r = rm.get_replicas("inv", "k0000").await.unwrap();
        assert_eq!(r.replicas.len(), 2);
        rm.shutdown().await;
    }
}

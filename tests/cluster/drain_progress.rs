//! A drain's progress costs no record reads of its own, on every state backend: while a drain cannot
//! proceed, a repair round reads each record of the draining peer once (for the repair), not twice; the
//! drain then finishes with the right figures; and a finished drain is not walked again. Asserted on the
//! store's read counter (`mictlanx_router_state_object_reads_total`) and the repair rounds.

use std::time::Duration;

use mictlanx_router::cluster::{EmbeddedReplicaManager, ReplicaManager};
use mictlanx_router::telemetry::Metrics;
use mictlanx_testkit::{wait::eventually, Peer};

use crate::inventory_passes::series;
use crate::replica_manager::{backends, client, config, put_direct};

const KEYS: u64 = 120;

fn reads(m: &Metrics) -> u64 {
    series(m, "mictlanx_router_state_object_reads_total")
}

async fn rounds(rm: &EmbeddedReplicaManager) -> u64 {
    rm.repair_status().await.done.rounds
}

/// Record reads during at least `n` more repair rounds, and how many rounds ended meanwhile.
async fn reads_over_rounds(rm: &EmbeddedReplicaManager, m: &Metrics, n: u64) -> (u64, u64) {
    let (r0, x0) = (rounds(rm).await, reads(m));
    eventually("more repair rounds", || async {
        rounds(rm).await >= r0 + n
    })
    .await;
    let (r1, x1) = (rounds(rm).await, reads(m));
    (x1 - x0, r1 - r0)
}

#[tokio::test]
async fn drain_progress_reads_no_records() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let peers = [
            Peer::in_process("d0", root.path()).await,
            Peer::in_process("d1", root.path()).await,
            Peer::in_process("d2", root.path()).await,
        ];
        // Only d0 and d1 are known at first: draining d0 has nowhere to copy to.
        let mut cfg = config(
            &be,
            &root.path().join("state"),
            vec![peers[0].info(), peers[1].info()],
        );
        cfg.replica.rebuild_interval = Duration::ZERO;
        cfg.replica.repair.interval = Duration::from_millis(150);
        cfg.replica.repair.bandwidth = 0;
        let c = client(&cfg);
        for i in 0..KEYS {
            for p in &peers[..2] {
                put_direct(&c, &p.info(), "dp", &format!("k{i:04}"), b"payload").await;
            }
        }
        let metrics = Metrics::new();
        let rm = EmbeddedReplicaManager::start(&cfg, c.clone(), metrics.clone())
            .await
            .expect("manager starts");
        eventually("the start-up inventory pass done", || async {
            series(
                &metrics,
                "mictlanx_router_inventory_passes_total{outcome=\"complete\"}",
            ) >= 2
        })
        .await;
        // every object is recorded on both peers before the drain starts: an object seen on d0 alone so far
        // (d1's pass not finished) could be "drained" onto d1, which holds it already, and the drain would not
        // be stuck
        eventually("every object recorded on d0 and d1", || async {
            for i in 0..KEYS {
                let r = rm.get_replicas("dp", &format!("k{i:04}")).await.unwrap();
                if r.replicas.len() != 2 {
                    return false;
                }
            }
            true
        })
        .await;

        let started = rm.start_drain("d0").await.unwrap();
        assert_eq!(started.objects_total, KEYS, "{}", be.name);
        assert_eq!(started.state, "running");
        // Stuck (no peer can take a copy): every round looks at each of d0's records once.
        reads_over_rounds(&rm, &metrics, 1).await;
        let (read, n) = reads_over_rounds(&rm, &metrics, 4).await;
        eprintln!(
            "{}: stuck drain: {read} record reads in {n} rounds",
            be.name
        );
        assert!(
            read <= KEYS * (n + 1),
            "{}: {read} record reads in {n} rounds over {KEYS} objects",
            be.name
        );
        let s = rm.drain_status("d0").await.unwrap().unwrap();
        assert_eq!((s.state.as_str(), s.objects_done), ("running", 0), "{s:?}");

        // A third peer: every object gets its second copy there and the drain ends.
        rm.add_peers(vec![peers[2].info()]).await.unwrap();
        eventually("the drain done", || async {
            rm.drain_status("d0").await.unwrap().unwrap().state == "done"
        })
        .await;
        let s = rm.drain_status("d0").await.unwrap().unwrap();
        assert_eq!((s.objects_total, s.objects_done), (KEYS, KEYS), "{s:?}");
        assert!(s.bytes_copied >= KEYS * 7, "{s:?}");
        assert!(s.finished_at_ns.is_some(), "{s:?}");
        for i in [0, KEYS / 2, KEYS - 1] {
            let r = rm.get_replicas("dp", &format!("k{i:04}")).await.unwrap();
            let ids: Vec<&str> = r.replicas.iter().map(|p| p.peer_id.as_str()).collect();
            assert!(ids.contains(&"d2"), "{}: k{i:04} on {ids:?}", be.name);
        }

        // A finished drain is not walked again: rounds over a space where nothing changes read (almost)
        // nothing, not every record of d0 each round.
        let (read, n) = reads_over_rounds(&rm, &metrics, 4).await;
        eprintln!(
            "{}: after the drain: {read} record reads in {n} rounds",
            be.name
        );
        assert!(
            read < KEYS,
            "{}: {read} record reads in {n} rounds after the drain",
            be.name
        );
        rm.shutdown().await;
    }
}

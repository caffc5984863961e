//! Incremental inventory passes (`docs/replica-manager.md` §7.2), on the embedded store and on Redis: a pass
//! over an unchanged peer reads no record and writes none; a change made straight on a peer costs the next
//! pass one shard of that peer, and only that shard's records; every K-th pass reconciles every shard; a
//! peer without shard digests (an original MictlanX peer) still gets full listing passes. Asserted on the
//! counters of `/metrics`, never on timings.

use std::time::Duration;

use mictlanx_proto::shard::{object_shard, shard_of, SHARDS};
use mictlanx_router::cluster::{EmbeddedReplicaManager, PeerInfo, ReplicaManager};
use mictlanx_router::telemetry::Metrics;
use mictlanx_testkit::{wait::eventually, Peer};

use crate::inventory_passes::{passes, passes_after, series, writes};
use crate::replica_manager::{backends, client, config, put_direct};

fn reads(m: &Metrics) -> u64 {
    series(m, "mictlanx_router_state_object_reads_total")
}

fn shards(m: &Metrics, outcome: &str) -> u64 {
    series(
        m,
        &format!("mictlanx_router_inventory_shards_total{{outcome=\"{outcome}\"}}"),
    )
}

const KEYS: usize = 120;

fn key(i: usize) -> String {
    format!("k{i:04}")
}

/// How many of the `KEYS` objects of bucket `inv` fall in `shard`.
fn in_shard(shard: u16) -> u64 {
    (0..KEYS)
        .filter(|i| object_shard("inv", &key(*i)) == shard)
        .count() as u64
}

#[tokio::test]
async fn an_unchanged_peer_costs_no_reads_and_a_change_costs_one_shard() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let peers = [
            Peer::in_process("s0", root.path()).await,
            Peer::in_process("s1", root.path()).await,
        ];
        let mut cfg = config(
            &be,
            &root.path().join("state"),
            peers.iter().map(Peer::info).collect(),
        );
        cfg.replica.rebuild_interval = Duration::from_millis(200);
        cfg.replica.full_pass_every = 1_000_000;
        let c = client(&cfg);
        for i in 0..KEYS {
            for p in &peers {
                put_direct(&c, &p.info(), "inv", &key(i), b"payload").await;
            }
        }
        let m = Metrics::new();
        let rm = EmbeddedReplicaManager::start(&cfg, c.clone(), m.clone())
            .await
            .expect("manager starts");
        eventually("every object mapped on two holders", || async {
            for i in [0, KEYS / 2, KEYS - 1] {
                if rm
                    .get_replicas("inv", &key(i))
                    .await
                    .unwrap()
                    .replicas
                    .len()
                    != 2
                {
                    return false;
                }
            }
            true
        })
        .await;
        passes_after(&m, 4).await;
        let (r0, w0, scanned0) = (reads(&m), writes(&m), shards(&m, "scanned"));
        let skipped0 = shards(&m, "skipped");
        assert!(
            scanned0 >= 2 * u64::from(SHARDS),
            "first passes reconcile every shard"
        );

        passes_after(&m, 4).await;
        assert_eq!(reads(&m), r0, "{}: unchanged peers, records read", be.name);
        assert_eq!(
            writes(&m),
            w0,
            "{}: unchanged peers, records written",
            be.name
        );
        assert_eq!(shards(&m, "scanned"), scanned0, "{}", be.name);
        assert!(shards(&m, "skipped") >= skipped0 + 4 * u64::from(SHARDS));

        // One object written straight to s0: the next pass of s0 reconciles its shard only, reading the
        // records of that shard's objects on s0 (the new one included), and adopts it with one write.
        put_direct(&c, &peers[0].info(), "inv", "new", b"payload").await;
        let s = shard_of("inv@new");
        eventually("the new object's shard reconciled", || async {
            shards(&m, "scanned") > scanned0
        })
        .await;
        passes_after(&m, 4).await;
        assert_eq!(
            shards(&m, "scanned"),
            scanned0 + 1,
            "{}: one shard",
            be.name
        );
        assert_eq!(
            reads(&m) - r0,
            in_shard(s) + 1,
            "{}: that shard's records",
            be.name
        );
        assert_eq!(writes(&m) - w0, 1, "{}: one adoption", be.name);
        assert_eq!(
            rm.get_replicas("inv", "new").await.unwrap().replicas.len(),
            1
        );

        // One object deleted straight on s1: its shard is reconciled and the holder dropped.
        let (r1, w1, scanned1) = (reads(&m), writes(&m), shards(&m, "scanned"));
        let gone = key(7);
        c.delete(&peers[1].info(), "inv", &gone, true)
            .await
            .unwrap();
        eventually("the deleted object's shard reconciled", || async {
            shards(&m, "scanned") > scanned1
        })
        .await;
        passes_after(&m, 4).await;
        let s = object_shard("inv", &gone);
        assert_eq!(
            shards(&m, "scanned"),
            scanned1 + 1,
            "{}: one shard",
            be.name
        );
        assert_eq!(
            reads(&m) - r1,
            in_shard(s),
            "{}: that shard's records",
            be.name
        );
        assert_eq!(writes(&m) - w1, 1, "{}: one holder dropped", be.name);
        let r = rm.get_replicas("inv", &gone).await.unwrap();
        assert_eq!(r.replicas.len(), 1, "{}", be.name);
        rm.shutdown().await;
    }
}

#[tokio::test]
async fn every_kth_pass_reconciles_every_shard() {
    let be = backends().remove(0);
    let root = tempfile::tempdir().unwrap();
    let peer = Peer::in_process("k0", root.path()).await;
    let mut cfg = config(&be, &root.path().join("state"), vec![peer.info()]);
    cfg.replica.rebuild_interval = Duration::from_millis(100);
    cfg.replica.full_pass_every = 2;
    let c = client(&cfg);
    for i in 0..20 {
        put_direct(&c, &peer.info(), "inv", &key(i), b"payload").await;
    }
    let m = Metrics::new();
    let rm = EmbeddedReplicaManager::start(&cfg, c, m.clone())
        .await
        .expect("manager starts");
    passes_after(&m, 5).await;
    // Complete passes 1 (no digests yet), 2 and 4 (every second) reconcile every shard, 3 none; a sixth
    // pass may be under way.
    let done = passes(&m);
    let scanned = shards(&m, "scanned");
    let all = u64::from(SHARDS);
    assert!(
        scanned >= all * (1 + done / 2),
        "{scanned} shards scanned in {done} passes with K=2"
    );
    assert!(
        scanned <= all * (1 + done.div_ceil(2)),
        "{scanned} in {done}"
    );
    rm.shutdown().await;
}

/// An original MictlanX peer: the real peer behind a proxy that answers 404 to the shard digests (reads
/// only; the test writes to the real peer).
async fn peer_without_digests(real: &Peer) -> PeerInfo {
    use axum::extract::{OriginalUri, State};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use axum::routing::get;
    async fn forward(
        State(base): State<String>,
        OriginalUri(uri): OriginalUri,
    ) -> impl IntoResponse {
        let http = mictlanx_testkit::peer::http_client();
        let res = http.get(format!("{base}{uri}")).send().await.unwrap();
        let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
        (status, res.bytes().await.unwrap())
    }
    let app = axum::Router::new()
        .route(
            "/api/v4/xballs/digests",
            get(|| async { (StatusCode::NOT_FOUND, "Not Found") }),
        )
        .fallback(forward)
        .with_state(real.base_url());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    PeerInfo {
        port,
        ip_addr: "127.0.0.1".into(),
        ..real.info()
    }
}

#[tokio::test]
async fn a_peer_without_digests_gets_full_passes() {
    for be in backends() {
        eprintln!("backend: {}", be.name);
        let root = tempfile::tempdir().unwrap();
        let real = Peer::in_process("old0", root.path()).await;
        let info = peer_without_digests(&real).await;
        let mut cfg = config(&be, &root.path().join("state"), vec![info.clone()]);
        cfg.replica.rebuild_interval = Duration::from_millis(200);
        let c = client(&cfg);
        for i in 0..30 {
            put_direct(&c, &real.info(), "inv", &key(i), b"payload").await;
        }
        let m = Metrics::new();
        let rm = EmbeddedReplicaManager::start(&cfg, c.clone(), m.clone())
            .await
            .expect("manager starts");
        passes_after(&m, 2).await;
        let r0 = reads(&m);
        passes_after(&m, 2).await;
        // every pass lists the whole inventory and reads a record per listed copy
        assert!(
            reads(&m) - r0 >= 30,
            "{}: full passes read every record",
            be.name
        );
        assert_eq!(
            shards(&m, "scanned") + shards(&m, "skipped"),
            0,
            "{}",
            be.name
        );
        assert_eq!(
            rm.get_replicas("inv", &key(3))
                .await
                .unwrap()
                .replicas
                .len(),
            1
        );
        // and a copy deleted on the peer loses its holder
        c.delete(&real.info(), "inv", &key(3), true).await.unwrap();
        eventually("the holder dropped", || async {
            rm.get_replicas("inv", &key(3))
                .await
                .unwrap()
                .replicas
                .is_empty()
        })
        .await;
        rm.shutdown().await;
    }
}

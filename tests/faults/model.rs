//! The model-based random test: two routers on one real Redis, four real peers, four clients doing random
//! operations (put and overwrite with rf 1–3 and 0 B to 3 MiB, phase 1 and phase 2 through different
//! routers; get, ranged get, metadata, delete, update, disable, listing, paged walks of a bucket within a
//! prefix) on 2 × 16 contended keys through a router picked at random, while a nemesis stops and kills peers, kills and restarts routers, stops Redis
//! and drains and removes a peer. A fixed list of seeds; `MICTLANX_MODEL_SEEDS` (comma-separated) and
//! `MICTLANX_MODEL_SECONDS` replace them, and `MICTLANX_MODEL_BACKEND=redis-cluster` runs them on a Redis
//! Cluster of three masters and three replicas, whose masters the nemesis also stops and kills (the first
//! fault: a master's SIGKILL; its replica takes over, the node is restarted and rejoins as a replica).
//! The cluster backend is left to `benches/soak.sh`: one short run on it took 27–39 s (12–15 s of
//! operations, plus the cluster's start, the replicas' first sync and a failover), which took this test
//! past 90 s.
//!
//! The checker's rules (`mictlanx_testkit::chaos::checker`), where concurrent or indeterminate operations
//! allow every outcome they could explain:
//! 1. no acknowledged write is lost (no 404 while only puts are possible);
//! 2. a read returns the bytes of a write that is still possible: after an acknowledged write with no other
//!    write in flight, that write's bytes or a newer write's, through any router;
//! 3. a deleted key never comes back;
//! 4. no read returns bytes that were never written;
//! 5. a listing (complete, or walked in pages through random routers) never shows a deleted key, shows
//!    its keys once, in order, within its prefix, and (with no fault near it) every acknowledged one;
//! 6. no operation takes longer than 30 s;
//! 7. once the faults stop, every object is back on `min(rf, peers)` peers within 60 s;
//! 8. a listing answered 200 has a body that parses (with no fault near it); one that does not is
//!    indeterminate, never an empty listing.
//!
//! A failure prints the seed, the faults and the slice of history around each violation.

use std::time::Duration;

use mictlanx_testkit::chaos::{self, Backend, Run};
use mictlanx_testkit::faults::serial;

const SEEDS: [u64; 2] = [1_024, 5];
const SECONDS: u64 = 25;

/// The seeds of `MICTLANX_MODEL_SEEDS` (else [`SEEDS`]) for `MICTLANX_MODEL_SECONDS` each (else
/// [`SECONDS`]) on `MICTLANX_MODEL_BACKEND` (`redis` by default, or `redis-cluster`).
fn runs() -> Vec<Run> {
    let env = |name| std::env::var(name).ok();
    let seeds: Vec<u64> = env("MICTLANX_MODEL_SEEDS")
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| SEEDS.to_vec());
    let secs = env("MICTLANX_MODEL_SECONDS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(SECONDS);
    let backend = env("MICTLANX_MODEL_BACKEND")
        .map(|b| Backend::parse(&b).expect("MICTLANX_MODEL_BACKEND is redis or redis-cluster"))
        .unwrap_or(Backend::Redis);
    seeds
        .into_iter()
        .map(|seed| Run {
            backend,
            ..Run::short(seed, Duration::from_secs(secs))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_operations_under_faults_keep_every_promise() {
    let _serial = serial().await;
    for run in runs() {
        let backend = run.backend;
        // `None`: the Redis tools are not installed.
        let Some(report) = chaos::run(run).await else {
            continue;
        };
        println!("{}", report.summary());
        assert!(
            report.ops.len() > 50,
            "the clients did some work: {}",
            report.summary()
        );
        assert!(!report.faults.is_empty(), "the nemesis injected faults");
        if backend == Backend::RedisCluster {
            assert!(
                report
                    .faults
                    .iter()
                    .any(|f| f.what.contains("; failed over")
                        && f.what.contains("rejoined as an in-sync replica")),
                "a master was killed, failed over and rejoined: {}",
                report.summary()
            );
        }
        assert!(report.violations.is_empty(), "{}", report.failure());
    }
}

//! A model-based random run with a nemesis, on real processes: routers on one Redis (or one Redis
//! Cluster), peers, concurrent
//! clients doing random operations on a small contended key space, faults injected meanwhile, then the
//! faults stop, every object must get back to its replication factor, and the checker judges the history.
//! Seeded: the same seed gives the same operations and faults (timing still varies). Used by the fault
//! suite's short run and by `benches/soak.sh`.

pub mod checker;
pub mod history;
mod listing;
pub mod nemesis;
mod requests;
pub mod space;
pub mod store;
pub mod summary;
pub mod workload;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub use checker::{check, Violation};
pub use history::{History, Kind, Op, Outcome, Seen};
pub use nemesis::Nemesis;
pub use space::Space;
pub use store::Backend;
pub use summary::Report;
pub use workload::Workload;

use crate::peer::sha256_stream;

/// One run's settings.
#[derive(Debug, Clone)]
pub struct Run {
    pub seed: u64,
    pub duration: Duration,
    /// The state store the routers share.
    pub backend: Backend,
    pub peers: usize,
    pub routers: usize,
    pub workload: Workload,
    pub nemesis: Nemesis,
    /// Longest any operation may take (rule 6).
    pub bound: Duration,
    /// How long objects get to return to their replication factor once the faults stopped (rule 7).
    pub settle: Duration,
}

impl Run {
    /// The short run of the test suite: two routers, four peers, four clients, 24 + 4 keys per bucket.
    pub fn short(seed: u64, duration: Duration) -> Run {
        Run {
            seed,
            duration,
            backend: Backend::Redis,
            peers: 4,
            routers: 2,
            workload: Workload {
                clients: 4,
                keys: 12,
                max_size: 3 << 20,
                timeout: Duration::from_secs(45),
            },
            nemesis: Nemesis {
                pause: Duration::from_millis(1500),
                drain: duration >= Duration::from_secs(20),
            },
            bound: Duration::from_secs(30),
            settle: Duration::from_secs(60),
        }
    }
}

/// Run it; `None` without `redis-server`.
pub async fn run(r: Run) -> Option<Report> {
    let started = Instant::now();
    let space = Space::start(r.peers, r.routers, r.backend).await?;
    let urls = space.router_urls();
    let space = Arc::new(tokio::sync::Mutex::new(space));
    let history = History::default();
    let until = Instant::now() + r.duration;
    let clients: Vec<_> = (0..r.workload.clients)
        .map(|i| {
            tokio::spawn(workload::run_client(
                i,
                r.seed,
                urls.clone(),
                history.clone(),
                r.workload.clone(),
                until,
            ))
        })
        .collect();
    let nemesis = tokio::spawn(nemesis::run_nemesis(
        r.seed,
        r.nemesis,
        space.clone(),
        history.clone(),
        until,
    ));
    for c in clients {
        c.await.expect("client task");
    }
    nemesis.await.expect("nemesis task");

    let space = space.lock().await;
    let mut violations = Vec::new();
    if !space.wait_all_available(Duration::from_secs(60)).await {
        tracing_note("not every router saw every peer again within 60 s");
    }
    settle(&space, &history, &r, &mut violations).await;
    let ops = history.ops();
    let faults = history.faults();
    let mut all = check(&ops, &faults, r.bound);
    all.extend(violations);
    let (repairs, deletes_applied) = repair_totals(&space).await;
    Some(Report {
        seed: r.seed,
        backend: r.backend,
        ops,
        faults,
        violations: all,
        repairs,
        deletes_applied,
        elapsed: started.elapsed(),
    })
}

fn tracing_note(msg: &str) {
    eprintln!("chaos: {msg}");
}

/// Rule 7: once the faults stopped, read every key through the routers (recorded and judged like any
/// read), then wait until each object that has a value is stored on `min(rf, registered peers)` peers.
async fn settle(space: &Space, history: &History, r: &Run, out: &mut Vec<Violation>) {
    let ops = history.ops();
    let mut keys: Vec<(String, String)> = ops
        .iter()
        .filter(|o| matches!(o.kind, Kind::Put { .. }))
        .map(|o| (o.bucket.clone(), o.key.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let urls = space.router_urls();
    let client = r.workload.clients;
    let mut finals = Vec::new();
    for (i, (b, k)) in keys.iter().enumerate() {
        let router = i % urls.len();
        let id = history.next_id();
        let invoked = history.now();
        let res = space
            .http
            .get(format!("{}/api/v4/buckets/{b}/{k}", urls[router]))
            .header("Force-Get", "1")
            .send()
            .await;
        let (outcome, status, seen) = match res {
            Ok(res) if res.status() == 200 => {
                let (digest, len) = sha256_stream(res.bytes_stream()).await;
                (Outcome::Ok, 200, Seen::Value { digest, len })
            }
            Ok(res) if res.status() == 404 => (Outcome::Ok, 404, Seen::Absent),
            Ok(res) => (Outcome::Indeterminate, res.status().as_u16(), Seen::Nothing),
            Err(_) => (Outcome::Indeterminate, 0, Seen::Nothing),
        };
        let op = Op {
            id,
            client,
            router,
            bucket: b.clone(),
            key: k.clone(),
            kind: Kind::Get,
            invoked,
            completed: history.now(),
            outcome,
            status,
            seen,
            note: "final read".into(),
        };
        history.record(op.clone());
        finals.push(op);
    }
    let peers = space.active_peers();
    let deadline = Instant::now() + r.settle;
    for op in finals {
        let Seen::Value { digest, .. } = &op.seen else {
            continue;
        };
        let rf = ops
            .iter()
            .find_map(|o| match &o.kind {
                Kind::Put { digest: d, rf, .. } if d == digest && o.object() == op.object() => {
                    Some(*rf)
                }
                _ => None,
            })
            .unwrap_or(1);
        let want = (rf as usize).min(peers.len());
        loop {
            let mut have = 0;
            for &i in &peers {
                let url = format!(
                    "{}/api/v4/buckets/{}/{}",
                    space.peers[i].base_url(),
                    op.bucket,
                    op.key
                );
                if let Ok(res) = space.http.get(url).send().await {
                    if res.status() == 200 && &sha256_stream(res.bytes_stream()).await.0 == digest {
                        have += 1;
                    }
                }
            }
            if have >= want {
                break;
            }
            if Instant::now() > deadline {
                let mut op = op.clone();
                op.note = format!("{have} of {want} copies after the faults stopped");
                out.push(Violation {
                    rule: "7 not back to its replication factor",
                    op,
                    context: Vec::new(),
                });
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// `done.repaired` and `done.deletes_applied` summed over the routers (each counts its own rounds).
async fn repair_totals(space: &Space) -> (u64, u64) {
    let mut totals = (0, 0);
    for url in space.router_urls() {
        if let Ok(res) = space.http.get(format!("{url}/api/v4/repair")).send().await {
            let v: Value = res.json().await.unwrap_or_default();
            totals.0 += v["done"]["repaired"].as_u64().unwrap_or(0);
            totals.1 += v["done"]["deletes_applied"].as_u64().unwrap_or(0);
        }
    }
    totals
}

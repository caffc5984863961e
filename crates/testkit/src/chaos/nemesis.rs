//! The nemesis of a random run: one fault at a time, chosen from its own seeded generator, held for a
//! random while, then healed: SIGSTOP/SIGCONT of a peer, SIGKILL of a peer and a restart on its data dir,
//! SIGKILL of a router and a restart on its port and state dir, SIGSTOP of Redis (on a cluster: of one
//! master, shorter than its failure detection), on a Redis Cluster SIGKILL of a master (its replica takes
//! over, then it is restarted on its dir and rejoins as a replica), and (once per run, when enabled) a
//! peer drained and removed. On a cluster the first fault is always a master's SIGKILL. Every fault goes into the [`History`] with its start and heal times.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::sync::Mutex;

use super::history::{Fault, History};
use super::space::Space;
use super::store::Backend;

/// What the nemesis may do.
#[derive(Debug, Clone, Copy)]
pub struct Nemesis {
    /// Quiet time between two faults (a random part is added).
    pub pause: Duration,
    /// Drain and remove one peer during the run (kept to runs long enough for a drain).
    pub drain: bool,
}

/// Inject faults until `until`; the space is healed when this returns.
pub async fn run_nemesis(
    seed: u64,
    n: Nemesis,
    space: Arc<Mutex<Space>>,
    history: History,
    until: Instant,
) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005E_ED0F_FA17);
    let mut drained = !n.drain;
    // On a cluster the first fault is a master's SIGKILL, so even a short run fails one over.
    let mut master_killed = space.lock().await.store.backend() != Backend::RedisCluster;
    // Let the clients write something first.
    tokio::time::sleep(n.pause).await;
    while Instant::now() < until {
        let hold = Duration::from_millis(rng.random_range(300..3000));
        let started = history.now();
        let mut s = space.lock().await;
        let peers = s.active_peers();
        let roll = if master_killed {
            rng.random_range(0..100)
        } else {
            master_killed = true;
            88
        };
        let what = match roll {
            0..=29 => {
                let i = peers[rng.random_range(0..peers.len())];
                s.peers[i].pause();
                tokio::time::sleep(hold).await;
                s.peers[i].resume();
                format!("SIGSTOP peer {} for {hold:?}", s.peers[i].id)
            }
            30..=54 => {
                let i = peers[rng.random_range(0..peers.len())];
                s.peers[i].kill().await;
                tokio::time::sleep(hold).await;
                s.peers[i].restart().await;
                format!("SIGKILL peer {}, restarted after {hold:?}", s.peers[i].id)
            }
            55..=79 => {
                let r = rng.random_range(0..s.routers.len());
                s.routers[r].kill();
                tokio::time::sleep(hold / 3).await;
                s.routers[r].restart().await;
                format!("SIGKILL router r{r}, restarted after {:?}", hold / 3)
            }
            80..=87 => {
                let hold = hold.min(Duration::from_millis(1500));
                let what = s.store.stop(rng.random_range(0..3));
                tokio::time::sleep(hold).await;
                s.store.cont();
                format!("SIGSTOP {what} for {hold:?}")
            }
            88..=91 => match s.store.kill_master(rng.random_range(0..3)).await {
                Some(what) => what,
                None => {
                    let hold = hold.min(Duration::from_millis(1500));
                    let what = s.store.stop(0);
                    tokio::time::sleep(hold).await;
                    s.store.cont();
                    format!("SIGSTOP {what} for {hold:?}")
                }
            },
            _ if !drained && peers.len() > 3 => {
                drained = true;
                let i = peers[rng.random_range(0..peers.len())];
                s.drain_and_remove(i).await
            }
            _ => {
                let i = peers[rng.random_range(0..peers.len())];
                s.peers[i].pause();
                tokio::time::sleep(hold / 2).await;
                s.peers[i].resume();
                format!("SIGSTOP peer {} for {:?}", s.peers[i].id, hold / 2)
            }
        };
        drop(s);
        eprintln!("chaos fault: {what}");
        history.fault(Fault {
            what,
            started,
            healed: history.now(),
        });
        let quiet = n.pause + Duration::from_millis(rng.random_range(0..1500));
        tokio::time::sleep(quiet).await;
    }
    space.lock().await.heal().await;
}

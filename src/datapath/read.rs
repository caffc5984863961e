//! Finding holders and reading with failover (`docs/router-api.md` §6.0 P2/P3, `docs/replica-manager.md` §6, §7.4).
//!
//! # Algorithm "failover before the first byte"
//! Candidates are the live holders best first (`choose_read_replica`), or, on a map miss, what discovery
//! finds (with their metadata). Each candidate gets one [`Attempt`]: `Done` ends the read; `NotFound` drops
//! that replica record and moves on; `Disabled` moves on keeping the record; `Failed` moves on, and counts
//! as a fault when it was a connect error, timeout or 5xx. When the known candidates are exhausted without
//! a fault and discovery has not run yet, discovery runs once (excluding the peers already tried). The
//! caller's attempt must not have sent anything to the client unless it returns `Done`. When nothing
//! answered and the object's record names holders of its current version that are not live, the read
//! fails as [`ReadFailure::Unavailable`] (the object exists), never as not found.
//!
//! [`read_hedged`] runs the same rules with hedging ([`super::hedge`]): a slow candidate gets the next one
//! started beside it, several attempts may run at once, and the first `Done` cancels the others. An
//! attempt must therefore be cancel-safe (every attempt only asks peers until it returns).

use std::time::{Duration, Instant};
use std::{collections::VecDeque, future::Future};

use futures::stream::{FuturesUnordered, StreamExt};

use crate::cluster::{discovery::discover, PeerInfo, ReadPlan, ReplicaManager, RmError};
use crate::peer_client::{GetMetadataResponse, PeerClient, PeerError};

use super::fanout::ReplicaFailure;
use super::hedge::{Hedger, ReadKind};
use super::tail_metrics;

/// One peer to read from, with its metadata when discovery already fetched it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub peer: PeerInfo,
    pub metadata: Option<GetMetadataResponse>,
}

/// What one candidate did.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// 404: the peer does not hold the object (its record is dropped).
    NotFound,
    /// The object exists but is disabled (byte reads move on).
    Disabled,
    /// Any other failure; `fault` = connect error, timeout or 5xx.
    Failed {
        fault: bool,
        cause: String,
    },
}

impl<T> Attempt<T> {
    /// Classify a peer-call error.
    pub fn from_peer_error(e: &PeerError) -> Self {
        match e {
            PeerError::NotFound(_) => Attempt::NotFound,
            other => Attempt::Failed {
                fault: other.is_fault(),
                cause: other.to_string(),
            },
        }
    }
}

/// Why no candidate succeeded.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ReadFailure {
    /// Neither the replica map nor discovery knows a live holder.
    #[error("no candidate")]
    NoCandidates,
    /// Every candidate answered 404 or is disabled.
    #[error("not found on any candidate")]
    NotFound,
    /// No candidate succeeded and at least one failed with a fault.
    #[error("every candidate failed: {}", super::fanout::join_failures(.0))]
    Faulted(Vec<ReplicaFailure>),
    /// The object's record names holders of its current version, but none of them is live: the object
    /// exists and cannot be read right now (the answer is 503 with `Retry-After`, never 404).
    #[error("{down} recorded holder(s) of the current version are not live")]
    Unavailable { down: usize },
    /// The replica manager failed (e.g. the cluster state is unreachable).
    #[error("{0}")]
    State(RmError),
}

impl From<RmError> for ReadFailure {
    fn from(e: RmError) -> Self {
        ReadFailure::State(e)
    }
}

/// Where a read starts.
#[derive(Debug, Clone)]
pub enum Start {
    /// Ask the replica manager for the live holders.
    Ask,
    /// Exactly these peers (`Peer-Id`): no failover beyond them, no discovery.
    Pinned(Vec<PeerInfo>),
    /// A read plan the caller already has (it needed the version).
    Known(ReadPlan),
}

impl From<Option<Vec<PeerInfo>>> for Start {
    fn from(pinned: Option<Vec<PeerInfo>>) -> Self {
        match pinned {
            Some(peers) => Start::Pinned(peers),
            None => Start::Ask,
        }
    }
}

/// Discovery (`docs/replica-manager.md` §7.4) as read candidates.
pub async fn discover_holders(
    rm: &dyn ReplicaManager,
    client: &PeerClient,
    bucket: &str,
    key: &str,
    exclude: &[String],
) -> Vec<Candidate> {
    discover(rm, client, bucket, key, exclude)
        .await
        .into_iter()
        .map(|(peer, metadata)| Candidate {
            peer,
            metadata: Some(metadata),
        })
        .collect()
}

/// P2: holders of `bucket@key`.
#[derive(Debug, Clone, Default)]
pub struct Holders {
    /// How many holders are recorded (live or not), after discovery on a miss.
    pub recorded: usize,
    /// The live ones, best first.
    pub live: Vec<PeerInfo>,
}

/// P2: the recorded holders; on a map miss, discovery (which records what it finds).
#[tracing::instrument(skip_all, fields(bucket = %bucket, key = %key))]
pub async fn live_holders(
    rm: &dyn ReplicaManager,
    client: &PeerClient,
    bucket: &str,
    key: &str,
) -> Result<Holders, RmError> {
    let view = rm.get_replicas(bucket, key).await?;
    if view.replicas.is_empty() {
        let live: Vec<PeerInfo> = discover_holders(rm, client, bucket, key, &[])
            .await
            .into_iter()
            .map(|c| c.peer)
            .collect();
        return Ok(Holders {
            recorded: live.len(),
            live,
        });
    }
    let live = rm.choose_read_replica(bucket, key).await?.peers;
    Ok(Holders {
        recorded: view.replicas.len(),
        live,
    })
}

/// P3 from `start` (see [`Start`] and the module docs), one candidate at a time.
pub async fn read_with_failover<T, F, Fut>(
    rm: &dyn ReplicaManager,
    client: &PeerClient,
    bucket: &str,
    key: &str,
    start: impl Into<Start>,
    attempt: F,
) -> Result<T, ReadFailure>
where
    F: FnMut(Candidate) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    read_hedged(rm, client, bucket, key, start, None, attempt).await
}

/// Hedging of one read: the delays and the kind of request.
#[derive(Clone, Copy)]
pub struct Hedging<'a> {
    pub hedger: &'a Hedger,
    pub kind: ReadKind,
}

/// One started attempt and what it did.
struct Launched<T> {
    peer_id: String,
    hedge: bool,
    latency: Duration,
    outcome: Attempt<T>,
}

async fn launch<T>(
    peer_id: String,
    hedge: bool,
    attempt: impl Future<Output = Attempt<T>>,
) -> Launched<T> {
    let started = Instant::now();
    let outcome = attempt.await;
    Launched {
        peer_id,
        hedge,
        latency: started.elapsed(),
        outcome,
    }
}

/// P3 from `start` with hedging (module docs of [`super::hedge`]): a candidate that has not finished its
/// attempt within the hedge delay becomes a suspect and gets the next candidate started beside it; the
/// first `Done` wins and the others are dropped (cancelled). A candidate that fails starts the next one at
/// once. Suspects are tried after the other candidates. `hedge: None` is plain failover, one candidate at
/// a time.
#[tracing::instrument(skip_all, fields(bucket = %bucket, key = %key))]
pub async fn read_hedged<T, F, Fut>(
    rm: &dyn ReplicaManager,
    client: &PeerClient,
    bucket: &str,
    key: &str,
    start: impl Into<Start>,
    hedge: Option<Hedging<'_>>,
    mut attempt: F,
) -> Result<T, ReadFailure>
where
    F: FnMut(Candidate) -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    let start = start.into();
    let pinned = matches!(start, Start::Pinned(_));
    let (known, down) = match start {
        Start::Pinned(peers) => (peers, 0),
        Start::Known(plan) => (plan.peers, plan.down),
        Start::Ask => {
            let plan = rm.choose_read_replica(bucket, key).await?;
            (plan.peers, plan.down)
        }
    };
    let mut queue: VecDeque<Candidate> = known
        .into_iter()
        .map(|peer| Candidate {
            peer,
            metadata: None,
        })
        .collect();
    // A pinned peer (`Peer-Id`) never fails over, so it never triggers discovery either.
    let mut discovered = pinned;
    if queue.is_empty() && !discovered {
        discovered = true;
        queue = discover_holders(rm, client, bucket, key, &[]).await.into();
    }
    if queue.is_empty() {
        return Err(if down > 0 {
            ReadFailure::Unavailable { down }
        } else {
            ReadFailure::NoCandidates
        });
    }
    let delay = hedge.and_then(|h| h.hedger.delay(h.kind));
    if let (Some(h), Some(_)) = (hedge, delay) {
        // Suspects (holders that recently missed the hedge delay) go last; the order is otherwise kept.
        if queue.iter().any(|c| h.hedger.is_suspect(&c.peer.peer_id)) {
            let (mut fine, suspects): (VecDeque<Candidate>, VecDeque<Candidate>) = queue
                .into_iter()
                .partition(|c| !h.hedger.is_suspect(&c.peer.peer_id));
            fine.extend(suspects);
            queue = fine;
        }
    }
    let mut last_peer = String::new();
    let mut tried: Vec<String> = Vec::new();
    let mut faults: Vec<ReplicaFailure> = Vec::new();
    let mut running = FuturesUnordered::new();
    let mut last_launch = Instant::now();
    let mut disabled = false;
    loop {
        if running.is_empty() {
            if queue.is_empty() {
                if discovered || !faults.is_empty() {
                    break;
                }
                discovered = true;
                queue = discover_holders(rm, client, bucket, key, &tried)
                    .await
                    .into();
            }
            let Some(c) = queue.pop_front() else { break };
            tried.push(c.peer.peer_id.clone());
            last_peer = c.peer.peer_id.clone();
            running.push(launch(c.peer.peer_id.clone(), false, attempt(c)));
            last_launch = Instant::now();
        }
        let hedge_at = delay.filter(|_| !queue.is_empty()).map(|d| last_launch + d);
        let hedge_timer = async {
            match hedge_at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let done = tokio::select! {
            Some(done) = running.next() => done,
            () = hedge_timer => {
                if let (Some(h), Some(c)) = (hedge, queue.pop_front()) {
                    tracing::debug!(slow = %last_peer, peer_id = %c.peer.peer_id, kind = h.kind.label(), "hedged read");
                    h.hedger.suspect(&last_peer);
                    h.hedger.sent(h.kind);
                    tried.push(c.peer.peer_id.clone());
                    last_peer = c.peer.peer_id.clone();
                    running.push(launch(c.peer.peer_id.clone(), true, attempt(c)));
                    last_launch = Instant::now();
                }
                continue;
            }
        };
        let Launched {
            peer_id,
            hedge: was_hedge,
            latency,
            outcome,
        } = done;
        let answered = !matches!(outcome, Attempt::Failed { .. });
        if let (Some(h), true) = (hedge, answered) {
            h.hedger.record(h.kind, latency);
            h.hedger.answered(&peer_id);
        }
        match outcome {
            Attempt::Done(value) => {
                if let (Some(h), true) = (hedge, was_hedge) {
                    h.hedger.won(h.kind);
                }
                return Ok(value);
            }
            Attempt::NotFound => {
                if let Err(e) = rm
                    .delete_replicas(bucket, key, Some(vec![peer_id.clone()]))
                    .await
                {
                    tracing::warn!(%peer_id, error = %e, "could not drop a stale replica record");
                }
            }
            Attempt::Disabled => disabled = true,
            Attempt::Failed { fault, cause } => {
                tracing::warn!(%peer_id, %cause, fault, "read candidate failed");
                if fault {
                    faults.push(ReplicaFailure { peer_id, cause });
                }
                if !queue.is_empty() || !running.is_empty() {
                    tail_metrics::failover(client.metrics(), tail_metrics::BEFORE_FIRST_BYTE);
                }
            }
        }
        // The next candidate starts at once after a miss or a failure (no hedge delay to wait for).
        if let Some(c) = queue.pop_front() {
            tried.push(c.peer.peer_id.clone());
            last_peer = c.peer.peer_id.clone();
            running.push(launch(c.peer.peer_id.clone(), false, attempt(c)));
            last_launch = Instant::now();
        }
    }
    if !faults.is_empty() {
        Err(ReadFailure::Faulted(faults))
    } else if down > 0 && !disabled {
        // The live holders were stale records; the holders of the current version are not live.
        Err(ReadFailure::Unavailable { down })
    } else {
        Err(ReadFailure::NotFound)
    }
}

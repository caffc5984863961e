//! The write protocol around a fan-out (phase 2 of a write): claim the task group under a lease, keep the
//! lease while the bytes stream, open the upload targets, then commit the holders in one fenced step or
//! release the claim — and delete the copies of a write that stayed below its quorum. A [`ClaimGuard`]
//! releases the claim and invalidates the cache entry on every way out, a client disconnect included.
//! Errors are [`WriteError`]; the HTTP layer maps them to statuses.

use std::sync::Arc;
use std::time::Duration;

use super::fanout::{FanOutTarget, ReplicaFailure};
use crate::cache::BallCache;
use crate::cluster::{Claim, ReplicaManager, RmError};
use crate::deadline::within_deadline;
use crate::peer_client::{PeerClient, PutOptions};

/// Why a claim or a commit failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("Task({0}) not found")]
    NotFound(String),
    #[error("Task({0}) upload already in progress")]
    InProgress(String),
    #[error("Expected tasks > 0, but was received 0")]
    NoTasks,
    #[error("Expected task operation [PUT], but was received [{0}]")]
    NotPut(String),
    /// Another upload claimed the group meanwhile (its lease ran out here).
    #[error("Task({0}) was taken over by another upload")]
    TakenOver(String),
    /// The cluster state could not be read or written.
    #[error(transparent)]
    State(RmError),
}

/// Releases the claim and invalidates the cache entry unless disarmed: covers client disconnects (the
/// handler future is dropped mid-body) as well as every error return.
pub struct ClaimGuard {
    rm: Arc<dyn ReplicaManager>,
    cache: BallCache,
    pub claim: Claim,
    combined: String,
    armed: bool,
}

impl ClaimGuard {
    /// Failure path: release the claim (the group stays for a retry), P4.
    pub async fn release(mut self) {
        self.armed = false;
        if let Err(e) = self.rm.release_task_group(&self.claim).await {
            tracing::warn!(group_id = %self.claim.group.group_id, error = %e, "could not release a task group claim");
        }
        self.cache.invalidate(&self.combined);
    }

    /// Success path: in one fenced step record the holders and version, delete the group (releasing the
    /// reservation); P4. A claim another upload took over meanwhile cannot commit; when the cluster state
    /// is unreachable the bytes are on the peers and a retry of phase 2 records them.
    pub async fn commit(mut self, succeeded: Vec<String>) -> Result<(), WriteError> {
        self.armed = false;
        let result = self.rm.commit_write(&self.claim, succeeded).await;
        self.cache.invalidate(&self.combined);
        match result {
            Ok(()) => Ok(()),
            Err(RmError::Conflict(_)) => {
                Err(WriteError::TakenOver(self.claim.group.group_id.clone()))
            }
            Err(e) => {
                tracing::error!(error = %e, "could not record the holders of a committed write");
                let _ = self.rm.release_task_group(&self.claim).await;
                Err(WriteError::State(e))
            }
        }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        tracing::info!(group_id = %self.claim.group.group_id, status = 499, "upload interrupted by the client");
        let (rm, cache) = (self.rm.clone(), self.cache.clone());
        let (claim, combined) = (self.claim.clone(), self.combined.clone());
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = rm.release_task_group(&claim).await;
                cache.invalidate(&combined);
            });
        }
    }
}

/// Claim the group named by `task_id` and check that it is a PUT with tasks (`docs/router-api.md` #16 step 2).
pub async fn claim(
    rm: Arc<dyn ReplicaManager>,
    cache: BallCache,
    task_id: &str,
) -> Result<ClaimGuard, WriteError> {
    let claim = match rm.claim_task_group(task_id).await {
        Ok(c) => c,
        Err(RmError::NotFound(_)) => return Err(WriteError::NotFound(task_id.to_string())),
        Err(RmError::Conflict(_)) => return Err(WriteError::InProgress(task_id.to_string())),
        Err(e) => return Err(WriteError::State(e)),
    };
    let group = &claim.group;
    let combined = format!("{}@{}", group.bucket_id, group.key);
    let (empty, operation) = (group.tasks.is_empty(), group.operation.clone());
    let guard = ClaimGuard {
        rm,
        cache,
        claim,
        combined,
        armed: true,
    };
    if empty {
        guard.release().await;
        return Err(WriteError::NoTasks);
    }
    if operation != "PUT" {
        guard.release().await;
        return Err(WriteError::NotPut(operation));
    }
    Ok(guard)
}

/// Renew the claim's lease every third of it while the bytes stream; returns once another upload took
/// the group over (a paused or slow router then stops instead of committing late).
pub async fn keep_claim(rm: Arc<dyn ReplicaManager>, claim: Claim, lease: Duration) -> String {
    let every = (lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::time::sleep(every).await;
        match rm.renew_claim(&claim).await {
            Ok(()) => {}
            Err(RmError::Conflict(m)) => return m,
            Err(e) => {
                tracing::warn!(group_id = %claim.group.group_id, error = %e, "could not renew a claim")
            }
        }
    }
}

/// The upload targets of a claim. A first claim uses the tasks phase 1 opened; a later one (a retry, or a
/// takeover after another router's lease ran out) opens fresh tasks on the same peers, because a peer may
/// still consider the old task busy with the previous attempt's connection.
pub async fn targets(
    rm: &dyn ReplicaManager,
    peers: &PeerClient,
    claim: &Claim,
) -> (Vec<FanOutTarget>, Vec<ReplicaFailure>) {
    let group = &claim.group;
    let reopen = claim.token > 1 && group.meta.is_some();
    let version = Some(claim.version);
    let opened = group.tasks.iter().map(|task| async move {
        let Some(peer_id) = task.peers.first() else {
            return Err(ReplicaFailure {
                peer_id: String::new(),
                cause: "task without a peer".into(),
            });
        };
        let fail = |cause: String| ReplicaFailure {
            peer_id: peer_id.clone(),
            cause,
        };
        let peer = rm
            .get_peer(peer_id)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let task_id = match (&group.meta, reopen) {
            (Some(meta), true) => {
                let fresh = format!("{}-{}", group.group_id, claim.token);
                let opts = PutOptions {
                    rf: Some(group.rf.max(1)),
                    version: None,
                };
                peers
                    .put_metadata_with(&peer, &group.bucket_id, meta, Some(&fresh), "0", opts)
                    .await
                    .map_err(|e| fail(format!("reopening the task: {e}")))?
                    .task_id
            }
            _ => task.task_id.clone(),
        };
        Ok(FanOutTarget {
            peer,
            task_id,
            version,
        })
    });
    let mut targets = Vec::new();
    let mut unavailable = Vec::new();
    for r in futures::future::join_all(opened).await {
        match r {
            Ok(t) => targets.push(t),
            Err(f) => unavailable.push(f),
        }
    }
    (targets, unavailable)
}

/// Delete the copies of a write that did not reach its quorum, on the peers that stored them: only a copy
/// at `version` or older goes (a newer write keeps its copy), `fanout` at a time within `deadline`.
pub async fn roll_back(
    (rm, client): (Arc<dyn ReplicaManager>, PeerClient),
    (b, k): (&str, &str),
    stored: &[String],
    version: u64,
    (fanout, deadline): (usize, Duration),
) {
    let mut calls = Vec::new();
    for peer_id in stored {
        let (rm, client) = (rm.clone(), client.clone());
        let (b, k, peer_id) = (b.to_string(), k.to_string(), peer_id.clone());
        calls.push(async move {
            let peer = rm.get_peer(&peer_id).await.map_err(|e| e.to_string())?;
            client
                .delete_if_at_most(&peer, &b, &k, true, version)
                .await
                .map_err(|e| e.to_string())
        });
    }
    for answer in within_deadline(calls, fanout, deadline).await {
        if let Err(e) = answer {
            tracing::warn!(error = %e, "could not delete a copy of a write below its quorum");
        }
    }
}

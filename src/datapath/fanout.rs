//! Write fan-out: one client body streamed once, concurrently, to every replica of a task group.
//!
//! # Algorithm "bounded tee" (`docs/router-api.md` #17 steps 3–7)
//! * Every target gets one streaming `POST {peer}/api/v4/buckets/data/{task_id}/chunked` (its **own**
//!   task id) whose body is fed by a bounded channel of [`FanOutStrategy::channel_pieces`] pieces. All
//!   requests run concurrently from the start.
//! * The client body is read frame by frame; bytes are counted; a frame larger than
//!   [`FanOutStrategy::piece_size`] is split (zero-copy) and every piece is offered to every still-healthy
//!   replica, waiting for room in all channels: the slowest replica that still makes progress paces the
//!   client (backpressure), memory stays at `replicas × channel_pieces × piece_size`.
//! * A **straggler** — a replica that takes no piece for [`FanOutStrategy::straggler_timeout`] while
//!   another replica took the current one — is dropped (`mictlanx_router_straggler_drops_total`), so a
//!   stalled peer costs the client that long once, not the idle timeout. When no replica takes a piece
//!   within [`FanOutStrategy::idle_timeout`] they are all dropped. A replica whose request already ended
//!   (refused, error status, transport error) is dropped at once. Each is recorded in [`ReplicaFailure`]
//!   with its cause; the others continue. When fewer replicas remain than the quorum
//!   ([`FanOutStrategy::quorum`]) the client body is no longer read: [`FanOutError::AllFailed`] (nothing
//!   left) or [`FanOutError::QuorumLost`] carries every per-peer cause.
//! * More bytes than expected, or an end of body with a different count → every replica body is ended with
//!   an error (never cleanly, so peers discard the partial object) → [`FanOutError::SizeMismatch`]. A client
//!   body error does the same → [`FanOutError::ClientBody`].
//! * Otherwise every replica body is ended cleanly and each response is awaited: the idle timeout until a
//!   first replica stored the bytes, then the straggler timeout (or the time that first answer took, when
//!   longer) for the others. [`FanOutReport::succeeded`] lists the peers that answered 2xx, in target
//!   order; fewer than the quorum is [`FanOutError::QuorumLost`].
//! * Cancellation: dropping the future (client disconnect) drops the internal replica set, whose `Drop`
//!   ends every replica body with an error and aborts requests that do not finish within the idle timeout.

use std::{fmt::Display, time::Duration};

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::late_tags::LateTags;
use super::replica_set::ReplicaSet;
use crate::peer::PeerInfo;
use crate::peer_client::PeerClient;

/// How the tee behaves.
#[derive(Debug, Clone)]
pub struct FanOutStrategy {
    /// Largest piece relayed at once (`Chunk-Size`); `0` = frames are relayed as they come.
    pub piece_size: usize,
    /// Longest wait for one replica to take a piece, and for each response after the body ended.
    pub idle_timeout: Duration,
    /// Channel depth per replica (pieces).
    pub channel_pieces: usize,
    /// Longest a replica may take no piece while another replica takes them (and, after the body, the
    /// least extra wait for the others once one replica answered).
    pub straggler_timeout: Duration,
    /// Replicas that must store the bytes (at least 1).
    pub quorum: usize,
    /// Tags set only once the body has ended, sent to every replica as a trailer ([`super::late_tags`]).
    pub late_tags: Option<LateTags>,
}

impl FanOutStrategy {
    /// No stragglers (the straggler timeout is the idle timeout) and a quorum of one.
    pub fn new(piece_size: u64, idle_timeout: Duration) -> Self {
        let piece_size = usize::try_from(piece_size).unwrap_or(usize::MAX);
        Self {
            piece_size,
            idle_timeout,
            channel_pieces: 8,
            straggler_timeout: idle_timeout,
            quorum: 1,
            late_tags: None,
        }
    }

    /// Send `late_tags` to every replica after the bytes.
    pub fn with_late_tags(mut self, late_tags: Option<LateTags>) -> Self {
        self.late_tags = late_tags;
        self
    }

    /// Drop stragglers after `straggler_timeout`; succeed only with `quorum` replicas.
    pub fn with_tail(mut self, straggler_timeout: Duration, quorum: usize) -> Self {
        self.straggler_timeout = straggler_timeout.min(self.idle_timeout);
        self.quorum = quorum.max(1);
        self
    }
}

/// One replica to write: the peer and the task id that peer returned in phase 1.
#[derive(Debug, Clone)]
pub struct FanOutTarget {
    pub peer: PeerInfo,
    pub task_id: String,
    /// The version the peer commits the bytes with (`Object-Version`); `None` = the peer picks one.
    pub version: Option<u64>,
}

/// Why one replica did not store the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaFailure {
    pub peer_id: String,
    pub cause: String,
}

/// The outcome of a complete body.
#[derive(Debug, Clone)]
pub struct FanOutReport {
    /// Bytes received from the client (= expected).
    pub received: u64,
    /// Peers that answered 2xx, in target order.
    pub succeeded: Vec<String>,
    /// Every replica that failed, with its cause.
    pub failed: Vec<ReplicaFailure>,
    /// Every replica in `succeeded` recorded the strategy's late tags.
    pub late_tags_applied: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum FanOutError {
    #[error("every replica failed: {}", join_failures(.failures))]
    AllFailed {
        received: u64,
        failures: Vec<ReplicaFailure>,
    },
    /// Fewer replicas stored the bytes (or could still store them) than the quorum; `succeeded` did.
    #[error("{} of {required} replicas stored the data: {}", succeeded.len(), join_failures(.failures))]
    QuorumLost {
        received: u64,
        required: usize,
        succeeded: Vec<String>,
        failures: Vec<ReplicaFailure>,
    },
    #[error("Data size mistmatch {received} != {expected}")]
    SizeMismatch { received: u64, expected: u64 },
    #[error("client body failed after {received} bytes: {cause}")]
    ClientBody { received: u64, cause: String },
}

/// `"{peer_id}: {cause}; …"`, the per-peer part of 502 texts.
pub fn join_failures(failures: &[ReplicaFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{}: {}", f.peer_id, f.cause))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Stream `body` once to every target (see the module docs for the contract). `pre_failed` are replicas
/// that could not even be opened (unknown or unavailable peer); they are reported with the others.
#[tracing::instrument(skip_all, fields(expected = expected, replicas = targets.len()))]
pub async fn fan_out<S, E>(
    client: &PeerClient,
    targets: Vec<FanOutTarget>,
    pre_failed: Vec<ReplicaFailure>,
    expected: u64,
    body: S,
    strategy: &FanOutStrategy,
) -> Result<FanOutReport, FanOutError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Display,
{
    let mut set = ReplicaSet::open(client, targets, expected, strategy);
    set.failed.extend(pre_failed);
    let quorum = strategy.quorum.max(1);
    let mut received: u64 = 0;
    let mut body = std::pin::pin!(body);
    while set.live.len() >= quorum {
        let Some(frame) = body.next().await else {
            break;
        };
        let mut frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                set.abort_all();
                return Err(FanOutError::ClientBody {
                    received,
                    cause: e.to_string(),
                });
            }
        };
        received += frame.len() as u64;
        if received > expected {
            set.abort_all();
            return Err(FanOutError::SizeMismatch { received, expected });
        }
        while !frame.is_empty() && set.live.len() >= quorum {
            let take = if strategy.piece_size == 0 {
                frame.len()
            } else {
                frame.len().min(strategy.piece_size)
            };
            let piece = frame.split_to(take);
            set.broadcast(piece, strategy.idle_timeout).await;
        }
    }
    if set.live.is_empty() {
        let failures = std::mem::take(&mut set.failed);
        return Err(FanOutError::AllFailed { received, failures });
    }
    if set.live.len() < quorum {
        set.abort_all();
        let failures = std::mem::take(&mut set.failed);
        return Err(FanOutError::QuorumLost {
            received,
            required: quorum,
            succeeded: Vec::new(),
            failures,
        });
    }
    if received != expected {
        set.abort_all();
        return Err(FanOutError::SizeMismatch { received, expected });
    }
    let (succeeded, failed, late_tags_applied) = set.finish().await;
    if succeeded.is_empty() {
        return Err(FanOutError::AllFailed {
            received,
            failures: failed,
        });
    }
    if succeeded.len() < quorum {
        return Err(FanOutError::QuorumLost {
            received,
            required: quorum,
            succeeded,
            failures: failed,
        });
    }
    Ok(FanOutReport {
        received,
        succeeded,
        failed,
        late_tags_applied,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_joined_per_peer() {
        let f = vec![
            ReplicaFailure {
                peer_id: "a".into(),
                cause: "refused".into(),
            },
            ReplicaFailure {
                peer_id: "b".into(),
                cause: "500".into(),
            },
        ];
        assert_eq!(join_failures(&f), "a: refused; b: 500");
        let e = FanOutError::SizeMismatch {
            received: 3,
            expected: 4,
        };
        assert_eq!(e.to_string(), "Data size mistmatch 3 != 4");
    }
}

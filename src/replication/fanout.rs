//! Write fan-out: one client body streamed once, concurrently, to every replica of a task group.
//!
//! # Algorithm "bounded tee" (`router-api.md` #17 steps 3–7)
//! * Every target gets one streaming `POST {peer}/api/v4/buckets/data/{task_id}/chunked` (its **own**
//!   task id) whose body is fed by a bounded channel of [`FanOutStrategy::channel_pieces`] pieces. All
//!   requests run concurrently from the start.
//! * The client body is read frame by frame; bytes are counted; a frame larger than
//!   [`FanOutStrategy::piece_size`] is split (zero-copy) and every piece is offered to every still-healthy
//!   replica, waiting for room in all channels: the slowest healthy replica paces the client
//!   (backpressure), memory stays at `replicas × channel_pieces × piece_size`.
//! * A replica whose channel does not accept a piece within [`FanOutStrategy::idle_timeout`], or whose
//!   request already ended (refused, error status, transport error), is dropped and recorded in
//!   [`ReplicaFailure`] with its cause; the others continue. When every replica is dropped the client body
//!   is no longer read and [`FanOutError::AllFailed`] carries every per-peer cause.
//! * More bytes than expected, or an end of body with a different count → every replica body is ended with
//!   an error (never cleanly, so peers discard the partial object) → [`FanOutError::SizeMismatch`]. A client
//!   body error does the same → [`FanOutError::ClientBody`].
//! * Otherwise every replica body is ended cleanly and each response is awaited (idle timeout);
//!   [`FanOutReport::succeeded`] lists the peers that answered 2xx, in target order.
//! * Cancellation: dropping the future (client disconnect) drops the internal replica set, whose `Drop`
//!   ends every replica body with an error and aborts requests that do not finish within the idle timeout.

use std::{fmt::Display, io, time::Duration};

use bytes::Bytes;
use futures::{future::join_all, Stream, StreamExt};
use tokio::{sync::mpsc, task::JoinHandle, time::timeout};
use tokio_util::sync::CancellationToken;

use crate::peer_client::{PeerClient, PeerError, PeerPutDataResponse};
use crate::replica::PeerInfo;

/// How the tee behaves.
#[derive(Debug, Clone)]
pub struct FanOutStrategy {
    /// Largest piece relayed at once (`Chunk-Size`); `0` = frames are relayed as they come.
    pub piece_size: usize,
    /// Longest wait for one replica to take a piece, and for each response after the body ended.
    pub idle_timeout: Duration,
    /// Channel depth per replica (pieces).
    pub channel_pieces: usize,
}

impl FanOutStrategy {
    pub fn new(piece_size: u64, idle_timeout: Duration) -> Self {
        let piece_size = usize::try_from(piece_size).unwrap_or(usize::MAX);
        Self {
            piece_size,
            idle_timeout,
            channel_pieces: 8,
        }
    }
}

/// One replica to write: the peer and the task id that peer returned in phase 1.
#[derive(Debug, Clone)]
pub struct FanOutTarget {
    pub peer: PeerInfo,
    pub task_id: String,
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
}

#[derive(Debug, thiserror::Error)]
pub enum FanOutError {
    #[error("every replica failed: {}", join_failures(.failures))]
    AllFailed {
        received: u64,
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

type UploadHandle = JoinHandle<Result<PeerPutDataResponse, PeerError>>;

struct Replica {
    peer_id: String,
    tx: Option<mpsc::Sender<Bytes>>,
    cancel: CancellationToken,
    handle: Option<UploadHandle>,
}

impl Replica {
    /// End this replica's body with an error and make sure its request ends within `grace`.
    fn abort(&mut self, grace: Duration) {
        self.cancel.cancel();
        self.tx = None;
        if let Some(handle) = self.handle.take() {
            spawn_reaper(handle, grace);
        }
    }
}

fn spawn_reaper(mut handle: UploadHandle, grace: Duration) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            if timeout(grace, &mut handle).await.is_err() {
                handle.abort();
            }
        });
    } else {
        handle.abort();
    }
}

/// The healthy replicas of one fan-out; dropping it aborts every replica still in it.
struct ReplicaSet {
    live: Vec<Replica>,
    failed: Vec<ReplicaFailure>,
    grace: Duration,
}

impl Drop for ReplicaSet {
    fn drop(&mut self) {
        for r in &mut self.live {
            r.abort(self.grace);
        }
    }
}

/// The body of one replica request: pieces from the channel; a clean end when the sender is dropped; an
/// error (so the HTTP client aborts the request) once `cancel` fires.
fn replica_body(
    rx: mpsc::Receiver<Bytes>,
    cancel: CancellationToken,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    futures::stream::unfold(Some((rx, cancel)), |st| async move {
        let (mut rx, cancel) = st?;
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                Some((Err(io::Error::other("upload aborted by the router")), None))
            }
            piece = rx.recv() => piece.map(|p| (Ok(p), Some((rx, cancel)))),
        }
    })
}

impl ReplicaSet {
    fn open(
        client: &PeerClient,
        targets: Vec<FanOutTarget>,
        expected: u64,
        strategy: &FanOutStrategy,
    ) -> Self {
        let live = targets
            .into_iter()
            .map(|t| {
                let (tx, rx) = mpsc::channel(strategy.channel_pieces.max(1));
                let cancel = CancellationToken::new();
                let body = reqwest::Body::wrap_stream(replica_body(rx, cancel.clone()));
                let client = client.clone();
                let peer = t.peer.clone();
                let task_id = t.task_id;
                let handle = tokio::spawn(async move {
                    client.upload_chunked(&peer, &task_id, expected, body).await
                });
                Replica {
                    peer_id: t.peer.peer_id,
                    tx: Some(tx),
                    cancel,
                    handle: Some(handle),
                }
            })
            .collect();
        Self {
            live,
            failed: Vec::new(),
            grace: strategy.idle_timeout,
        }
    }

    /// Offer `piece` to every healthy replica; drop the ones that stall or whose request ended.
    async fn broadcast(&mut self, piece: Bytes, idle: Duration) {
        let sends = self.live.iter().map(|r| {
            let tx = r.tx.clone();
            let piece = piece.clone();
            async move {
                let Some(tx) = tx else { return Err(None) };
                match timeout(idle, tx.send(piece)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(_)) => Err(None),
                    Err(_) => Err(Some(format!("stalled for more than {idle:?}"))),
                }
            }
        });
        let results = join_all(sends).await;
        let mut kept = Vec::with_capacity(self.live.len());
        for (mut replica, result) in std::mem::take(&mut self.live).into_iter().zip(results) {
            match result {
                Ok(()) => kept.push(replica),
                Err(Some(stall)) => {
                    tracing::warn!(peer_id = %replica.peer_id, "replica dropped: stalled");
                    replica.abort(self.grace);
                    self.failed.push(ReplicaFailure {
                        peer_id: replica.peer_id.clone(),
                        cause: stall,
                    });
                }
                Err(None) => {
                    let cause = ended_early_cause(&mut replica, self.grace).await;
                    tracing::warn!(peer_id = %replica.peer_id, %cause, "replica dropped");
                    self.failed.push(ReplicaFailure {
                        peer_id: replica.peer_id.clone(),
                        cause,
                    });
                }
            }
        }
        self.live = kept;
    }

    fn abort_all(&mut self) {
        for r in &mut self.live {
            r.abort(self.grace);
        }
        self.live.clear();
    }

    /// End every body cleanly and collect the answers.
    async fn finish(mut self) -> (Vec<String>, Vec<ReplicaFailure>) {
        let grace = self.grace;
        let waits = self.live.iter_mut().map(|r| {
            r.tx = None;
            let handle = r.handle.take();
            let peer_id = r.peer_id.clone();
            async move {
                let Some(mut handle) = handle else {
                    return (peer_id, Err("request already ended".to_string()));
                };
                let result = match timeout(grace, &mut handle).await {
                    Ok(Ok(Ok(_))) => Ok(()),
                    Ok(Ok(Err(e))) => Err(e.to_string()),
                    Ok(Err(join)) => Err(format!("upload task failed: {join}")),
                    Err(_) => {
                        handle.abort();
                        Err(format!("no answer within {grace:?}"))
                    }
                };
                (peer_id, result)
            }
        });
        let answers = join_all(waits).await;
        self.live.clear();
        let mut succeeded = Vec::new();
        let mut failed = std::mem::take(&mut self.failed);
        for (peer_id, result) in answers {
            match result {
                Ok(()) => succeeded.push(peer_id),
                Err(cause) => failed.push(ReplicaFailure { peer_id, cause }),
            }
        }
        (succeeded, failed)
    }
}

/// The cause of a replica whose request ended while its body was still being fed.
async fn ended_early_cause(replica: &mut Replica, grace: Duration) -> String {
    replica.tx = None;
    let Some(mut handle) = replica.handle.take() else {
        return "request ended".into();
    };
    match timeout(grace, &mut handle).await {
        Ok(Ok(Err(e))) => e.to_string(),
        Ok(Ok(Ok(_))) => "peer answered before the body ended".into(),
        Ok(Err(join)) => format!("upload task failed: {join}"),
        Err(_) => {
            handle.abort();
            "request ended without an answer".into()
        }
    }
}

/// Stream `body` once to every target (see the module docs for the contract). `pre_failed` are replicas
/// that could not even be opened (unknown or unavailable peer); they are reported with the others.
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
    let mut received: u64 = 0;
    let mut body = std::pin::pin!(body);
    while !set.live.is_empty() {
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
        while !frame.is_empty() && !set.live.is_empty() {
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
    if received != expected {
        set.abort_all();
        return Err(FanOutError::SizeMismatch { received, expected });
    }
    let (succeeded, failed) = set.finish().await;
    if succeeded.is_empty() {
        return Err(FanOutError::AllFailed {
            received,
            failures: failed,
        });
    }
    Ok(FanOutReport {
        received,
        succeeded,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn replica_body_ends_cleanly_when_the_sender_is_dropped() {
        let (tx, rx) = mpsc::channel(2);
        let cancel = CancellationToken::new();
        let body = replica_body(rx, cancel);
        tx.send(Bytes::from_static(b"ab")).await.unwrap();
        drop(tx);
        let items: Vec<_> = body.collect().await;
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].as_ref().unwrap(), &Bytes::from_static(b"ab"));
    }

    #[tokio::test]
    async fn replica_body_ends_with_an_error_once_cancelled() {
        let (tx, rx) = mpsc::channel(2);
        let cancel = CancellationToken::new();
        let body = replica_body(rx, cancel.clone());
        tx.send(Bytes::from_static(b"ab")).await.unwrap();
        cancel.cancel();
        drop(tx);
        let items: Vec<_> = body.collect().await;
        assert_eq!(items.len(), 1, "the error comes first and is the last item");
        assert!(items[0].is_err());
    }

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

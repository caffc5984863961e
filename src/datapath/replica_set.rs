//! The replica set of one fan-out ([`super::fanout`]): one streaming upload task per replica fed by a
//! bounded channel, the per-piece broadcast with its straggler and stall timeouts, the answers with the
//! same straggler rule, and abort-on-drop.

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::Stream;
use tokio::{sync::mpsc, task::JoinHandle, time::timeout};
use tokio_util::sync::CancellationToken;

use super::fanout::{FanOutStrategy, FanOutTarget, ReplicaFailure};
use super::late_tags::Trailed;
use super::tail_metrics::STRAGGLER_DROPS;
use crate::peer_client::{PeerClient, PeerError};

/// A replica's upload; `Ok(true)` when the peer recorded the late tags.
type UploadHandle = JoinHandle<Result<bool, PeerError>>;

pub(super) struct Replica {
    peer_id: String,
    /// When this replica last took a piece (or opened).
    last_progress: Instant,
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
pub(super) struct ReplicaSet {
    pub(super) live: Vec<Replica>,
    pub(super) failed: Vec<ReplicaFailure>,
    grace: Duration,
    straggler: Duration,
    /// `STRAGGLER_DROPS` on the client's recorder.
    drops: metrics::Counter,
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
    pub(super) fn open(
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
                let (task_id, version) = (t.task_id, t.version);
                let late = strategy.late_tags.clone();
                let handle = tokio::spawn(async move {
                    match late {
                        None => client
                            .upload_chunked_versioned(&peer, &task_id, expected, body, version)
                            .await
                            .map(|_| false),
                        Some(tags) => {
                            let body = reqwest::Body::wrap(Trailed::new(body, tags));
                            client
                                .upload_with_late_tags(&peer, &task_id, expected, body, version)
                                .await
                        }
                    }
                });
                Replica {
                    peer_id: t.peer.peer_id,
                    last_progress: Instant::now(),
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
            straggler: strategy.straggler_timeout,
            drops: client.metrics().counter(STRAGGLER_DROPS),
        }
    }

    /// Offer `piece` to every healthy replica; drop the ones whose request ended, the stragglers (no piece
    /// taken for the straggler timeout while another replica took this one) and, when no replica takes
    /// it, every replica after the idle timeout.
    pub(super) async fn broadcast(&mut self, piece: Bytes, idle: Duration) {
        let started = Instant::now();
        let mut sends: FuturesUnordered<_> = self
            .live
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let tx = r.tx.clone();
                let piece = piece.clone();
                async move {
                    let sent = match tx {
                        Some(tx) => tx.send(piece).await.is_ok(),
                        None => false,
                    };
                    (i, sent)
                }
            })
            .collect();
        let mut results: Vec<Option<Result<(), Option<String>>>> = vec![None; self.live.len()];
        let mut first_taken: Option<Instant> = None;
        while results.iter().any(Option::is_none) {
            // Others progressed: each replica still waiting gets the straggler timeout since its own last
            // progress (or since this piece was offered, when the client paused); nobody did: the idle
            // timeout since the piece was offered.
            let deadline = match first_taken {
                Some(t) => self
                    .live
                    .iter()
                    .zip(&results)
                    .filter(|(_, r)| r.is_none())
                    .map(|(rep, _)| (rep.last_progress.max(started) + self.straggler).max(t))
                    .min()
                    .unwrap_or(t),
                None => started + idle,
            };
            tokio::select! {
                Some((i, sent)) = sends.next() => {
                    if results[i].is_some() {
                        // already dropped as a straggler
                    } else if sent {
                        let now = Instant::now();
                        first_taken.get_or_insert(now);
                        self.live[i].last_progress = now;
                        results[i] = Some(Ok(()));
                    } else {
                        results[i] = Some(Err(None));
                    }
                }
                () = tokio::time::sleep_until(deadline.into()) => {
                    let now = Instant::now();
                    for (rep, result) in self.live.iter().zip(results.iter_mut()) {
                        if result.is_some() {
                            continue;
                        }
                        *result = match first_taken {
                            Some(_) if rep.last_progress.max(started) + self.straggler <= now => {
                                self.drops.increment(1);
                                Some(Err(Some(format!(
                                    "straggler: took no bytes for {:?} while the other replicas did",
                                    self.straggler
                                ))))
                            }
                            Some(_) => None,
                            None => Some(Err(Some(format!("stalled for more than {idle:?}")))),
                        };
                    }
                }
            }
        }
        drop(sends);
        let mut kept = Vec::with_capacity(self.live.len());
        for (mut replica, result) in std::mem::take(&mut self.live).into_iter().zip(results) {
            match result.unwrap_or(Ok(())) {
                Ok(()) => kept.push(replica),
                Err(Some(stall)) => {
                    tracing::warn!(peer_id = %replica.peer_id, cause = %stall, "replica dropped");
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

    pub(super) fn abort_all(&mut self) {
        for r in &mut self.live {
            r.abort(self.grace);
        }
        self.live.clear();
    }

    /// End every body cleanly and collect the answers. Once one replica stored the bytes, the others get
    /// the straggler timeout (or the time the first answer took, when longer) more; without any success
    /// each gets the idle timeout. A replica cut off this way is a straggler: its request is aborted.
    /// Also answers whether every replica that stored the bytes recorded the late tags.
    pub(super) async fn finish(mut self) -> (Vec<String>, Vec<ReplicaFailure>, bool) {
        let (grace, straggler, drops) = (self.grace, self.straggler, self.drops.clone());
        let started = Instant::now();
        // Dropping a pending wait would detach its task: a replica cut off is aborted explicitly.
        let mut aborts: Vec<(String, Option<tokio::task::AbortHandle>)> = Vec::new();
        let mut waits: FuturesUnordered<_> = FuturesUnordered::new();
        for r in self.live.iter_mut() {
            r.tx = None;
            let handle = r.handle.take();
            let peer_id = r.peer_id.clone();
            aborts.push((peer_id.clone(), handle.as_ref().map(|h| h.abort_handle())));
            waits.push(async move {
                let result = match handle {
                    None => Err("request already ended".to_string()),
                    Some(handle) => match handle.await {
                        Ok(Ok(applied)) => Ok(applied),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(join) => Err(format!("upload task failed: {join}")),
                    },
                };
                (peer_id, result)
            });
        }
        let mut succeeded = Vec::new();
        let mut all_applied = true;
        let mut failed = std::mem::take(&mut self.failed);
        let mut answered: Vec<String> = Vec::new();
        let mut until = started + grace;
        loop {
            tokio::select! {
                next = waits.next() => match next {
                    Some((peer_id, result)) => {
                        answered.push(peer_id.clone());
                        match result {
                            Ok(applied) => {
                                all_applied &= applied;
                                if succeeded.is_empty() {
                                    let took = started.elapsed();
                                    until = until.min(Instant::now() + straggler.max(took));
                                }
                                succeeded.push(peer_id);
                            }
                            Err(cause) => failed.push(ReplicaFailure { peer_id, cause }),
                        }
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(until.into()) => {
                    let stragglers = !succeeded.is_empty();
                    for (peer_id, abort) in aborts.iter().filter(|(p, _)| !answered.contains(p)) {
                        if let Some(abort) = abort {
                            abort.abort();
                        }
                        let cause = if stragglers {
                            drops.increment(1);
                            format!(
                                "straggler: no answer {:?} after another replica stored the bytes",
                                until.saturating_duration_since(started)
                            )
                        } else {
                            format!("no answer within {grace:?}")
                        };
                        tracing::warn!(%peer_id, %cause, "replica dropped");
                        failed.push(ReplicaFailure { peer_id: peer_id.clone(), cause });
                    }
                    break;
                }
            }
        }
        drop(waits);
        self.live.clear();
        // Target order, as before.
        let order: Vec<String> = aborts.into_iter().map(|(p, _)| p).collect();
        succeeded.sort_by_key(|p| order.iter().position(|o| o == p));
        (succeeded, failed, all_applied)
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

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

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
}

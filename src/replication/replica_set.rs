//! The replica set of one fan-out ([`super::fanout`]): one streaming upload task per replica fed by a
//! bounded channel, the per-piece broadcast with its stall timeout, and abort-on-drop.

use std::{io, time::Duration};

use bytes::Bytes;
use futures::{future::join_all, Stream};
use tokio::{sync::mpsc, task::JoinHandle, time::timeout};
use tokio_util::sync::CancellationToken;

use super::fanout::{FanOutStrategy, FanOutTarget, ReplicaFailure};
use crate::peer_client::{PeerClient, PeerError, PeerPutDataResponse};

type UploadHandle = JoinHandle<Result<PeerPutDataResponse, PeerError>>;

pub(super) struct Replica {
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
pub(super) struct ReplicaSet {
    pub(super) live: Vec<Replica>,
    pub(super) failed: Vec<ReplicaFailure>,
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
                let handle = tokio::spawn(async move {
                    client
                        .upload_chunked_versioned(&peer, &task_id, expected, body, version)
                        .await
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
    pub(super) async fn broadcast(&mut self, piece: Bytes, idle: Duration) {
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

    pub(super) fn abort_all(&mut self) {
        for r in &mut self.live {
            r.abort(self.grace);
        }
        self.live.clear();
    }

    /// End every body cleanly and collect the answers.
    pub(super) async fn finish(mut self) -> (Vec<String>, Vec<ReplicaFailure>) {
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

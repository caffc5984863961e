//! Relay of one peer body to the client: at most `size` bytes, pieces of at most `Chunk-Size`, tee into the
//! cache, and the abort rule (`router-api.md` §3.7, #21 step 4, §7).
//!
//! The client body is the receiving side of a [`BodySender`]; the producer that calls [`relay_peer_body`]
//! ends it cleanly by dropping the sender only after the whole object went through. Any upstream failure
//! after the first byte is turned into an `Err` item by the caller ([`abort_client`]), which makes the
//! server abort the connection: a truncated object is never disguised as a complete 200.

use std::io;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::resume::Upstream;
use crate::cache::{BallCache, FillTicket};
use crate::telemetry::Metrics;
use mictlanx_proto::model::Metadata;

/// Sending half of a streamed client response body.
pub type BodySender = mpsc::Sender<Result<Bytes, io::Error>>;

/// A cache fill in progress for one object (inserted before the last piece is forwarded).
pub struct CacheFill {
    pub cache: BallCache,
    pub ticket: FillTicket,
    pub metadata: Metadata,
    pub content_type: String,
    pub peer_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The peer body failed or ended early; `sent` bytes already went to the client.
    #[error("peer body failed after {sent} of {size} bytes: {cause}")]
    Upstream { sent: u64, size: u64, cause: String },
    /// The client went away.
    #[error("client disconnected")]
    ClientGone,
}

impl RelayError {
    /// Bytes of this object already forwarded (0 = the read may still fail over).
    pub fn sent(&self) -> u64 {
        match self {
            RelayError::Upstream { sent, .. } => *sent,
            RelayError::ClientGone => 0,
        }
    }
}

/// `mictlanx_router_bytes_out_total{handler}`: bytes forwarded to clients by one handler.
#[derive(Clone)]
pub struct BytesOut {
    handler: &'static str,
    counter: metrics::Counter,
}

impl BytesOut {
    pub fn new(metrics: &Metrics, handler: &'static str) -> Self {
        BytesOut {
            handler,
            counter: metrics
                .counter_with("mictlanx_router_bytes_out_total", &[("handler", handler)]),
        }
    }

    pub fn add(&self, len: u64) {
        self.counter.increment(len);
    }
}

/// Make the client response end with an error (connection abort).
pub async fn abort_client(tx: &BodySender, cause: String) {
    let _ = tx.send(Err(io::Error::other(cause))).await;
}

/// Forward exactly `size` bytes of `upstream` into `tx`, splitting pieces larger than `piece_size` (0 = no
/// cap) and teeing into `fill`. Extra upstream bytes are dropped (logged); a holder that fails or stalls is
/// continued from another one ([`Upstream`]). Returns the bytes forwarded.
#[tracing::instrument(skip_all, fields(size = size, handler = out.handler))]
pub async fn relay_peer_body(
    mut upstream: Upstream,
    size: u64,
    piece_size: usize,
    mut fill: Option<CacheFill>,
    tx: &BodySender,
    out: &BytesOut,
) -> Result<u64, RelayError> {
    let mut sent: u64 = 0;
    if size == 0 {
        if let Some(f) = fill.take() {
            f.cache
                .finish_fill(f.ticket, f.metadata, f.content_type, f.peer_id);
        }
        return Ok(0);
    }
    while sent < size {
        let mut frame = upstream
            .next()
            .await
            .map_err(|cause| RelayError::Upstream { sent, size, cause })?;
        while !frame.is_empty() {
            let take = if piece_size == 0 {
                frame.len()
            } else {
                frame.len().min(piece_size)
            };
            let piece = frame.split_to(take);
            let len = piece.len() as u64;
            if let Some(f) = fill.as_mut() {
                f.ticket.push(&piece);
            }
            if sent + len == size {
                // Insert before the last piece goes out: a client that read the whole body sees the entry.
                if let Some(f) = fill.take() {
                    f.cache
                        .finish_fill(f.ticket, f.metadata, f.content_type, f.peer_id);
                }
            }
            tx.send(Ok(piece))
                .await
                .map_err(|_| RelayError::ClientGone)?;
            sent += len;
            out.add(len);
        }
    }
    Ok(sent)
}

/// Forward bytes already in memory (a cache hit) in pieces of at most `piece_size`.
pub async fn relay_bytes(
    mut bytes: Bytes,
    piece_size: usize,
    tx: &BodySender,
    out: &BytesOut,
) -> Result<u64, RelayError> {
    let mut sent = 0;
    while !bytes.is_empty() {
        let take = if piece_size == 0 {
            bytes.len()
        } else {
            bytes.len().min(piece_size)
        };
        let piece = bytes.split_to(take);
        let len = piece.len() as u64;
        tx.send(Ok(piece))
            .await
            .map_err(|_| RelayError::ClientGone)?;
        sent += len;
        out.add(len);
    }
    Ok(sent)
}

/// What [`relay_stream`] carries between polls.
struct StreamState {
    upstream: Upstream,
    size: u64,
    sent: u64,
    piece_size: usize,
    fill: Option<CacheFill>,
    pending: Bytes,
    done: bool,
    out: BytesOut,
}

/// [`relay_peer_body`] for one read as the client body stream itself (no task, no channel): the same size
/// cap, piece cap, cache tee (inserted before the last piece), mid-stream continuation and abort rule — a
/// failure no holder could continue yields an `Err`, which makes the server abort the connection.
pub fn relay_stream(
    upstream: Upstream,
    size: u64,
    piece_size: usize,
    fill: Option<CacheFill>,
    out: BytesOut,
) -> impl futures::Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    let state = StreamState {
        upstream,
        size,
        sent: 0,
        piece_size,
        fill,
        pending: Bytes::new(),
        done: false,
        out,
    };
    futures::stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        while st.pending.is_empty() {
            if st.sent >= st.size {
                // Only a zero-size object gets here with a fill still pending.
                if let Some(f) = st.fill.take() {
                    f.cache
                        .finish_fill(f.ticket, f.metadata, f.content_type, f.peer_id);
                }
                return None;
            }
            let cause = match st.upstream.next().await {
                Ok(frame) => {
                    st.pending = frame;
                    continue;
                }
                Err(cause) => cause,
            };
            st.done = true;
            let e = RelayError::Upstream {
                sent: st.sent,
                size: st.size,
                cause,
            };
            tracing::warn!(error = %e, "get data aborted after the headers");
            return Some((Err(io::Error::other(e.to_string())), st));
        }
        let take = if st.piece_size == 0 {
            st.pending.len()
        } else {
            st.pending.len().min(st.piece_size)
        };
        let piece = st.pending.split_to(take);
        let len = piece.len() as u64;
        if let Some(f) = st.fill.as_mut() {
            f.ticket.push(&piece);
        }
        if st.sent + len == st.size {
            // Insert before the last piece goes out: a client that read the whole body sees the entry.
            if let Some(f) = st.fill.take() {
                f.cache
                    .finish_fill(f.ticket, f.metadata, f.content_type, f.peer_id);
            }
        }
        st.sent += len;
        st.out.add(len);
        Some((Ok(piece), st))
    })
}

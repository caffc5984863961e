//! Ranged failover mid-stream: the peer body of a read as a source of frames that carries on from another
//! holder when its holder fails or stalls after the response started.
//!
//! # Algorithm "continue at the offset"
//! * [`Upstream::next`] yields the body's frames, tracking the object offset of the next byte. A body
//!   that sends nothing for the stall timeout (`MICTLANX_ROUTER_READ_STALL_TIMEOUT`) is stalled; one that
//!   errors or ends early has failed.
//! * Then the live holders of the object (best first, not the one that stopped) are asked in turn for
//!   `Range: bytes={offset}-{end}`, each within the stall timeout; the first 206 with exactly that range of
//!   an object of the same size **and the same `Object-Version`** replaces the body, so the bytes stay one
//!   copy of one version (a cache fill fed by them stays correct). `read_failovers_total{stage="mid_stream"}`
//!   counts each switch; a stalled holder is reported as a timeout to error limiting.
//! * When no holder can continue, a failed read ends with `Err` (the caller aborts the client response,
//!   never ending a truncated body cleanly) and a stalled one keeps waiting on its holder (bounded by the
//!   idle timeout), asking the other holders again after every further stall timeout: a holder that was
//!   too slow to answer the first time (a loaded machine) can still take over.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;

use super::tail_metrics;
use crate::cluster::{PeerInfo, ReplicaManager};
use crate::peer_client::{abandoned_after, CopyInfo, PeerClient};
use mictlanx_http::range::ByteRange;

/// Where and how a read may continue elsewhere.
#[derive(Clone)]
pub struct Resume {
    pub rm: Arc<dyn ReplicaManager>,
    pub client: PeerClient,
    pub bucket: String,
    pub key: String,
    /// The object's size (a continuation must be a part of an object this large).
    pub size: u64,
    /// `MICTLANX_ROUTER_READ_STALL_TIMEOUT`; `None` = failures only, no stall detection.
    pub stall: Option<Duration>,
}

/// The body of one read from `start` to `end` (exclusive), continued elsewhere when it breaks.
pub struct Upstream {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    peer: PeerInfo,
    /// The copy's `Object-Version` (0 = the peer did not say; then any version continues).
    version: u64,
    offset: u64,
    end: u64,
    resume: Option<Resume>,
    /// A stall found no other holder: keep waiting for this one, retrying the others at every stall
    /// timeout (the stall is reported and logged once).
    patient: bool,
}

impl Upstream {
    /// `resp` holds the object's bytes `start..end` and came from `peer`; `resume: None` = no failover
    /// (a read pinned to one peer).
    pub fn new(
        resp: reqwest::Response,
        peer: PeerInfo,
        start: u64,
        end: u64,
        resume: Option<Resume>,
    ) -> Self {
        let version = CopyInfo::from_headers(resp.headers()).version;
        Upstream {
            body: resp.bytes_stream().boxed(),
            peer,
            version,
            offset: start,
            end,
            resume,
            patient: false,
        }
    }

    /// The holder the bytes come from now.
    pub fn peer_id(&self) -> &str {
        &self.peer.peer_id
    }

    /// The next frame (never past `end`; extra upstream bytes are dropped and logged). `Err` = the body
    /// failed and no holder could continue it. Call only while bytes are still expected.
    pub async fn next(&mut self) -> Result<Bytes, String> {
        loop {
            let stall = self.resume.as_ref().and_then(|r| r.stall);
            let polled = match stall {
                Some(d) => tokio::time::timeout(d, self.body.next()).await.ok(),
                None => Some(self.body.next().await),
            };
            let (cause, stalled) = match polled {
                Some(Some(Ok(mut frame))) => {
                    if frame.is_empty() {
                        continue;
                    }
                    self.patient = false;
                    let room = usize::try_from(self.end - self.offset).unwrap_or(usize::MAX);
                    if frame.len() > room {
                        tracing::warn!(
                            extra = frame.len() - room,
                            end = self.end,
                            "peer sent more bytes than the metadata size"
                        );
                        frame.truncate(room);
                    }
                    self.offset += frame.len() as u64;
                    return Ok(frame);
                }
                Some(Some(Err(e))) => (e.to_string(), false),
                Some(None) => ("peer body ended early".to_string(), false),
                None => (
                    format!("no bytes for {:?}", stall.unwrap_or_default()),
                    true,
                ),
            };
            if !(self.patient && stalled) {
                tracing::warn!(peer_id = %self.peer.peer_id, offset = self.offset, %cause, "read stopped mid-stream");
                if stalled {
                    if let Some(r) = &self.resume {
                        r.client.report_stalled(&self.peer).await;
                    }
                }
            }
            if self.continue_elsewhere().await {
                continue;
            }
            if stalled {
                self.patient = true;
                continue;
            }
            return Err(format!(
                "{cause} at byte {} from {}; no other holder could continue",
                self.offset, self.peer.peer_id
            ));
        }
    }

    /// Switch to the first live holder that serves the rest of the same copy.
    async fn continue_elsewhere(&mut self) -> bool {
        let Some(r) = self.resume.clone() else {
            return false;
        };
        let holders = match r.rm.choose_read_replica(&r.bucket, &r.key).await {
            Ok(plan) => plan.peers,
            Err(e) => {
                tracing::warn!(error = %e, "no holders to continue a read from");
                return false;
            }
        };
        let want = ByteRange {
            start: self.offset,
            end: self.end - 1,
        };
        for peer in holders
            .into_iter()
            .filter(|p| p.peer_id != self.peer.peer_id)
        {
            let call = r
                .client
                .get_data_part(&peer, &r.bucket, &r.key, want, r.size);
            let answer = match r.stall {
                Some(d) => match tokio::time::timeout(d, abandoned_after(d, call)).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        tracing::warn!(peer_id = %peer.peer_id, "continuation stalled too");
                        continue;
                    }
                },
                None => call.await,
            };
            let resp = match answer {
                Ok(resp) => resp,
                Err(e) => {
                    tracing::warn!(peer_id = %peer.peer_id, error = %e, "could not continue the read here");
                    continue;
                }
            };
            let version = CopyInfo::from_headers(resp.headers()).version;
            if self.version != 0 && version != self.version {
                tracing::warn!(peer_id = %peer.peer_id, version, want = self.version, "another version: not continued here");
                continue;
            }
            tracing::info!(from = %self.peer.peer_id, to = %peer.peer_id, offset = self.offset, "read continued on another holder");
            tail_metrics::failover(r.client.metrics(), tail_metrics::MID_STREAM);
            self.body = resp.bytes_stream().boxed();
            self.peer = peer;
            self.patient = false;
            return true;
        }
        false
    }
}

//! The scrubber (`MICTLANX_PEER_SCRUB_INTERVAL`, `MICTLANX_PEER_SCRUB_BANDWIDTH`): once per interval it
//! re-reads every object that has digests, verifying its blocks, at most at the configured bandwidth, and
//! quarantines the copies that do not match. One block at a time on a blocking thread (never a whole
//! object in memory); pacing sleeps are async, so stopping the peer stops the scrubber at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use super::state::PeerState;
use super::store::read::{steps, ObjectRead, ReadError};
use super::store::Entry;

/// Start the scrubber; `None` when the interval is zero (off).
pub fn spawn(state: Arc<PeerState>) -> Option<JoinHandle<()>> {
    let every = state.config.scrub_interval;
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            let started = Instant::now();
            let (ok, bad) = pass(&state).await;
            tracing::debug!(ok, quarantined = bad, took = ?started.elapsed(), "scrub pass done");
        }
    }))
}

/// Keeps the average read rate of a pass at or below `rate` bytes per second.
struct Pace {
    start: Instant,
    bytes: u64,
    rate: u64,
}

impl Pace {
    async fn admit(&mut self, n: u64) {
        self.bytes += n;
        let due = self.start + Duration::from_secs_f64(self.bytes as f64 / self.rate.max(1) as f64);
        tokio::time::sleep_until(due.into()).await;
    }
}

/// One pass over the objects present when it starts: `(verified, quarantined)`.
async fn pass(state: &Arc<PeerState>) -> (u64, u64) {
    let todo: Vec<(String, String)> = state
        .store
        .index()
        .entries()
        .filter(|e| e.digest.is_some())
        .map(|e| (e.meta.bucket_id.clone(), e.meta.key.clone()))
        .collect();
    let mut pace = Pace {
        start: Instant::now(),
        bytes: 0,
        rate: state.config.scrub_bandwidth,
    };
    let (mut ok, mut bad) = (0, 0);
    for (b, k) in todo {
        // deleted or overwritten since the snapshot: check what is there now
        let Some(entry) = state.store.get(&b, &k).filter(|e| e.digest.is_some()) else {
            continue;
        };
        match verify(state, &entry, &mut pace).await {
            Ok(true) => {
                ok += 1;
                state.metrics.scrub_ok.increment(1);
            }
            Ok(false) => {}
            Err(reason) => {
                match state
                    .store
                    .quarantine(&b, &k, &entry.data_file, reason)
                    .await
                {
                    Ok(true) => {
                        bad += 1;
                        state.metrics.scrub_quarantined.increment(1);
                    }
                    Ok(false) => {} // overwritten meanwhile: the new copy is not the bad one
                    Err(e) => {
                        tracing::error!(bucket = %b, key = %k, error = %e, "quarantine failed")
                    }
                }
            }
        }
    }
    (ok, bad)
}

/// Verify every block of `entry`: `Ok(true)` when all match, `Ok(false)` when it could not be read (an
/// i/o error, logged), `Err(reason)` when the copy is bad: a block does not match, or its files are gone
/// (quarantining then acts only if the entry is still current, i.e. no overwrite or delete explains it).
async fn verify(state: &PeerState, entry: &Entry, pace: &mut Pace) -> Result<bool, String> {
    let path = state.store.data_path(entry);
    let opened = {
        let entry = entry.clone();
        tokio::task::spawn_blocking(move || ObjectRead::open(&path, &entry)).await
    };
    let read = match opened {
        Ok(Ok(read)) => Arc::new(read),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!("files missing: {e} (scrub)"))
        }
        Ok(Err(e)) => {
            tracing::warn!(bucket = %entry.meta.bucket_id, key = %entry.meta.key, error = %e, "scrub cannot open object");
            return Ok(false);
        }
        Err(_) => return Ok(false),
    };
    for step in steps(entry.meta.size, entry.digest, 0, entry.meta.size) {
        pace.admit(step.len as u64).await;
        state.metrics.scrub_bytes.increment(step.len as u64);
        let r = read.clone();
        match tokio::task::spawn_blocking(move || r.read_step(&step)).await {
            Ok(Ok(_)) => {}
            Ok(Err(ReadError::Corrupt { block, .. })) => {
                state.metrics.mismatch_scrub.increment(1);
                return Err(format!("block {block} does not match its digest (scrub)"));
            }
            Ok(Err(ReadError::Io(e))) => {
                tracing::warn!(bucket = %entry.meta.bucket_id, key = %entry.meta.key, error = %e, "scrub read failed");
                return Ok(false);
            }
            Err(_) => return Ok(false),
        }
    }
    Ok(true)
}

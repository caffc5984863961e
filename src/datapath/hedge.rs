//! Hedged reads ("The Tail at Scale", Dean & Barroso): when the holder asked first has not answered
//! within the hedge delay, the same request also goes to the next live holder; the first good answer wins
//! and the other request is cancelled (the loop is [`super::read::read_hedged`]).
//!
//! # The delay
//! Per kind of request ([`ReadKind`]) a sliding window keeps the latency of the last [`WINDOW`] answers
//! (an answer is any attempt that did not fail: found, not found, disabled). The delay is the window's
//! p95, within a floor (`MICTLANX_ROUTER_HEDGE_DELAY_MIN`) and a ceiling
//! (`MICTLANX_ROUTER_HEDGE_DELAY_MAX`); until [`MIN_SAMPLES`] answers were seen it is the ceiling. So
//! about one read in twenty is hedged when every peer is healthy, and a stalled peer costs the delay (tens
//! of milliseconds), not the idle timeout. Only answers are sampled: hedge losers and failures are not, so
//! a stalled peer never drags the delay up to the ceiling. The p95 is recomputed every
//! [`REFRESH_EVERY`] samples (a sort of at most 256 numbers), never on the request path.
//!
//! # Suspects
//! A holder that did not answer within the hedge delay becomes a suspect for [`SUSPECT_FOR`] (or until
//! it answers): reads try it after the other holders, so a stalled peer costs one hedge delay per
//! [`SUSPECT_FOR`] instead of one per read until the health loop marks it unavailable. It stays a
//! candidate (a hedge target, a last resort): a slow holder is better than none. Abandoned hedge losers
//! are not reported as timeouts to error limiting, whose cool-down (30 s) would take a peer that only
//! paused out of rotation, and with a few such pauses every holder of an object.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::Counter;

use super::tail_metrics::{HEDGES, HEDGES_WON};
use crate::config::TailConfig;
use crate::telemetry::Metrics;

/// Answers kept per kind.
pub const WINDOW: usize = 256;
/// Answers needed before the p95 replaces the ceiling.
pub const MIN_SAMPLES: usize = 20;
/// The p95 is recomputed after this many new samples.
pub const REFRESH_EVERY: u32 = 16;
/// How long a holder that missed the hedge delay is tried after the others.
pub const SUSPECT_FOR: Duration = Duration::from_secs(2);

/// What kind of read a latency belongs to (the `kind` label of the hedge metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// GET bytes: the data answer's headers (with the metadata when it is asked together).
    Get,
    /// The data GET of one chunk of a merge.
    Merge,
    /// Metadata GETs: object metadata and the chunk lookups of a merge.
    Metadata,
    /// Per-replica size answers (sampled; a size is per replica, so it is never hedged).
    Size,
}

impl ReadKind {
    /// The kinds that send hedge requests (the `kind` values of the hedge metrics).
    pub const HEDGED: [ReadKind; 3] = [ReadKind::Get, ReadKind::Merge, ReadKind::Metadata];

    pub fn label(self) -> &'static str {
        match self {
            ReadKind::Get => "get",
            ReadKind::Merge => "merge",
            ReadKind::Metadata => "metadata",
            ReadKind::Size => "size",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// No p95 yet.
const UNKNOWN: u64 = u64::MAX;

#[derive(Default)]
struct Window {
    samples: Mutex<VecDeque<u64>>,
    /// The last p95 in microseconds, or [`UNKNOWN`].
    p95_us: AtomicU64,
    fresh: AtomicU32,
}

impl Window {
    fn new() -> Self {
        Window {
            p95_us: AtomicU64::new(UNKNOWN),
            ..Default::default()
        }
    }

    fn record(&self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let refresh = self.fresh.fetch_add(1, Ordering::Relaxed) + 1 >= REFRESH_EVERY;
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if samples.len() == WINDOW {
            samples.pop_front();
        }
        samples.push_back(us);
        if samples.len() < MIN_SAMPLES {
            return;
        }
        if refresh || self.p95_us.load(Ordering::Relaxed) == UNKNOWN {
            self.fresh.store(0, Ordering::Relaxed);
            let mut sorted: Vec<u64> = samples.iter().copied().collect();
            drop(samples);
            sorted.sort_unstable();
            let rank = (sorted.len() * 95).div_ceil(100).max(1) - 1;
            self.p95_us.store(sorted[rank], Ordering::Relaxed);
        }
    }
}

/// The hedge delays of one router (shared by every request).
pub struct Hedger {
    floor: Duration,
    ceiling: Duration,
    windows: [Window; 4],
    /// Peer id → suspected until.
    suspects: Mutex<HashMap<String, Instant>>,
    /// `HEDGES` and `HEDGES_WON` in [`ReadKind::HEDGED`] order (by [`ReadKind::index`]).
    sent: [Counter; 3],
    won: [Counter; 3],
}

impl std::fmt::Debug for Hedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hedger")
            .field("floor", &self.floor)
            .field("ceiling", &self.ceiling)
            .finish()
    }
}

impl Hedger {
    /// Registers the hedge series of every hedged kind on `metrics`, at zero.
    pub fn new(cfg: &TailConfig, metrics: &Metrics) -> Self {
        let register = |name: &'static str| {
            ReadKind::HEDGED.map(|kind| {
                let c = metrics.counter_with(name, &[("kind", kind.label())]);
                c.increment(0);
                c
            })
        };
        Hedger {
            floor: cfg.hedge_delay_min.min(cfg.hedge_delay_max),
            ceiling: cfg.hedge_delay_max,
            windows: [Window::new(), Window::new(), Window::new(), Window::new()],
            suspects: Mutex::new(HashMap::new()),
            sent: register(HEDGES),
            won: register(HEDGES_WON),
        }
    }

    /// `peer_id` missed the hedge delay: try it after the others for [`SUSPECT_FOR`].
    pub fn suspect(&self, peer_id: &str) {
        let mut suspects = self.suspects.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        suspects.retain(|_, until| *until > now);
        suspects.insert(peer_id.to_string(), now + SUSPECT_FOR);
    }

    /// `peer_id` answered: no longer a suspect.
    pub fn answered(&self, peer_id: &str) {
        let mut suspects = self.suspects.lock().unwrap_or_else(|e| e.into_inner());
        if !suspects.is_empty() {
            suspects.remove(peer_id);
        }
    }

    /// Whether reads try `peer_id` after the other holders now.
    pub fn is_suspect(&self, peer_id: &str) -> bool {
        let suspects = self.suspects.lock().unwrap_or_else(|e| e.into_inner());
        suspects
            .get(peer_id)
            .is_some_and(|until| *until > Instant::now())
    }

    /// How long to wait for an answer before hedging a read of `kind`; `None` = hedging is off.
    pub fn delay(&self, kind: ReadKind) -> Option<Duration> {
        if self.ceiling.is_zero() {
            return None;
        }
        let p95 = self.windows[kind.index()].p95_us.load(Ordering::Relaxed);
        if p95 == UNKNOWN {
            return Some(self.ceiling);
        }
        Some(Duration::from_micros(p95).clamp(self.floor, self.ceiling))
    }

    /// One answer of `kind` took `latency`.
    pub fn record(&self, kind: ReadKind, latency: Duration) {
        self.windows[kind.index()].record(latency);
    }

    /// A hedge request was sent.
    pub fn sent(&self, kind: ReadKind) {
        if let Some(c) = self.sent.get(kind.index()) {
            c.increment(1);
        }
    }

    /// A hedge request gave the answer that was used.
    pub fn won(&self, kind: ReadKind) {
        if let Some(c) = self.won.get(kind.index()) {
            c.increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hedger(min_ms: u64, max_ms: u64) -> Hedger {
        let mut cfg = crate::config::Config::for_tests(std::env::temp_dir()).tail;
        cfg.hedge_delay_min = Duration::from_millis(min_ms);
        cfg.hedge_delay_max = Duration::from_millis(max_ms);
        Hedger::new(&cfg, &Metrics::new())
    }

    #[test]
    fn the_ceiling_until_enough_answers_then_the_p95_within_the_bounds() {
        let h = hedger(2, 500);
        assert_eq!(h.delay(ReadKind::Get), Some(Duration::from_millis(500)));
        for _ in 0..MIN_SAMPLES - 1 {
            h.record(ReadKind::Get, Duration::from_millis(10));
        }
        assert_eq!(h.delay(ReadKind::Get), Some(Duration::from_millis(500)));
        h.record(ReadKind::Get, Duration::from_millis(10));
        assert_eq!(h.delay(ReadKind::Get), Some(Duration::from_millis(10)));
        assert_eq!(
            h.delay(ReadKind::Metadata),
            Some(Duration::from_millis(500)),
            "each kind has its own window"
        );
        // 100 answers: 94 fast, 6 slow → the p95 is a slow one
        let h = hedger(2, 500);
        for i in 0..100 {
            let ms = if i % 17 == 0 { 40 } else { 3 };
            h.record(ReadKind::Get, Duration::from_millis(ms));
        }
        assert_eq!(h.delay(ReadKind::Get), Some(Duration::from_millis(40)));
    }

    #[test]
    fn suspects_go_last_until_they_answer() {
        let h = hedger(2, 500);
        assert!(!h.is_suspect("a"));
        h.suspect("a");
        h.suspect("b");
        assert!(h.is_suspect("a") && h.is_suspect("b"));
        h.answered("a");
        assert!(!h.is_suspect("a") && h.is_suspect("b"));
    }

    #[test]
    fn floor_ceiling_window_and_off() {
        let h = hedger(20, 100);
        for _ in 0..WINDOW {
            h.record(ReadKind::Merge, Duration::from_micros(300));
        }
        assert_eq!(h.delay(ReadKind::Merge), Some(Duration::from_millis(20)));
        for _ in 0..WINDOW {
            h.record(ReadKind::Merge, Duration::from_secs(3));
        }
        assert_eq!(
            h.delay(ReadKind::Merge),
            Some(Duration::from_millis(100)),
            "old answers leave the window; the ceiling caps"
        );
        let off = hedger(0, 0);
        off.record(ReadKind::Get, Duration::from_millis(1));
        assert_eq!(off.delay(ReadKind::Get), None);
    }
}

//! The metrics of bounded tail latency, registered at start-up so a dashboard sees every series before
//! its first event. Labels are low-cardinality: the kind of read, the failover stage.

use crate::telemetry::Metrics;

/// `mictlanx_router_hedges_total{kind}`: hedge requests sent.
pub const HEDGES: &str = "mictlanx_router_hedges_total";
/// `mictlanx_router_hedges_won_total{kind}`: hedge requests whose answer was used.
pub const HEDGES_WON: &str = "mictlanx_router_hedges_won_total";
/// `mictlanx_router_read_failovers_total{stage}`: reads that moved to another holder after a failure,
/// before the first byte (`before_first_byte`) or while streaming (`mid_stream`).
pub const READ_FAILOVERS: &str = "mictlanx_router_read_failovers_total";
/// `mictlanx_router_straggler_drops_total`: replicas dropped from an upload for making no progress.
pub const STRAGGLER_DROPS: &str = "mictlanx_router_straggler_drops_total";

pub const BEFORE_FIRST_BYTE: &str = "before_first_byte";
pub const MID_STREAM: &str = "mid_stream";

/// Registers every series at zero on `metrics` (once, at start-up; the hedge series are registered by the
/// `Hedger`).
pub fn register(metrics: &Metrics) {
    for stage in [BEFORE_FIRST_BYTE, MID_STREAM] {
        metrics
            .counter_with(READ_FAILOVERS, &[("stage", stage)])
            .increment(0);
    }
    metrics.counter(STRAGGLER_DROPS).increment(0);
}

/// A read moved to another holder at `stage`.
pub fn failover(metrics: &Metrics, stage: &'static str) {
    metrics
        .counter_with(READ_FAILOVERS, &[("stage", stage)])
        .increment(1);
}

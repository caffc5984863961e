//! The printed summary of a random run: operations by type and outcome, faults injected, violations,
//! p50/p99/max latency per operation type, repairs done.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::checker::Violation;
use super::history::{Fault, Op, Outcome};
use super::store::Backend;

/// Everything a run produced.
pub struct Report {
    pub seed: u64,
    pub backend: Backend,
    pub ops: Vec<Op>,
    pub faults: Vec<Fault>,
    pub violations: Vec<Violation>,
    /// Repairs done and copies deleted, summed over the routers' repair status.
    pub repairs: u64,
    pub deletes_applied: u64,
    pub elapsed: Duration,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Report {
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "seed {} on {}: {} operations, {} faults, {} violations in {:.1} s",
            self.seed,
            self.backend.name(),
            self.ops.len(),
            self.faults.len(),
            self.violations.len(),
            self.elapsed.as_secs_f64()
        );
        let mut by_kind: BTreeMap<&str, (usize, usize, usize, Vec<Duration>)> = BTreeMap::new();
        for op in &self.ops {
            let e = by_kind.entry(op.kind.label()).or_default();
            match op.outcome {
                Outcome::Ok => e.0 += 1,
                Outcome::Failed => e.1 += 1,
                Outcome::Indeterminate => e.2 += 1,
            }
            e.3.push(op.took());
        }
        let _ = writeln!(
            s,
            "{:<9} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9}",
            "op", "ok", "failed", "indet.", "p50 ms", "p99 ms", "max ms"
        );
        for (kind, (ok, failed, indet, mut lat)) in by_kind {
            lat.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            let _ = writeln!(
                s,
                "{:<9} {:>7} {:>7} {:>7} {:>9.1} {:>9.1} {:>9.1}",
                kind,
                ok,
                failed,
                indet,
                ms(percentile(&lat, 0.5)),
                ms(percentile(&lat, 0.99)),
                ms(*lat.last().unwrap_or(&Duration::ZERO))
            );
        }
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for f in &self.faults {
            let kind = f.what.split(" for ").next().unwrap_or(&f.what);
            let kind: String = kind
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            *kinds.entry(kind).or_default() += 1;
        }
        let _ = writeln!(s, "faults: {kinds:?}");
        // The faults whose heal did not go as planned (a failover or a rejoin that did not happen).
        for f in self.faults.iter().filter(|f| f.what.contains("NOT")) {
            let _ = writeln!(
                s,
                "  [{:.1}s..{:.1}s] {}",
                f.started.as_secs_f64(),
                f.healed.as_secs_f64(),
                f.what
            );
        }
        let _ = writeln!(
            s,
            "repairs done: {}, stale or deleted copies removed: {}",
            self.repairs, self.deletes_applied
        );
        let _ = writeln!(s, "violations: {}", self.violations.len());
        s
    }

    /// The seed, the faults and each violation with the slice of history that shows it.
    pub fn failure(&self) -> String {
        let mut s = format!("random run failed; reproduce with seed {}\n", self.seed);
        for f in &self.faults {
            let _ = writeln!(
                s,
                "  fault [{:.3}s..{:.3}s] {}",
                f.started.as_secs_f64(),
                f.healed.as_secs_f64(),
                f.what
            );
        }
        for v in self.violations.iter().take(10) {
            let _ = write!(s, "{v}");
        }
        s.push_str(&self.summary());
        s
    }
}

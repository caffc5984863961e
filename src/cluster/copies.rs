//! Which copies of an object record count, as this router sees its peers: good (live, or down for less
//! than the repair delay), dead, on a draining peer, and the live sources to copy from; and how many copies
//! the record should have. Shared by the repair loop and the drains.

use std::time::{Duration, Instant};

use super::record::ObjectRecord;
use super::state::{lock, PeerTable};
use crate::peer::PeerInfo;

/// The copies of one record as this router sees them.
pub(super) struct Copies {
    /// Live, or unavailable for less than the repair delay: they count.
    pub good: Vec<String>,
    /// Unavailable for longer than the delay, or no longer registered: repaired around, then dropped.
    pub dead: Vec<String>,
    /// Holders being drained: they serve reads but do not count.
    pub draining: Vec<String>,
    /// Live holders to copy from, non-draining first.
    pub sources: Vec<PeerInfo>,
}

/// `delay`: how long a holder may be unavailable before its copy stops counting (`MICTLANX_ROUTER_REPAIR_DELAY`).
pub(super) fn classify(
    table: &PeerTable,
    delay: Duration,
    rec: &ObjectRecord,
    now: Instant,
) -> Copies {
    let peers = lock(&table.peers);
    let draining = lock(&table.draining);
    let mut c = Copies {
        good: Vec::new(),
        dead: Vec::new(),
        draining: Vec::new(),
        sources: Vec::new(),
    };
    let mut drained_sources = Vec::new();
    for h in rec.holders.keys() {
        let Some(e) = peers.get(h) else {
            c.dead.push(h.clone());
            continue;
        };
        let live = e.liveness.is_live();
        if draining.contains(h) {
            c.draining.push(h.clone());
            if live {
                drained_sources.push(e.info.clone());
            }
        } else if live {
            c.good.push(h.clone());
            c.sources.push(e.info.clone());
        } else if e.liveness.down_for(now) >= delay {
            c.dead.push(h.clone());
        } else {
            c.good.push(h.clone());
        }
    }
    c.sources.extend(drained_sources);
    c
}

/// How many copies the record should have: its rf; for an object of unknown rf on a draining peer, as
/// many as it has now (a drain never lowers redundancy).
pub(super) fn desired(rec: &ObjectRecord, c: &Copies) -> usize {
    if rec.rf > 0 {
        rec.rf as usize
    } else if !c.draining.is_empty() {
        c.good.len() + c.draining.len()
    } else {
        0
    }
}

//! What the leader remembers of each peer between inventory passes (`docs/replica-manager.md` §7.2): the
//! digest of every shard it last reconciled completely, and how many passes the peer had. Kept in memory:
//! a new leader or a restarted router starts with none (its first pass reconciles every shard), and so
//! does a peer whose registration changed or a state store whose epoch changed (it lost its data).

use std::collections::HashMap;

use mictlanx_proto::shard::SHARDS;

use super::types::PeerInfo;

/// One peer's memory.
struct Known {
    /// The registration and the state store's epoch the digests were taken under.
    info: PeerInfo,
    epoch: Option<String>,
    /// Passes of this peer that used the digests, this one included.
    passes: u64,
    /// The peer's digest of each shard when it was last reconciled without error; `None` = unknown.
    shards: Vec<Option<u64>>,
    /// Bumped when the memory is reset: a shard reconciled under an older generation is not recorded.
    generation: u64,
}

/// Every peer's memory, by peer id.
#[derive(Default)]
pub(super) struct Digests {
    peers: HashMap<String, Known>,
    generation: u64,
}

/// What one pass of a peer does: the shards to reconcile (with the digest the peer reported for each) and
/// whether the pass is full because of the every-K rule.
pub(super) struct Plan {
    pub scan: Vec<(u16, u64)>,
    pub forced_full: bool,
    pub generation: u64,
}

impl Digests {
    /// Plan a pass of `peer` whose current digests are `now` (one per shard). Every `full_every`-th pass
    /// of a peer (`0` or `1` = every pass) reconciles every shard whatever the digests.
    pub fn plan(
        &mut self,
        peer: &PeerInfo,
        epoch: Option<String>,
        now: &[u64],
        full_every: u32,
    ) -> Plan {
        self.generation += 1;
        let generation = self.generation;
        let known = self
            .peers
            .entry(peer.peer_id.clone())
            .or_insert_with(|| Known {
                info: peer.clone(),
                epoch: epoch.clone(),
                passes: 0,
                shards: vec![None; usize::from(SHARDS)],
                generation,
            });
        if known.info != *peer || known.epoch != epoch {
            known.info = peer.clone();
            known.epoch = epoch;
            known.passes = 0;
            known.shards = vec![None; usize::from(SHARDS)];
        }
        known.generation = generation;
        known.passes += 1;
        let forced_full = full_every <= 1 || known.passes.is_multiple_of(u64::from(full_every));
        let scan = now
            .iter()
            .enumerate()
            .filter(|(s, d)| forced_full || known.shards[*s] != Some(**d))
            .map(|(s, d)| (s as u16, *d))
            .collect();
        Plan {
            scan,
            forced_full,
            generation,
        }
    }

    /// Shard `shard` of `peer_id` was reconciled completely against the peer's digest `digest`, under the
    /// plan of `generation`: a later reset (or a newer plan) makes it a no-op.
    pub fn reconciled(&mut self, peer_id: &str, generation: u64, shard: u16, digest: u64) {
        if let Some(k) = self.peers.get_mut(peer_id) {
            if k.generation == generation {
                k.shards[usize::from(shard)] = Some(digest);
            }
        }
    }

    /// Forget `peer_id` (removed or re-registered).
    pub fn forget(&mut self, peer_id: &str) {
        self.peers.remove(peer_id);
    }

    /// Forget every peer (leadership changed).
    pub fn clear(&mut self) {
        self.peers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> PeerInfo {
        PeerInfo {
            peer_id: "p".into(),
            ip_addr: "h".into(),
            port,
            protocol: "http".into(),
            api_version: 4,
        }
    }

    #[test]
    fn unchanged_shards_are_skipped_until_the_kth_pass() {
        let mut d = Digests::default();
        let mut now = vec![0u64; usize::from(SHARDS)];
        now[5] = 7;
        let p = d.plan(&peer(1), None, &now, 3);
        assert_eq!((p.scan.len(), p.forced_full), (usize::from(SHARDS), false));
        for (s, dg) in &p.scan {
            d.reconciled("p", p.generation, *s, *dg);
        }
        now[9] = 1;
        let p2 = d.plan(&peer(1), None, &now, 3);
        assert_eq!(p2.scan, [(9, 1)]);
        // not recorded: shard 9 stays unknown
        let p3 = d.plan(&peer(1), None, &now, 3);
        assert!(p3.forced_full, "the third pass is full");
        assert_eq!(p3.scan.len(), usize::from(SHARDS));
        // a stale generation records nothing
        d.reconciled("p", p2.generation, 9, 1);
        let p4 = d.plan(&peer(1), None, &now, 3);
        assert_eq!(p4.scan, [(9, 1)]);
    }

    #[test]
    fn a_new_registration_or_epoch_forgets_the_digests() {
        let mut d = Digests::default();
        let now = vec![0u64; usize::from(SHARDS)];
        let p = d.plan(&peer(1), Some("e1".into()), &now, 0);
        assert!(p.forced_full, "0 = always full");
        let p = d.plan(&peer(1), Some("e1".into()), &now, 12);
        for (s, dg) in &p.scan {
            d.reconciled("p", p.generation, *s, *dg);
        }
        assert!(d
            .plan(&peer(1), Some("e1".into()), &now, 12)
            .scan
            .is_empty());
        assert_eq!(
            d.plan(&peer(2), Some("e1".into()), &now, 12).scan.len(),
            1024
        );
        assert_eq!(
            d.plan(&peer(2), Some("e2".into()), &now, 12).scan.len(),
            1024
        );
        d.clear();
        assert_eq!(
            d.plan(&peer(2), Some("e2".into()), &now, 12).scan.len(),
            1024
        );
    }
}

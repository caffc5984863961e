//! Placement (`docs/replica-manager.md` §5), a pure function of the live peers' figures, the key's holders,
//! `size` and `rf`. The manager supplies the snapshot and turns the plan into a reserved `Placement`.

use std::cmp::Ordering;

use super::types::{PeerInfo, PlacementError};

/// One live peer (state `Available` with cached disk figures) as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub peer: PeerInfo,
    pub total_disk: u64,
    pub used_disk: u64,
    /// Bytes reserved by live placements on this peer.
    pub reserved: u64,
}

/// The chosen peers: live holders by `peer_id`, then new peers in choice order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub write_set: Vec<PeerInfo>,
    pub new_peers: Vec<String>,
}

impl Candidate {
    fn has_room(&self, size: u64) -> bool {
        self.total_disk > 0
            && self
                .total_disk
                .saturating_sub(self.used_disk)
                .saturating_sub(self.reserved)
                >= size
    }

    /// Utilisation after the write, `(used + reserved + size) / total`, compared exactly in 128-bit integers.
    fn fuller_than(&self, other: &Candidate, size: u64) -> Ordering {
        let a = (self.used_disk as u128 + self.reserved as u128 + size as u128)
            * other.total_disk as u128;
        let b = (other.used_disk as u128 + other.reserved as u128 + size as u128)
            * self.total_disk as u128;
        a.cmp(&b)
    }
}

/// Steps 1–4 of §5. `live` must hold each peer once; `holders` are the recorded holders in any state;
/// `spare` says whether a registered peer that is not a holder exists, whatever its state.
///
/// Rule 1 (`AllHold`, the client's code 666) depends on the registry, never on the health of a peer that
/// holds nothing: it applies when no peer is live, or when every registered peer already holds the key.
/// When a registered non-holder exists but is down, an overwrite still goes to the live holders, exactly
/// as it would with that peer up.
pub fn plan(
    live: &[Candidate],
    holders: &[String],
    spare: bool,
    size: u64,
    rf: u32,
) -> Result<Plan, PlacementError> {
    let is_holder = |id: &str| holders.iter().any(|h| h == id);
    if live.is_empty() || (!spare && live.iter().all(|c| is_holder(&c.peer.peer_id))) {
        let mut holders = holders.to_vec();
        holders.sort();
        holders.dedup();
        return Err(PlacementError::AllHold { holders });
    }
    let mut live_holders: Vec<&Candidate> =
        live.iter().filter(|c| is_holder(&c.peer.peer_id)).collect();
    live_holders.sort_by(|a, b| a.peer.peer_id.cmp(&b.peer.peer_id));
    let mut write_set: Vec<PeerInfo> = live_holders.iter().map(|c| c.peer.clone()).collect();

    let need = (rf as usize).saturating_sub(write_set.len());
    let mut new_peers = Vec::new();
    if need > 0 {
        let mut candidates: Vec<&Candidate> = live
            .iter()
            .filter(|c| !is_holder(&c.peer.peer_id) && c.has_room(size))
            .collect();
        candidates.sort_by(|a, b| {
            a.fuller_than(b, size)
                .then_with(|| a.peer.peer_id.cmp(&b.peer.peer_id))
        });
        for c in candidates.into_iter().take(need) {
            new_peers.push(c.peer.peer_id.clone());
            write_set.push(c.peer.clone());
        }
    }
    if write_set.is_empty() {
        return Err(PlacementError::NoCapacity { size });
    }
    Ok(Plan {
        write_set,
        new_peers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peer(id: &str) -> PeerInfo {
        PeerInfo {
            peer_id: id.into(),
            ip_addr: "h".into(),
            port: 1,
            protocol: "http".into(),
            api_version: 4,
        }
    }

    fn cand(id: &str, used: u64) -> Candidate {
        Candidate {
            peer: peer(id),
            total_disk: 100,
            used_disk: used,
            reserved: 0,
        }
    }

    /// A(used 50), B(20), C(20); D is unavailable, so it is not in `live`.
    fn abc() -> Vec<Candidate> {
        vec![cand("A", 50), cand("B", 20), cand("C", 20)]
    }

    /// The plan when every registered peer is live (no spare beyond the live peers).
    fn plan(
        live: &[Candidate],
        holders: &[String],
        size: u64,
        rf: u32,
    ) -> Result<Plan, PlacementError> {
        let spare = live.iter().any(|c| !holders.contains(&c.peer.peer_id));
        super::plan(live, holders, spare, size, rf)
    }

    #[test]
    fn an_overwrite_does_not_depend_on_a_down_peer_that_holds_nothing() {
        // A, B, C hold the key; D (not live) holds nothing. With D up or down, the write set is the same.
        let holders = s(&["A", "B", "C"]);
        let down = super::plan(&abc(), &holders, true, 10, 3).unwrap();
        assert_eq!(ids(&down), ["A", "B", "C"]);
        assert!(down.new_peers.is_empty());
        let mut all = abc();
        all.push(cand("D", 0));
        assert_eq!(ids(&plan(&all, &holders, 10, 3).unwrap()), ["A", "B", "C"]);
        // Every registered peer holds the key: code 666, whether or not a holder is down.
        assert!(matches!(
            super::plan(&abc()[..2], &holders, false, 10, 3),
            Err(PlacementError::AllHold { .. })
        ));
    }

    fn ids(p: &Plan) -> Vec<&str> {
        p.write_set.iter().map(|p| p.peer_id.as_str()).collect()
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn spec_examples() {
        assert_eq!(ids(&plan(&abc(), &[], 10, 2).unwrap()), ["B", "C"]);
        assert_eq!(ids(&plan(&abc(), &s(&["A"]), 10, 1).unwrap()), ["A"]);
        assert_eq!(ids(&plan(&abc(), &s(&["A"]), 10, 2).unwrap()), ["A", "B"]);
        assert_eq!(
            plan(&abc(), &s(&["C", "A", "B"]), 10, 2),
            Err(PlacementError::AllHold {
                holders: s(&["A", "B", "C"])
            })
        );
        let p = plan(&abc(), &[], 10, 5).unwrap();
        assert_eq!(ids(&p), ["B", "C", "A"]);
        assert_eq!(p.new_peers, s(&["B", "C", "A"]));
        let full = vec![cand("A", 95), cand("B", 95), cand("C", 95)];
        assert_eq!(
            plan(&full, &[], 10, 2),
            Err(PlacementError::NoCapacity { size: 10 })
        );
    }

    #[test]
    fn no_live_peer_is_all_hold_with_sorted_holders() {
        assert_eq!(
            plan(&[], &s(&["z", "a"]), 1, 1),
            Err(PlacementError::AllHold {
                holders: s(&["a", "z"])
            })
        );
    }

    #[test]
    fn holders_are_kept_whatever_their_space_and_reservations_count() {
        let mut live = abc();
        live[0].used_disk = 100;
        assert_eq!(ids(&plan(&live, &s(&["A"]), 10, 1).unwrap()), ["A"]);
        live[1].reserved = 75; // B: 20 + 75 + 10 > 100 → no room
        assert_eq!(ids(&plan(&live, &s(&["A"]), 10, 3).unwrap()), ["A", "C"]);
    }

    #[test]
    fn compares_utilisation_not_free_bytes() {
        // big: (500+10)/1000 = 0.51; small: (20+10)/100 = 0.30 → small first although big has more free bytes.
        let live = vec![
            Candidate {
                peer: peer("big"),
                total_disk: 1000,
                used_disk: 500,
                reserved: 0,
            },
            Candidate {
                peer: peer("small"),
                total_disk: 100,
                used_disk: 20,
                reserved: 0,
            },
        ];
        assert_eq!(ids(&plan(&live, &[], 10, 1).unwrap()), ["small"]);
    }

    #[test]
    fn zero_total_never_chosen_and_huge_figures_do_not_overflow() {
        let live = vec![
            Candidate {
                peer: peer("zero"),
                total_disk: 0,
                used_disk: 0,
                reserved: 0,
            },
            Candidate {
                peer: peer("max"),
                total_disk: u64::MAX,
                used_disk: u64::MAX - 5,
                reserved: 0,
            },
            Candidate {
                peer: peer("max2"),
                total_disk: u64::MAX,
                used_disk: 1,
                reserved: u64::MAX,
            },
        ];
        assert_eq!(ids(&plan(&live, &[], 5, 3).unwrap()), ["max"]);
        assert_eq!(
            plan(&live, &[], 6, 3),
            Err(PlacementError::NoCapacity { size: 6 })
        );
    }

    fn arb_live() -> impl Strategy<Value = Vec<Candidate>> {
        proptest::collection::btree_map(0u8..12, (0u64..200, 0u64..200, 0u64..50), 0..10).prop_map(
            |m| {
                m.into_iter()
                    .map(|(i, (total, used, reserved))| Candidate {
                        peer: peer(&format!("p{i}")),
                        total_disk: total,
                        used_disk: used,
                        reserved,
                    })
                    .collect()
            },
        )
    }

    proptest! {
        #[test]
        fn placement_invariants(
            live in arb_live(),
            holder_idx in proptest::collection::vec(0u8..14, 0..6),
            size in 0u64..120,
            rf in 1u32..6,
            spare in proptest::bool::ANY,
        ) {
            let holders: Vec<String> = holder_idx.iter().map(|i| format!("p{i}")).collect();
            let first = super::plan(&live, &holders, spare, size, rf);
            // deterministic, also for a shuffled input order
            let mut reversed = live.clone();
            reversed.reverse();
            prop_assert_eq!(&first, &super::plan(&reversed, &holders, spare, size, rf));
            let live_holders: Vec<&Candidate> =
                live.iter().filter(|c| holders.contains(&c.peer.peer_id)).collect();
            let candidates = live
                .iter()
                .filter(|c| !holders.contains(&c.peer.peer_id) && c.has_room(size))
                .count();
            match first {
                Ok(p) => {
                    let mut seen = std::collections::HashSet::new();
                    for w in &p.write_set {
                        prop_assert!(seen.insert(w.peer_id.clone()), "duplicate {}", w.peer_id);
                    }
                    for h in &live_holders {
                        prop_assert!(p.write_set.contains(&h.peer));
                    }
                    for id in &p.new_peers {
                        let c = live.iter().find(|c| &c.peer.peer_id == id).unwrap();
                        prop_assert!(c.has_room(size));
                        prop_assert!(!holders.contains(id));
                    }
                    let want = (rf as usize).min(live_holders.len() + candidates);
                    prop_assert!(p.write_set.len() >= want);
                    prop_assert!(p.write_set.len() <= (rf as usize).max(live_holders.len()));
                }
                Err(PlacementError::AllHold { .. }) => {
                    prop_assert!(live.is_empty() || !spare);
                    prop_assert_eq!(live_holders.len(), live.len());
                }
                Err(PlacementError::NoCapacity { .. }) => {
                    prop_assert!(live_holders.is_empty());
                    prop_assert_eq!(candidates, 0);
                }
                Err(e) => prop_assert!(false, "unexpected {e}"),
            }
        }
    }
}

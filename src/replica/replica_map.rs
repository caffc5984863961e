//! The replica map (`replica-manager.md` §7.1): `bucket@key` → holder peers with the time each record was
//! made. In memory only; the peers are the source of truth and inventory passes rebuild it.

use std::collections::{BTreeMap, HashMap, HashSet};

/// Holder records keyed by the combined key `bucket@key`, plus a reverse index peer → keys so removing a
/// peer or running its inventory pass does not scan the whole map.
#[derive(Debug, Default)]
pub struct ReplicaMap {
    keys: HashMap<String, BTreeMap<String, u64>>,
    by_peer: HashMap<String, HashSet<String>>,
}

pub fn combined(bucket: &str, key: &str) -> String {
    format!("{bucket}@{key}")
}

impl ReplicaMap {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Recorded holders of one key, sorted by `peer_id`.
    pub fn holders(&self, combined: &str) -> Vec<String> {
        self.keys
            .get(combined)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Union `peers` into the key's holders, stamping `recorded_at = now`.
    pub fn add(&mut self, combined: &str, peers: &[String], now: u64) {
        if peers.is_empty() {
            return;
        }
        let entry = self.keys.entry(combined.to_string()).or_default();
        for p in peers {
            entry.insert(p.clone(), now);
            self.by_peer
                .entry(p.clone())
                .or_default()
                .insert(combined.to_string());
        }
    }

    /// Replace the key's holders; an empty list removes the key.
    pub fn set(&mut self, combined: &str, peers: &[String], now: u64) {
        self.delete(combined, None);
        self.add(combined, peers, now);
    }

    /// Drop the given holders (all when `None`); returns how many records went away.
    pub fn delete(&mut self, combined: &str, peers: Option<&[String]>) -> usize {
        let Some(entry) = self.keys.get_mut(combined) else {
            return 0;
        };
        let removed: Vec<String> = match peers {
            None => entry.keys().cloned().collect(),
            Some(ps) => ps
                .iter()
                .filter(|p| entry.contains_key(*p))
                .cloned()
                .collect(),
        };
        for p in &removed {
            entry.remove(p);
        }
        if entry.is_empty() {
            self.keys.remove(combined);
        }
        for p in &removed {
            self.unindex(p, combined);
        }
        removed.len()
    }

    /// Drop every record of a peer (peer removal).
    pub fn remove_peer(&mut self, peer_id: &str) -> usize {
        let Some(keys) = self.by_peer.remove(peer_id) else {
            return 0;
        };
        for k in &keys {
            if let Some(entry) = self.keys.get_mut(k) {
                entry.remove(peer_id);
                if entry.is_empty() {
                    self.keys.remove(k);
                }
            }
        }
        keys.len()
    }

    /// End of a complete inventory pass: drop the peer's records that were not `seen` and were recorded
    /// before `pass_start` (records made during the pass are kept).
    pub fn remove_unseen(
        &mut self,
        peer_id: &str,
        seen: &HashSet<String>,
        pass_start: u64,
    ) -> usize {
        let stale: Vec<String> = match self.by_peer.get(peer_id) {
            Some(keys) => keys
                .iter()
                .filter(|k| !seen.contains(*k))
                .filter(|k| {
                    self.keys
                        .get(*k)
                        .and_then(|m| m.get(peer_id))
                        .is_some_and(|t| *t < pass_start)
                })
                .cloned()
                .collect(),
            None => return 0,
        };
        for k in &stale {
            self.delete(k, Some(&[peer_id.to_string()]));
        }
        stale.len()
    }

    fn unindex(&mut self, peer_id: &str, combined: &str) {
        if let Some(set) = self.by_peer.get_mut(peer_id) {
            set.remove(combined);
            if set.is_empty() {
                self.by_peer.remove(peer_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn add_set_delete() {
        let mut m = ReplicaMap::default();
        m.add("b@k", &s(&["p2", "p1"]), 1);
        m.add("b@k", &s(&["p1", "p3"]), 2);
        assert_eq!(m.holders("b@k"), s(&["p1", "p2", "p3"]));
        m.set("b@k", &s(&["p3"]), 3);
        assert_eq!(m.holders("b@k"), s(&["p3"]));
        assert_eq!(m.delete("b@k", Some(&s(&["p1"]))), 0);
        assert_eq!(m.delete("b@k", None), 1);
        assert!(m.is_empty());
        m.set("b@k", &[], 4);
        assert!(m.is_empty());
    }

    #[test]
    fn remove_peer_uses_the_reverse_index() {
        let mut m = ReplicaMap::default();
        m.add("b@1", &s(&["a", "b"]), 1);
        m.add("b@2", &s(&["a"]), 1);
        assert_eq!(m.remove_peer("a"), 2);
        assert_eq!(m.holders("b@1"), s(&["b"]));
        assert_eq!(m.len(), 1);
        assert_eq!(m.remove_peer("a"), 0);
    }

    #[test]
    fn remove_unseen_keeps_seen_and_recent_records() {
        let mut m = ReplicaMap::default();
        m.add("b@old", &s(&["a"]), 5);
        m.add("b@seen", &s(&["a"]), 5);
        m.add("b@during", &s(&["a"]), 20);
        m.add("b@other", &s(&["z"]), 5);
        let seen: HashSet<String> = ["b@seen".to_string()].into();
        assert_eq!(m.remove_unseen("a", &seen, 10), 1);
        assert!(m.holders("b@old").is_empty());
        assert_eq!(m.holders("b@seen"), s(&["a"]));
        assert_eq!(m.holders("b@during"), s(&["a"]));
        assert_eq!(m.holders("b@other"), s(&["z"]));
    }
}
